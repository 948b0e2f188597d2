"""Real calls through the real Asterisk: SIPp callers, a FastAGI peer, SIPp agents."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from fastagi_peer import AgiSession, Script, collect_keys, fastagi_server, keys_of

from ivr_engine.pbx import Agent, CallResult, CallSpec, Pbx, sipp

pytestmark = pytest.mark.asterisk


async def one_call(
    pbx: Pbx,
    use_agi: Callable[[str], None],
    script: Script,
    keys: list[tuple[float, str]],
    from_user: str,
) -> tuple[CallResult, AgiSession]:
    """One SIPp call whose AGI session runs `script`; the call's result and its only AGI session."""
    async with fastagi_server(script) as (url, sessions):
        use_agi(url)
        call = partial(pbx.place_call, keys, hold_seconds=10, from_user=from_user)
        result = await asyncio.to_thread(call)
    assert result.ok, result.errors
    [session] = sessions
    return result, session


async def test_caller_keys_reach_fastagi_including_star_and_pound(
    pbx: Pbx, use_agi: Callable[[str], None]
) -> None:
    keys = [(1.0, "2"), (0.4, "1"), (0.6, "3"), (0.3, "*"), (0.3, "#")]
    result, session = await one_call(
        pbx, use_agi, partial(collect_keys, count=5), keys, "5550101"
    )
    assert keys_of(session) == "213*#"
    assert session.header["agi_callerid"] == "5550101"
    assert session.header["agi_extension"] == "12320"
    # The peer hung up after the keys, as the engine ends a call it finished.
    assert result.hung_up_by == "pbx"


async def test_get_data_collects_a_repeated_key_and_star_until_pound(
    pbx: Pbx, use_agi: Callable[[str], None]
) -> None:
    async def get_data(session: AgiSession) -> None:
        await session.command("ANSWER")
        await session.command("GET DATA silence/1 10000 10")
        await session.command("HANGUP")  # as the engine ends a call: not a call left to the operators

    keys = [(1.0, "7"), (0.3, "7"), (0.3, "*"), (0.3, "0"), (0.3, "#")]
    _, session = await one_call(pbx, use_agi, get_data, keys, "5550102")
    # '#' ends GET DATA and is not part of the answer; the repeated 7 is two presses, not one.
    assert AgiSession.result(session.replies[1]) == "77*0"


