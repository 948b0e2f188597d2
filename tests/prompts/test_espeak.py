"""The espeak-ng engine: voices that really speak the language, and Latin runs in Mandarin text."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from prompt_fixtures import WriteCatalog

from ivr_engine.prompts.build import PromptBuilder
from ivr_engine.prompts.catalog import PromptCatalog
from ivr_engine.prompts.tts.espeak import EspeakEngine, segments

MANDARIN = "cmn-latn-pinyin"
PROMPTS = PromptCatalog.load(Path(__file__).parents[2] / "prompts")


def phonemes(text: str, voice: str) -> str:
    done = subprocess.run(["espeak-ng", "-v", voice, "-q", "-x", "--stdin"], input=text, capture_output=True, text=True)
    return done.stdout


def test_languages_map_to_voices_that_exist() -> None:
    engine = EspeakEngine()
    assert (engine.voice("zh-CN"), engine.voice("en"), engine.voice("qaa")) == (MANDARIN, "en-us", None)


def test_mandarin_pieces_are_spoken_as_mandarin() -> None:
    """espeak-ng's plain `cmn` voice switches to English for 两, 百, 零, 万 ... ("liang three");
    its phonemes then carry an (en) language switch. The voice we use must never do that."""
    texts = filter(None, (PROMPTS.text(prompt_id, "zh-CN") for prompt_id in PROMPTS.ids()))
    mandarin = [segment for text in texts for segment, voice in segments(text, MANDARIN) if voice == MANDARIN]
    assert len(mandarin) > 100
    if "(en)" in phonemes("\n".join(mandarin), MANDARIN):  # one espeak-ng for all; then find the culprits
        assert [s for s in mandarin if "(en)" in phonemes(s, MANDARIN)] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HPV疫苗请按2。", [("HPV", "en-us"), ("疫苗请按2。", MANDARIN)]),
        ("For English, press 2.", [("For English, press 2.", "en-us")]),
        ("最后一位是X请按星号键", [("最后一位是", MANDARIN), ("X", "en-us"), ("请按星号键", MANDARIN)]),
        ("欢迎致电12320。", [("欢迎致电12320。", MANDARIN)]),
    ],
)
def test_latin_runs_in_mandarin_text_go_to_the_english_voice(text: str, expected: list[tuple[str, str]]) -> None:
    assert segments(text, MANDARIN) == expected


def test_english_text_is_one_segment() -> None:
    assert segments("Press 1 for HPV.", "en-us") == [("Press 1 for HPV.", "en-us")]


def test_mixed_text_builds_into_one_clip_with_both_parts(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    catalog = write_catalog({"mixed": {"zh-CN": "HPV疫苗请按2。"}, "plain": {"zh-CN": "疫苗请按2。"}})
    builder = PromptBuilder(tmp_path / "audio", [EspeakEngine()])
    report = builder.run(builder.plan(catalog))

    durations = {entry.prompt_id: entry.duration for entry in report.built}
    assert durations["mixed"] > durations["plain"] + 0.5  # "HPV" and its phrase pause
