"""The prompt catalog: texts per language, their places, and clip durations."""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_fixtures import CASES, REPO

from ivr_engine.flow.diagnostics import FlowError
from ivr_engine.flow.model import SourceLocation
from ivr_engine.prompts.catalog import PromptCatalog, estimate_seconds
from ivr_engine.prompts.manifest import Manifest, ManifestEntry

PROMPTS = CASES.parent / "prompts"


def test_load_a_directory() -> None:
    catalog = PromptCatalog.load(PROMPTS)
    assert catalog.ids() == ["root", "opt.one", "info", "english.only"]
    assert catalog.text("root", "zh-CN") == "主菜单。"
    assert catalog.text("root", "fr") is None
    assert catalog.text("nothing", "en") is None
    assert catalog.languages("english.only") == {"en"}
    assert catalog.location("info") == SourceLocation(str(PROMPTS / "basic.yaml"), 4, 3)


def test_clip_estimated_without_audio() -> None:
    catalog = PromptCatalog.load(PROMPTS / "basic.yaml")
    clip = catalog.clip("opt.one", "en")
    assert (clip.prompt_id, clip.language, clip.text) == ("opt.one", "en", "For information, press 1.")
    assert clip.sound == "ivr/en/opt.one"
    assert clip.duration == estimate_seconds("For information, press 1.", "en")
    assert not clip.measured
    with pytest.raises(KeyError):
        catalog.clip("english.only", "zh-CN")


def test_clip_measured_from_the_audio_manifest() -> None:
    catalog = PromptCatalog.load(PROMPTS)
    manifest = Manifest([ManifestEntry("root", "en", ("en/root.wav",), 1.234, "espeak-ng", "en", "k", "h")])
    measured = catalog.clip("root", "en", manifest)
    assert (measured.duration, measured.measured) == (1.234, True)
    assert catalog.clip("root", "zh-CN", manifest).measured is False  # not built for Mandarin


@pytest.mark.parametrize(
    ("text", "language", "seconds"),
    [
        # 3 words at 2.6/s, one digit at 0.35 s, one comma, the closing pause
        ("For vaccination, press 2.", "en", round(3 / 2.6 + 0.35 + 0.2 + 0.5, 2)),
        # 6 Han characters at 4/s and the closing pause
        ("预防接种请按", "zh-CN", round(6 / 4 + 0.5, 2)),
        # "12320" is read digit by digit: 5 x 0.25 s in Mandarin
        ("欢迎致电12320。", "zh-CN", round(4 / 4 + 5 * 0.25 + 0.5, 2)),
    ],
)
def test_estimate_seconds(text: str, language: str, seconds: float) -> None:
    assert estimate_seconds(text, language) == seconds


def test_the_hotline_prompts_all_have_both_languages() -> None:
    catalog = PromptCatalog.load(REPO / "prompts" / "hotline-12320.yaml")
    assert len(catalog.ids()) > 150
    assert all(catalog.languages(p) == {"zh-CN", "en"} for p in catalog.ids())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prompts:\n  a: {en: x}\n  a: {en: y}\n", "3:3: error: duplicate key 'a' (first written at {file}:2:3)"),
        ("prompts:\n  a: {english: x}\n", "2:7: error: 'english' is not a language code like zh-CN or en"),
        ("prompts:\n  a: {en: ''}\n", "2:11: error: the en text must be non-empty text, got ''"),
        ("prompts:\n  a: text\n", "2:6: error: prompt 'a' must map languages to texts, got 'text'"),
        ("texts: {}\n", "1:1: error: a prompt file must hold a mapping 'prompts:' of prompt id -> language -> text"),
        (
            "prompts:\n  9a: {en: x}\n",
            "2:3: error: '9a' is not a prompt id (a letter or _, then letters, digits, _ . -)",
        ),
    ],
)
def test_bad_catalogs(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        PromptCatalog.load(path)
    assert [str(d) for d in caught.value.diagnostics] == [f"{path}:{message.format(file=path)}"]


def test_a_prompt_id_defined_in_two_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("prompts:\n  hello: {en: Hello}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("prompts:\n  bye: {en: Bye}\n  hello: {en: Hi}\n", encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        PromptCatalog.load(tmp_path)
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{tmp_path}/b.yaml:3:3: error: prompt 'hello' is already defined at {tmp_path}/a.yaml:2:3"
    ]