async def test_a_caller_whose_media_port_was_taken_meanwhile_is_placed_again_on_others(
    pbx: Pbx, use_agi: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another program can bind a port between our check and SIPp's bind; SIPp then exits before
    # its INVITE. Here the first media ports handed to SIPp are held by this test.
    held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    held.bind(("127.0.0.1", 0))
    taken = held.getsockname()[1]
    real_free_udp_port = sipp.free_udp_port
    handed: list[int] = []

    def first_media_port_taken(span: int = 1) -> int:
        port = taken if span > 1 and not handed else real_free_udp_port(span)
        if span > 1:
            handed.append(port)
        return port

    monkeypatch.setattr(sipp, "free_udp_port", first_media_port_taken)
    try:
        result, session = await one_call(
            pbx, use_agi, partial(collect_keys, count=1), [(1.0, "4")], "5550103"
        )
    finally:
        held.close()
    assert keys_of(session) == "4"
    assert handed[0] == taken and len(handed) == 2


async def test_simultaneous_callers_keep_their_own_number_and_keys(
    pbx: Pbx, use_agi: Callable[[str], None]
) -> None:
    async with fastagi_server(partial(collect_keys, count=3)) as (url, sessions):
        use_agi(url)
        specs = [
            CallSpec(
                keys=[(1.0, a), (0.3, b), (0.3, c)], from_user=caller, hold_seconds=10
            )
            for caller, (a, b, c) in {
                "5550201": "123",
                "5550202": "#0*",
                "5550203": "999",
            }.items()
        ]
        results = await asyncio.to_thread(pbx.place_calls, specs)
    assert all(result.ok for result in results), [result.errors for result in results]
    assert {
        session.header["agi_callerid"]: keys_of(session) for session in sessions
    } == {
        "5550201": "123",
        "5550202": "#0*",
        "5550203": "999",
    }


def queue_events(pbx: Pbx, caller: str, last: str) -> set[tuple[str, str, str]]:
    """(queue, agent, event) of `caller`'s queue call, read once app_queue logged `last`: it
    writes that line as the bridge ends, which can be just after the caller's SIPp returned."""
    deadline = time.monotonic() + 10
    while True:
        entries = [row for row in pbx.queue_log() if len(row) > 4]
        call_ids = {
            row[1] for row in entries if row[4] == "ENTERQUEUE" and caller in row[5:]
        }
        assert len(call_ids) <= 1, f"{caller} entered a queue {len(call_ids)} times"
        events = {(row[2], row[3], row[4]) for row in entries if row[1] in call_ids}
        if any(event == last for _, _, event in events) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def test_caller_reaches_operator_queue_when_fastagi_is_down(
    pbx: Pbx,
    use_agi: Callable[[str], None],
    unreachable_agi_url: str,
    start_agent: Callable[..., Agent],
) -> None:
    use_agi(unreachable_agi_url)
    agent = start_agent("agent1")
    result = pbx.place_call("", hold_seconds=2, from_user="5550301")
    assert result.ok, result.errors
    assert result.hung_up_by == "caller"
    agent.wait(completed=1)
    assert (agent.answered, agent.completed, agent.hung_up) == (1, 1, 0)
    events = queue_events(pbx, "5550301", "COMPLETECALLER")
    assert ("operator", "agent1", "CONNECT") in events
    assert ("operator", "agent1", "COMPLETECALLER") in events
    assert "agent1" in pbx.cli("queue show operator")


async def test_caller_reaches_operator_queue_when_fastagi_closes_mid_call(
    pbx: Pbx, use_agi: Callable[[str], None], start_agent: Callable[..., Agent]
) -> None:
    # An engine that dies mid-call closes its FastAGI connection with the caller still on the
    # line, and Asterisk reports that as AGISTATUS SUCCESS, the same as a script that finished.
    agent = await asyncio.to_thread(start_agent, "agent1")
    script = partial(collect_keys, count=1, hang_up=False)
    result, session = await one_call(pbx, use_agi, script, [(1.0, "5")], "5550311")
    assert keys_of(session) == "5"
    assert result.hung_up_by == "caller"
    await asyncio.to_thread(agent.wait, completed=1)
    events = await asyncio.to_thread(queue_events, pbx, "5550311", "COMPLETECALLER")
    assert ("operator", "agent1", "CONNECT") in events


def test_agent_hangs_up_after_talk_time_and_the_pbx_hangs_up_the_waiting_caller(
    pbx: Pbx,
    use_agi: Callable[[str], None],
    unreachable_agi_url: str,
    start_agent: Callable[..., Agent],
) -> None:
    use_agi(unreachable_agi_url)
    agent = start_agent("agent1", talk_seconds=3.0)
    # hold_seconds=None: the caller never hangs up; only the PBX's BYE ends its call.
    result = pbx.place_call("", hold_seconds=None, from_user="5550302", timeout=60)
    assert result.ok, result.errors
    assert result.hung_up_by == "pbx"
    agent.wait(completed=1)
    assert (agent.answered, agent.completed, agent.hung_up) == (1, 1, 1)
    events = queue_events(pbx, "5550302", "COMPLETEAGENT")
    assert ("operator", "agent1", "CONNECT") in events
    assert ("operator", "agent1", "COMPLETEAGENT") in events
    assert ("operator", "agent1", "COMPLETECALLER") not in events


def test_stop_leaves_no_asterisk_or_sipp_behind(
    pbx: Pbx, start_agent: Callable[..., Agent]
) -> None:
    agent = start_agent("agent2")
    sipp_pid = agent.pid
    agent.stop()
    pbx.stop()
    try:
        assert pbx.running_pid() is None
        asterisks = subprocess.run(
            ["pgrep", "-x", "asterisk"], capture_output=True, text=True, check=False
        ).stdout.split()
        assert not [pid for pid in asterisks if _root_of(pid) == str(pbx.root_dir)]
        assert sipp_pid is not None and not _exists(sipp_pid)
    finally:
        pbx.start()
    assert "fully booted" in pbx.cli("core waitfullybooted").lower()


def _root_of(pid: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:
        return ""


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@pytest.fixture
def tone_prompts(tmp_path: Path) -> Path:
    """A prompts directory holding en/tone.wav: half a second of 440 Hz, 8 kHz mono."""
    prompts = tmp_path / "prompts"
    (prompts / "en").mkdir(parents=True)
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(prompts / "en" / "tone.wav"),
            "synth",
            "0.5",
            "sine",
            "440",
        ],
        check=True,
    )
    return prompts


async def test_sounds_installed_while_running_are_played_by_stream_file(
    pbx: Pbx, use_agi: Callable[[str], None], tone_prompts: Path
) -> None:
    pbx.install_sounds(tone_prompts)

    async def play(session: AgiSession) -> None:
        await session.command("ANSWER")
        await session.command('STREAM FILE ivr/en/tone ""')
        await session.command('STREAM FILE ivr/en/no-such-prompt ""')
        await session.command("HANGUP")

    _, session = await one_call(pbx, use_agi, play, [], "5550401")
    played, missing = session.replies[1:3]
    assert played.startswith("200 result=0 endpos=") and not played.endswith(
        "endpos=0"
    ), played
    assert missing == "200 result=-1 endpos=0"
