"""The gTTS path without the internet: Google's network call is replaced by a function returning an
MP3 made on this machine (or failing); probing, decoding, converting and falling back to espeak-ng
are the real code, run through the real sox and espeak-ng."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_fixtures import WriteCatalog, local_mp3, soxi

from ivr_engine.prompts.build import PromptBuilder
from ivr_engine.prompts.manifest import Manifest
from ivr_engine.prompts.tts.espeak import EspeakEngine
from ivr_engine.prompts.tts.google import Fetch, GttsEngine

PROMPTS = {"hotline.welcome": {"zh-CN": "欢迎致电公共卫生热线。", "en": "Welcome to the public health hotline."}}


@pytest.fixture
def listening() -> Iterator[tuple[str, int]]:
    """A TCP port that accepts connections: stands in for translate.google.com:443 being reachable."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield "127.0.0.1", server.getsockname()[1]


@pytest.fixture
def closed() -> tuple[str, int]:
    """A TCP port nothing listens on: connections are refused, as Google's are with no internet."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port: int = server.getsockname()[1]
    return "127.0.0.1", port


class MadeHere:
    """Google's answer, an MP3 of the text, made locally; records what was asked."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, text: str, language: str, tld: str) -> bytes:
        self.calls.append((text, language, tld))
        return local_mp3(text, {"en": "en-us", "zh-CN": "cmn-latn-pinyin"}[language], self.workdir)


def refusing(message: str) -> Fetch:
    """Google answering with an error, the way requests and gTTS raise them."""

    def fetch(text: str, language: str, tld: str) -> bytes:
        raise ConnectionError(message)

    return fetch


def builder(out: Path, fetch: Fetch, address: tuple[str, int]) -> PromptBuilder:
    return PromptBuilder(out, [GttsEngine(fetch, probe_address=address), EspeakEngine()], workers=2)


def test_gtts_mp3_is_converted_to_8k_mono(
    tmp_path: Path, write_catalog: WriteCatalog, listening: tuple[str, int]
) -> None:
    out = tmp_path / "audio"
    fetch = MadeHere(tmp_path)
    b = builder(out, fetch, listening)
    report = b.run(b.plan(write_catalog(PROMPTS)))

    assert not report.failed
    assert sorted(fetch.calls) == [
        ("Welcome to the public health hotline.", "en", "com"), ("欢迎致电公共卫生热线。", "zh-CN", "com"),
    ]  # fmt: skip
    for entry in Manifest.load(out).entries():
        assert (entry.engine, entry.voice, entry.fallback_from) == ("gtts", entry.language, None)
        wav = out / entry.language / "hotline.welcome.wav"
        assert (soxi(wav, "-r"), soxi(wav, "-c"), soxi(wav, "-t")) == ("8000", "1", "wav")
        assert abs(float(soxi(wav, "-D")) - entry.duration) < 0.05
        assert entry.duration > 1.0


def test_gtts_failure_falls_back_to_espeak_and_the_manifest_says_so(
    tmp_path: Path, write_catalog: WriteCatalog, listening: tuple[str, int]
) -> None:
    out = tmp_path / "audio"
    b = builder(out, refusing("429 Too Many Requests"), listening)
    report = b.run(b.plan(write_catalog(PROMPTS)))

    assert not report.failed
    for entry in Manifest.load(out).entries():
        assert entry.engine == "espeak-ng"
        assert entry.fallback_from == "gtts"
        assert entry.fallback_reason == "gtts: gTTS failed: 429 Too Many Requests"
        assert soxi(out / entry.language / "hotline.welcome.wav", "-r") == "8000"


