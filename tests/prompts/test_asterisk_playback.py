"""The built audio through a real Asterisk 22: a SIP call, our FastAGI server, STREAM FILE by the
sound name `ivr/<language>/<prompt_id>`, and Asterisk's own count of the samples it played."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from prompt_fixtures import WriteCatalog

from ivr_engine.agi.commands import Playback
from ivr_engine.agi.server import AGISession, FastAGIServer
from ivr_engine.pbx import Pbx
from ivr_engine.prompts.audio import SAMPLE_RATE
from ivr_engine.prompts.build import PromptBuilder
from ivr_engine.prompts.catalog import sound_name
from ivr_engine.prompts.tts.espeak import EspeakEngine

pytestmark = pytest.mark.asterisk

PROMPTS = {
    "hotline.welcome": {"zh-CN": "欢迎致电公共卫生热线。", "en": "Welcome to the public health hotline."},
    "num.3": {"zh-CN": "三", "en": "three"},
}


async def test_asterisk_plays_each_prompt_for_its_measured_length(
    pbx: Pbx, use_agi: Callable[[str], None], tmp_path: Path, write_catalog: WriteCatalog
) -> None:
    out = tmp_path / "audio"
    builder = PromptBuilder(out, [EspeakEngine()])
    report = builder.run(builder.plan(write_catalog(PROMPTS)))
    assert len(report.built) == 4
    pbx.install_sounds(out)
    played: dict[str, Playback] = {}

    async def play_all(session: AGISession) -> None:
        await session.answer()
        for entry in report.built:
            sound = sound_name(entry.prompt_id, entry.language)
            played[sound] = await session.stream_file(sound)

    server = FastAGIServer(play_all, "127.0.0.1", 0)
    await server.start()
    try:
        use_agi(f"agi://127.0.0.1:{server.port}/prompts-test")
        seconds = sum(entry.duration for entry in report.built)
        result = await asyncio.to_thread(partial(pbx.place_call, "", hold_seconds=seconds + 10))
    finally:
        await server.stop()

    assert result.ok, result.errors
    for entry in report.built:
        playback = played[sound_name(entry.prompt_id, entry.language)]
        assert playback.key is None  # played out, not interrupted
        assert abs(playback.endpos / SAMPLE_RATE - entry.duration) < 0.05, (entry, playback)
