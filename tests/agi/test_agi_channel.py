"""The runtime's Channel over a FastAGI session, against a scripted Asterisk peer: which AGI
commands a flow step becomes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from agi_fixtures import header
from test_agi_server import BOUND, FakeAsterisk

from ivr_engine.agi.channel import AGIChannel
from ivr_engine.agi.server import AGISession, FastAGIServer
from ivr_engine.prompts.clip import Clip
from ivr_engine.runtime.channel import ALL_KEYS, CallerHangup, LineLost, QueueRequest

HEADER, OPTION_1, OPTION_2 = (
    Clip(prompt_id, "en", prompt_id, f"ivr/en/{prompt_id}", 2.0, measured=True)
    for prompt_id in ("main", "opt.main.1", "opt.main.2")
)
READ = b'EXEC "Read" "IVR_KEY,ivr/en/main&ivr/en/opt.main.1&ivr/en/opt.main.2,1,t,1,%s"\n'
RESULT = b'GET FULL VARIABLE "${READSTATUS}:${IVR_KEY}"\n'


@pytest.fixture
async def channel_call() -> AsyncIterator[Callable[..., Awaitable[tuple[FakeAsterisk, asyncio.Task[Any]]]]]:
    """call(step) -> (the Asterisk peer, a task with step(channel)'s result and the played hook's log)."""
    servers: list[FastAGIServer] = []

    async def call(step: Callable[[AGIChannel], Awaitable[object]]) -> tuple[FakeAsterisk, asyncio.Task[Any]]:
        result: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handler(session: AGISession) -> None:
            played: list[tuple[str, str | None]] = []
            channel = AGIChannel(session, on_played=lambda _, clip, key: played.append((clip.prompt_id, key)))
            try:
                result.set_result((await step(channel), played))
            except Exception as exc:
                result.set_exception(exc)

        server = FastAGIServer(handler, "127.0.0.1", 0, command_timeout=BOUND)
        await server.start()
        servers.append(server)
        peer = await FakeAsterisk.call(server.port, header())
        return peer, asyncio.ensure_future(result)

    yield call
    for server in servers:
        await server.stop(grace=1.0)


async def test_a_menu_plays_as_one_read_so_no_key_falls_between_two_commands(channel_call) -> None:  # type: ignore[no-untyped-def]
    peer, done = await channel_call(lambda ch: ch.play([HEADER, OPTION_1, OPTION_2], ALL_KEYS, 5.0))
    await peer.expect(READ % b"5.000", b"200 result=0\n")
    await peer.expect(RESULT, b"200 result=1 (OK:#)\n")
    key, played = await asyncio.wait_for(done, BOUND)
    assert key == "#"
    # Read does not say where the key came; placed by durations, it stopped the first clip
    assert played == [("main", "#")]


async def test_a_read_that_hears_no_key_reports_every_clip_played(channel_call) -> None:  # type: ignore[no-untyped-def]
    peer, done = await channel_call(lambda ch: ch.play([HEADER, OPTION_1, OPTION_2], ALL_KEYS))
    await peer.expect(READ % b"0.001", b"200 result=0\n")
    await peer.expect(RESULT, b"200 result=1 (TIMEOUT:)\n")
    key, played = await asyncio.wait_for(done, BOUND)
    assert key is None
    assert played == [("main", None), ("opt.main.1", None), ("opt.main.2", None)]


async def test_prompts_only_some_keys_may_stop_play_one_stream_file_each_then_wait(channel_call) -> None:  # type: ignore[no-untyped-def]
    peer, done = await channel_call(lambda ch: ch.play([HEADER, OPTION_1], "*", 3.0))
    await peer.expect(b'STREAM FILE "ivr/en/main" "*"\n', b"200 result=0 endpos=16000\n")
    await peer.expect(b'STREAM FILE "ivr/en/opt.main.1" "*"\n', b"200 result=0 endpos=16000\n")
    await peer.expect(b'WAIT FOR DIGIT "3000"\n', b"200 result=42\n")
    key, played = await asyncio.wait_for(done, BOUND)
    assert key == "*"
    assert played == [("main", None), ("opt.main.1", None)]


async def test_no_clips_with_a_wait_is_a_wait_for_digit(channel_call) -> None:  # type: ignore[no-untyped-def]
    peer, done = await channel_call(lambda ch: ch.play([], ALL_KEYS, 1.5))
    await peer.expect(b'WAIT FOR DIGIT "1500"\n', b"200 result=0\n")
    assert (await asyncio.wait_for(done, BOUND)) == (None, [])


async def test_a_caller_who_hangs_up_during_the_read_ends_the_call(channel_call) -> None:  # type: ignore[no-untyped-def]
    # Read returns normally after a hangup and GET FULL VARIABLE works on the dead channel (as
    # Asterisk 22 does), so READSTATUS tells
    peer, done = await channel_call(lambda ch: ch.play([HEADER, OPTION_1, OPTION_2], ALL_KEYS, 5.0))
    await peer.expect(READ % b"5.000", b"200 result=0\n")
    await peer.expect(RESULT, b"200 result=1 (HANGUP:)\n")
    with pytest.raises(CallerHangup):
        await asyncio.wait_for(done, BOUND)


async def told(operation: Awaitable[object]) -> str:
    """What the runtime learns from one channel operation."""
    try:
        await operation
    except LineLost:
        return "line lost"
    except CallerHangup:
        return "caller hung up"
    return "done"


async def hang_up_after(channel: AGIChannel, step: Callable[[AGIChannel], Awaitable[object]]) -> str:
    """Run `step`, then end the call as the engine does; what the runtime was told."""
    said = await told(step(channel))
    return await told(channel.hangup()) if said == "done" else said


def menu(ch: AGIChannel) -> Awaitable[object]:
    return ch.play([HEADER, OPTION_1, OPTION_2], ALL_KEYS, 5.0)


@pytest.mark.parametrize("cut", ["close", "reset"])
async def test_a_connection_gone_without_asterisks_hangup_is_a_lost_line_not_a_caller_who_left(
    channel_call, cut: str  # type: ignore[no-untyped-def]
) -> None:
    # Asterisk tells a FastAGI script that the caller left with HANGUP and keeps the connection
    # open, so a connection gone without it (the network, a restart) leaves a caller on the line
    peer, done = await channel_call(lambda ch: hang_up_after(ch, menu))
    await peer.expect(READ % b"5.000")
    if cut == "reset":
        peer.writer.transport.abort()
    else:
        peer.close()
    assert (await asyncio.wait_for(done, BOUND))[0] == "line lost"


async def test_a_connection_closed_after_asterisks_hangup_is_the_caller_who_left(channel_call) -> None:  # type: ignore[no-untyped-def]
    peer, done = await channel_call(lambda ch: hang_up_after(ch, menu))
    await peer.expect(READ % b"5.000")
    await peer.send(b"HANGUP\n")
    peer.close()  # as with AGIEXITONHANGUP
    assert (await asyncio.wait_for(done, BOUND))[0] == "caller hung up"


async def test_hanging_up_over_a_connection_gone_meanwhile_says_the_line_was_lost(channel_call) -> None:  # type: ignore[no-untyped-def]
    # the engine's final HANGUP: unsent, the dialplan's fallback takes a caller still there
    peer, done = await channel_call(lambda ch: hang_up_after(ch, lambda _: asyncio.sleep(0)))
    await peer.expect(b"HANGUP\n")
    peer.close()
    assert (await asyncio.wait_for(done, BOUND))[0] == "line lost"
    # and a HANGUP answered is a call ended
    peer, done = await channel_call(lambda ch: hang_up_after(ch, lambda _: asyncio.sleep(0)))
    await peer.expect(b"HANGUP\n", b"200 result=1\n")
    assert (await asyncio.wait_for(done, BOUND))[0] == "done"


async def test_a_link_lost_while_the_caller_is_in_a_queue_is_a_lost_line(channel_call) -> None:  # type: ignore[no-untyped-def]
    # EXEC Queue answers only when the queue call ends; the link going before is no caller leaving
    peer, done = await channel_call(lambda ch: told(ch.queue(QueueRequest("operator"))))
    await peer.expect(b'SET VARIABLE "QUEUE_PRIO" "0"\n', b"200 result=1\n")
    assert (await asyncio.wait_for(peer.reader.readline(), BOUND)).startswith(b'EXEC "Queue" "operator,')
    peer.close()
    assert (await asyncio.wait_for(done, BOUND))[0] == "line lost"
