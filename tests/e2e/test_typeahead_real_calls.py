"""Typing ahead over a real line: a key the caller presses while the engine is slow to send its
next AGI command still arrives, because a menu's clips and the wait after them are one command."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

import pytest

from ivr_engine.agi.channel import AGIChannel
from ivr_engine.agi.server import AGISession, FastAGIServer
from ivr_engine.pbx.asterisk import Pbx
from ivr_engine.prompts.clip import Clip
from ivr_engine.runtime.channel import ALL_KEYS

pytestmark = pytest.mark.asterisk

# Asterisk's own second of silence, three times: three one-second "clips"
SECOND = Clip("silence", "en", "", "silence/1", 1.0, measured=True)
LAG = 0.8  # the engine sends every command this late, as on a loaded machine


async def key_heard(pbx: Pbx, use_agi: Callable[[str], None], escape: str, hold: float) -> str | None:
    """One call: ANSWER, then the three clips with `escape` and a 2 s wait, every command LAG
    late. The caller presses 5 once the first clip has ended and before the second would start
    if each clip were its own command. The caller hangs up after `hold` seconds."""
    heard: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    async def handler(session: AGISession) -> None:
        prompt_run = session.run

        async def late_run(command, timeout=None):  # type: ignore[no-untyped-def]
            await asyncio.sleep(LAG)
            return await prompt_run(command, timeout)

        session.run = late_run  # type: ignore[method-assign]
        await session.answer()
        heard.set_result(await AGIChannel(session).play([SECOND] * 3, escape, 2.0))

    server = FastAGIServer(handler, "127.0.0.1", 0)
    await server.start()
    try:
        use_agi(f"agi://127.0.0.1:{server.port}/default")
        # From SIPp's answer: ANSWER at about LAG, the first clip from 2 * LAG to 2 * LAG + 1 s;
        # as separate commands the second clip would start LAG later still.
        keys = [(2 * LAG + 1.0 + LAG / 2, "5")]
        call = partial(pbx.place_call, keys, hold_seconds=hold, from_user="5550601")
        result = await asyncio.to_thread(call)
        assert result.answered
        return await asyncio.wait_for(heard, 10.0)
    finally:
        await server.stop(grace=1.0)


async def test_a_key_pressed_between_two_clips_of_a_slow_engine_arrives(pbx: Pbx, use_agi: Callable[[str], None]) -> None:
    assert await key_heard(pbx, use_agi, ALL_KEYS, hold=5.0) == "5"


async def test_between_two_stream_file_commands_asterisk_drops_the_key(pbx: Pbx, use_agi: Callable[[str], None]) -> None:
    # Why menus play as one Read: with only some keys allowed (one STREAM FILE per clip, as for
    # a bookmark key during an announcement) the same key falls between two commands, and
    # Asterisk reads and frees it (res_agi.c, run_agi). The WAIT FOR DIGIT after them hears nothing.
    assert await key_heard(pbx, use_agi, "0123456789", hold=10.0) is None
