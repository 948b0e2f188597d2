"""Building prompt audio offline with the real espeak-ng and sox, and the build cache."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from prompt_fixtures import WriteCatalog, soxi

from ivr_engine.prompts.audio import AudioSettings
from ivr_engine.prompts.build import TMP_DIR, BuildReport, PromptBuilder
from ivr_engine.prompts.catalog import PromptCatalog
from ivr_engine.prompts.manifest import Manifest
from ivr_engine.prompts.tts.espeak import EspeakEngine

PROMPTS = {
    "hotline.welcome": {"zh-CN": "欢迎致电公共卫生热线。", "en": "Welcome to the public health hotline."},
    "menu.vaccination": {"zh-CN": "疫苗接种请按1。", "en": "For vaccination, press 1."},
    "agent.transfer": {"en": "Please hold for an agent."},
}


def espeak_builder(out: Path, settings: AudioSettings | None = None) -> PromptBuilder:
    return PromptBuilder(out, [EspeakEngine()], settings, workers=2)


def build(out: Path, catalog: PromptCatalog) -> tuple[PromptBuilder, BuildReport]:
    builder = espeak_builder(out)
    return builder, builder.run(builder.plan(catalog))


def test_builds_every_language_of_every_prompt_as_8k_mono_audio(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    out = tmp_path / "audio"
    _, report = build(out, write_catalog(PROMPTS))

    assert not report.failed
    manifest = Manifest.load(out / "manifest.json")
    assert {(e.prompt_id, e.language) for e in manifest.entries()} == {
        ("hotline.welcome", "zh-CN"), ("hotline.welcome", "en"),
        ("menu.vaccination", "zh-CN"), ("menu.vaccination", "en"), ("agent.transfer", "en"),
    }  # fmt: skip
    for entry in manifest.entries():
        wav = out / entry.language / f"{entry.prompt_id}.wav"
        assert entry.files == tuple(f"{entry.language}/{entry.prompt_id}.{ext}" for ext in ("wav", "ulaw", "alaw"))
        assert soxi(wav, "-r") == "8000"
        assert soxi(wav, "-c") == "1"
        assert soxi(wav, "-b") == "16"
        # the plain 44-byte PCM header Asterisk's format_wav reads: fmt chunk of 16, tag 1 (PCM), no extensible
        header = wav.read_bytes()[:44]
        assert (header[12:16], struct.unpack("<IHHIIHH", header[16:36]), header[36:40]) == (
            b"fmt ", (16, 1, 1, 8000, 16000, 2, 16), b"data",
        )  # fmt: skip
        seconds = float(soxi(wav, "-D"))
        assert seconds > 0.5
        assert abs(seconds - entry.duration) < 0.05
        assert entry.duration == manifest.duration(entry.prompt_id, entry.language)
        # G.711 files hold one byte per sample: exactly as long as the master
        samples = int(soxi(wav, "-s"))
        for law in ("ulaw", "alaw"):
            assert (out / entry.language / f"{entry.prompt_id}.{law}").stat().st_size == samples
        assert entry.engine == "espeak-ng"
        assert entry.voice == {"en": "en-us", "zh-CN": "cmn-latn-pinyin"}[entry.language]
        assert entry.fallback_from is None
    assert not (out / TMP_DIR).exists()


def peak(wav: Path, start: float, length: float) -> float:
    stat = subprocess.run(
        ["sox", str(wav), "-n", "trim", str(start), str(length), "stat"], capture_output=True, text=True, check=True
    ).stderr
    return float(next(line for line in stat.splitlines() if line.startswith("Maximum amplitude")).split()[-1])


def test_leading_and_trailing_silence_is_trimmed_to_a_short_tail(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    out = tmp_path / "audio"
    build(out, write_catalog({"short": {"en": "Yes."}}))

    wav = out / "en" / "short.wav"
    seconds = float(soxi(wav, "-D"))
    tail = AudioSettings().tail_seconds
    # espeak-ng writes "Yes." as 0.83 s, 0.4 s of it silence; what is left is the word and the tail
    assert 0.2 < seconds < 0.8
    assert peak(wav, 0, 0.05) > 0.01  # speech starts at once
    assert peak(wav, seconds - tail + 0.01, tail - 0.02) < 0.01  # and ends in the silent tail


def test_second_build_does_nothing(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    out = tmp_path / "audio"
    catalog = write_catalog(PROMPTS)
    build(out, catalog)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.*")}

    builder = espeak_builder(out)
    plan = builder.plan(catalog)
    assert plan.empty
    assert plan.up_to_date == 5
    report = builder.run(plan)
    assert (report.built, report.removed, report.failed) == ([], [], [])
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.*")} == stamps


def test_changed_text_rebuilds_only_that_prompt(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    out = tmp_path / "audio"
    build(out, write_catalog(PROMPTS))
    before = Manifest.load(out / "manifest.json")

    edited = {**PROMPTS, "agent.transfer": {"en": "Please hold, an agent will be with you shortly."}}
    builder = espeak_builder(out)
    plan = builder.plan(write_catalog(edited))
    assert [(j.prompt_id, j.language) for j in plan.jobs] == [("agent.transfer", "en")]
    report = builder.run(plan)

    assert [(e.prompt_id, e.language) for e in report.built] == [("agent.transfer", "en")]
    after = Manifest.load(out / "manifest.json")
    assert after.get("agent.transfer", "en").text_hash != before.get("agent.transfer", "en").text_hash  # type: ignore[union-attr]
    assert after.duration("agent.transfer", "en") > before.duration("agent.transfer", "en")  # type: ignore[operator]
    assert after.get("hotline.welcome", "zh-CN") == before.get("hotline.welcome", "zh-CN")


def test_removed_prompt_and_language_lose_their_files(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    out = tmp_path / "audio"
    build(out, write_catalog(PROMPTS))

    trimmed = {"hotline.welcome": PROMPTS["hotline.welcome"], "menu.vaccination": {"en": "For vaccination, press 1."}}
    _, report = build(out, write_catalog(trimmed))

    assert sorted((e.prompt_id, e.language) for e in report.removed) == [
        ("agent.transfer", "en"), ("menu.vaccination", "zh-CN"),
    ]  # fmt: skip
    assert report.built == []
    assert sorted(p.name for p in (out / "en").iterdir()) == sorted(
        f"{prompt}.{ext}" for prompt in ("hotline.welcome", "menu.vaccination") for ext in ("wav", "ulaw", "alaw")
    )
    assert not list((out / "zh-CN").glob("menu.vaccination.*"))
    manifest = Manifest.load(out / "manifest.json")
    assert not manifest.has("agent.transfer", "en")
    assert manifest.has("menu.vaccination", "en")


def test_a_build_for_one_language_leaves_the_others_alone(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    out = tmp_path / "audio"
    catalog = write_catalog(PROMPTS)
    builder = espeak_builder(out)
    builder.run(builder.plan(catalog, {"en"}))
    assert sorted(e.language for e in Manifest.load(out).entries()) == ["en", "en", "en"]

    builder = espeak_builder(out)
    plan = builder.plan(write_catalog({"agent.transfer": {"en": "Please hold."}}), {"zh-CN"})
    assert plan.stale == [] and plan.jobs == []
    plan = builder.plan(catalog)
    assert sorted((j.prompt_id, j.language) for j in plan.jobs) == [
        ("hotline.welcome", "zh-CN"),
        ("menu.vaccination", "zh-CN"),
    ]


def test_deleted_audio_file_is_rebuilt(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    out = tmp_path / "audio"
    catalog = write_catalog(PROMPTS)
    build(out, catalog)
    (out / "en" / "agent.transfer.ulaw").unlink()

    plan = espeak_builder(out).plan(catalog)
    assert [(j.prompt_id, j.language) for j in plan.jobs] == [("agent.transfer", "en")]


def test_changed_formats_rebuild_and_drop_the_old_files(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    out = tmp_path / "audio"
    catalog = write_catalog({"agent.transfer": {"en": "Please hold."}})
    build(out, catalog)

    builder = espeak_builder(out, AudioSettings(formats=("wav", "sln")))
    report = builder.run(builder.plan(catalog))

    assert report.built[0].files == ("en/agent.transfer.wav", "en/agent.transfer.sln")
    assert sorted(p.name for p in (out / "en").iterdir()) == ["agent.transfer.sln", "agent.transfer.wav"]
    # raw signed linear: two bytes per sample
    assert (out / "en" / "agent.transfer.sln").stat().st_size == 2 * int(soxi(out / "en" / "agent.transfer.wav", "-s"))


def test_a_prompt_that_cannot_be_spoken_fails_alone_and_leaves_no_files(
    tmp_path: Path, write_catalog: WriteCatalog
) -> None:
    out = tmp_path / "audio"
    # qaa is a private-use language code: no engine has a voice for it
    catalog = write_catalog({"hotline.welcome": {"en": "Welcome.", "qaa": "Welcome."}})
    _, report = build(out, catalog)

    assert [(f.prompt_id, f.language) for f in report.failed] == [("hotline.welcome", "qaa")]
    assert "espeak-ng: no voice for qaa" in report.failed[0].reason
    assert "hotline.welcome (qaa)" in str(report.failed[0])
    assert [(e.prompt_id, e.language) for e in report.built] == [("hotline.welcome", "en")]
    assert not (out / "qaa").exists()
    assert not (out / TMP_DIR).exists()
    assert not Manifest.load(out).has("hotline.welcome", "qaa")


def test_settings_must_include_the_wav_master() -> None:
    with pytest.raises(ValueError, match="wav master"):
        AudioSettings(formats=("ulaw",))
    with pytest.raises(ValueError, match="unknown audio format 'mp3'"):
        AudioSettings(formats=("wav", "mp3"))


def test_silent_synthesis_is_a_failure_not_an_empty_clip(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    out = tmp_path / "audio"
    _, report = build(out, write_catalog({"pause": {"en": "...", "zh-CN": "。"}}))

    assert sorted(str(f) for f in report.failed) == [
        "pause (en): espeak-ng: the synthesized audio is silent",
        "pause (zh-CN): espeak-ng: the synthesized audio is silent",
    ]
    assert not Manifest.load(out).entries()
    assert not list(out.rglob("pause.*"))