def test_undecodable_gtts_answer_falls_back_to_espeak(
    tmp_path: Path, write_catalog: WriteCatalog, listening: tuple[str, int]
) -> None:
    out = tmp_path / "audio"
    b = builder(out, lambda text, language, tld: b"<html>captcha</html>", listening)
    report = b.run(b.plan(write_catalog({"agent.transfer": {"en": "Please hold."}})))

    [entry] = report.built
    assert (entry.engine, entry.fallback_from) == ("espeak-ng", "gtts")
    assert entry.fallback_reason is not None and entry.fallback_reason.startswith("gtts: sox failed")


def test_unreachable_google_is_probed_once_and_every_prompt_falls_back(
    tmp_path: Path, write_catalog: WriteCatalog, closed: tuple[str, int]
) -> None:
    out = tmp_path / "audio"
    fetch = MadeHere(tmp_path)
    b = builder(out, fetch, closed)
    assert "is unreachable" in b.unavailable["gtts"]
    report = b.run(b.plan(write_catalog(PROMPTS)))

    assert fetch.calls == []
    assert len(report.built) == 2
    for entry in Manifest.load(out).entries():
        assert (entry.engine, entry.fallback_from) == ("espeak-ng", "gtts")
        assert entry.fallback_reason is not None and "is unreachable" in entry.fallback_reason


def test_gtts_only_build_fails_without_leaving_files(
    tmp_path: Path, write_catalog: WriteCatalog, listening: tuple[str, int]
) -> None:
    out = tmp_path / "audio"
    b = PromptBuilder(out, [GttsEngine(refusing("connection reset"), probe_address=listening)])
    report = b.run(b.plan(write_catalog({"agent.transfer": {"en": "Please hold."}})))

    assert [str(f) for f in report.failed] == ["agent.transfer (en): gtts: gTTS failed: connection reset"]
    assert [p.name for p in out.iterdir()] == []


def test_offline_build_keeps_gtts_recordings_and_online_build_replaces_espeak_ones(
    tmp_path: Path, write_catalog: WriteCatalog, listening: tuple[str, int], closed: tuple[str, int]
) -> None:
    out = tmp_path / "audio"
    online = write_catalog({"hotline.welcome": PROMPTS["hotline.welcome"]})
    b = builder(out, MadeHere(tmp_path), listening)
    b.run(b.plan(online))

    offline = builder(out, MadeHere(tmp_path), closed)
    assert offline.plan(online).empty  # espeak-ng must not replace the better recordings

    added = write_catalog({**PROMPTS, "agent.transfer": {"en": "Please hold."}})
    offline.run(offline.plan(added))
    assert Manifest.load(out).get("agent.transfer", "en").engine == "espeak-ng"  # type: ignore[union-attr]

    plan = builder(out, MadeHere(tmp_path), listening).plan(added)
    assert [(j.prompt_id, j.language) for j in plan.jobs] == [("agent.transfer", "en")]


def test_long_text_arrives_as_several_mp3s_and_is_decoded_whole(
    tmp_path: Path, write_catalog: WriteCatalog, listening: tuple[str, int]
) -> None:
    """gTTS splits texts over 100 characters and writes the MP3 of each part one after the other."""
    parts = ["For vaccination, press one.", "For outbreak reporting, press two."]
    mp3s = [local_mp3(part, "en-us", tmp_path) for part in parts]
    single = MadeHere(tmp_path)
    out = tmp_path / "audio"

    b = builder(out, lambda text, language, tld: b"".join(mp3s), listening)
    [joined] = b.run(b.plan(write_catalog({"menu.root": {"en": " ".join(parts)}}))).built
    b = builder(tmp_path / "single", single, listening)
    [first] = b.run(b.plan(write_catalog({"menu.root": {"en": parts[0]}}))).built

    assert joined.engine == "gtts"
    assert joined.duration > first.duration + 1.0


def test_gtts_voices_are_its_language_codes() -> None:
    engine = GttsEngine()
    assert (engine.voice("zh-CN"), engine.voice("en"), engine.voice("en-GB"), engine.voice("qaa")) == (
        "zh-CN", "en", "en", None,
    )  # fmt: skip
