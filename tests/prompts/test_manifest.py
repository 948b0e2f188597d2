"""The audio manifest: how durations reach the catalog, and what a broken manifest says."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from prompt_fixtures import WriteCatalog

from ivr_engine.prompts.catalog import estimate_seconds
from ivr_engine.prompts.manifest import Manifest, ManifestEntry, ManifestError

ENTRY = ManifestEntry(
    prompt_id="hotline.welcome", language="zh-CN", files=("zh-CN/hotline.welcome.wav",), duration=3.25,
    engine="espeak-ng", voice="cmn-latn-pinyin", key="k" * 64, text_hash="t" * 16,
)  # fmt: skip


def test_missing_manifest_is_empty(tmp_path: Path) -> None:
    manifest = Manifest.load(tmp_path / "manifest.json")
    assert manifest.entries() == []
    assert manifest.duration("hotline.welcome", "en") is None
    assert not manifest.has("hotline.welcome", "en")


def test_round_trip_through_the_file_or_its_directory(tmp_path: Path) -> None:
    fallback = replace(ENTRY, language="en", voice="en-us", fallback_from="gtts", fallback_reason="gtts: offline")
    Manifest([ENTRY, fallback]).save(tmp_path / "manifest.json")

    for path in (tmp_path / "manifest.json", tmp_path):
        loaded = Manifest.load(path)
        assert loaded.entries() == [fallback, ENTRY]  # by language, then prompt
        assert loaded.duration("hotline.welcome", "zh-CN") == 3.25
        assert loaded.has("hotline.welcome", "zh-CN")
        assert not loaded.has("hotline.welcome", "fr")
        assert loaded.get("hotline.welcome", "en").fallback_from == "gtts"  # type: ignore[union-attr]
    assert (tmp_path / "manifest.json").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_catalog_clips_take_the_measured_duration(tmp_path: Path, write_catalog: WriteCatalog) -> None:
    catalog = write_catalog({"hotline.welcome": {"zh-CN": "欢迎致电公共卫生热线。", "en": "Welcome."}})
    manifest = Manifest([ENTRY])

    measured = catalog.clip("hotline.welcome", "zh-CN", manifest)
    assert (measured.duration, measured.measured, measured.sound) == (3.25, True, "ivr/zh-CN/hotline.welcome")
    assert catalog.clip("hotline.welcome", "en", manifest).measured is False


def test_the_speech_rate_is_the_median_of_built_against_estimated_seconds(write_catalog: WriteCatalog) -> None:
    texts = {"a": "流感请按1。", "b": "结核病请按2。", "c": "更多选项。", "d": "乙肝请按3。"}
    catalog = write_catalog({i: {"zh-CN": t, "en": "Press one."} for i, t in texts.items()})
    built = {"a": 0.8, "b": 0.9, "c": 1.2}  # measured / estimated; "d" has no audio
    manifest = Manifest(
        [
            replace(ENTRY, prompt_id=i, duration=ratio * estimate_seconds(texts[i], "zh-CN"))
            for i, ratio in built.items()
        ]
    )
    assert catalog.speech_rate("zh-CN", manifest) == pytest.approx(0.9)
    assert catalog.speech_rate("en", manifest) == 1.0  # nothing built in English
    assert catalog.speech_rate("zh-CN", None) == 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"version": 1,\n "entries": [}', r"manifest.json:2:14: not JSON"),
        ('{"version": 99, "entries": []}', r"manifest.json:1:1: not a version 1 prompt audio manifest"),
        ('{"version": 1, "entries": [{"prompt_id": "x"}]}', r"manifest.json:1:1: malformed entry"),
    ],
)
def test_broken_manifest_names_the_file(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(ManifestError, match=message):
        Manifest.load(tmp_path)
