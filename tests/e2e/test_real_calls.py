"""Real SIP calls through Asterisk into the engine's FastAGI service, walking the hotline flow."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import structlog
from e2e_support import AUDIO, REPO, Engine

from ivr_engine.demo import informed_caller_plan
from ivr_engine.pbx.sipp import Agent
from ivr_engine.runtime.events import NodeVisit, Outcome

pytestmark = pytest.mark.asterisk

HOTLINE = REPO / "flows" / "hotline-12320.yaml"
# English (2), disease prevention (1), influenza (1), symptoms (1).
FLU_SYMPTOMS = ["2", "1", "1", "1"]
FLU_SYMPTOMS_PATH = ["welcome", "language.menu", "language.en", "main", "disease", "flu", "flu.symptoms"]


async def test_keys_reach_the_leaf_and_the_engine_records_the_exact_path(engine: Engine) -> None:
    await engine.call(" ".join(FLU_SYMPTOMS), hold_seconds=2.0, from_user="13800000001")
    (end,) = await engine.ended()
    assert end.leaf == "flu.symptoms"
    assert end.outcome is Outcome.SERVED
    path = engine.events.path(end.call_id)
    assert path[: len(FLU_SYMPTOMS_PATH)] == FLU_SYMPTOMS_PATH
    menu_keys = [v.key for v in engine.events.visits if v.node_kind == "menu"]
    assert menu_keys[:4] == FLU_SYMPTOMS
    assert engine.events.started[0].caller == "13800000001"


async def informed_plan(keys: list[str]) -> list[tuple[float, str]]:
    return await informed_caller_plan(HOTLINE, " ".join(keys), AUDIO)


async def test_type_ahead_reaches_the_leaf_sooner_than_waiting_for_each_menu(engine: Engine) -> None:
    await engine.call(await informed_plan(FLU_SYMPTOMS), hold_seconds=1.0, from_user="13800000002")
    await engine.call(" ".join(FLU_SYMPTOMS), hold_seconds=1.0, from_user="13800000003")
    waited, typed_ahead = await engine.ended(2)
    assert waited.leaf == typed_ahead.leaf == "flu.symptoms"
    assert waited.seconds_to_leaf is not None and typed_ahead.seconds_to_leaf is not None
    # The waiting caller hears the welcome, the language menu and three menus up to their option.
    assert typed_ahead.seconds_to_leaf < waited.seconds_to_leaf / 3
    # Type-ahead skipped the prompts of the menus in between: they were never played to the end.
    assert engine.events.path(waited.call_id)[:7] == engine.events.path(typed_ahead.call_id)[:7]


def menu_visit(engine: Engine, call_id: str, node_id: str) -> NodeVisit:
    (visit,) = [v for v in engine.events.visits if v.call_id == call_id and v.node_id == node_id]
    return visit


async def test_an_invalid_key_replays_the_menu_and_the_next_key_counts(engine: Engine) -> None:
    plan = [(0.5, "2"), (0.5, "7"), (6.0, "1"), (0.3, "1"), (0.3, "1")]
    await engine.call(plan, hold_seconds=1.0)
    (end,) = await engine.ended()
    main = menu_visit(engine, end.call_id, "main")
    assert (main.invalid_keys, main.timeouts, main.key) == (1, 0, "1")
    assert end.leaf == "flu.symptoms"
    heard = [v.node_id for v in engine.events.visits]
    assert heard[:7] == FLU_SYMPTOMS_PATH


async def test_a_silent_caller_times_out_and_hears_the_menu_again(engine: Engine) -> None:
    # "-": the caller presses nothing in the main menu and lets it time out once.
    await engine.call(await informed_plan(["2", "-", "1", "1", "1"]), hold_seconds=1.0)
    (end,) = await engine.ended()
    main = menu_visit(engine, end.call_id, "main")
    assert (main.timeouts, main.invalid_keys, main.key) == (1, 0, "1")
    assert end.leaf == "flu.symptoms"


async def test_a_caller_hanging_up_mid_prompt_ends_the_call_cleanly(engine: Engine) -> None:
    before = asyncio.all_tasks()
    with structlog.testing.capture_logs() as logs:
        # The welcome prompt lasts about 8 s; the caller leaves after 2.
        await engine.call("", hold_seconds=2.0)
        (end,) = await engine.ended()
        async with asyncio.timeout(10):
            while engine.service.agi.active_sessions:
                await asyncio.sleep(0.05)
    assert end.outcome is Outcome.ABANDONED
    assert end.final_node == "welcome"
    assert engine.events.path(end.call_id) == ["welcome"]
    assert [log for log in logs if log["log_level"] in ("error", "critical")] == []
    assert asyncio.all_tasks() - before == set()


class CuttableLink:
    """A TCP hop between Asterisk and the engine that fails as a network does: both ends at once."""

    def __init__(self, engine_port: int) -> None:
        self.engine_port = engine_port
        self.ends: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._join, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _join(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        engine_reader, engine_writer = await asyncio.open_connection("127.0.0.1", self.engine_port)
        self.ends += [writer, engine_writer]
        await asyncio.gather(_pump(reader, engine_writer), _pump(engine_reader, writer), return_exceptions=True)

    def cut(self) -> None:
        for end in self.ends:
            end.transport.abort()

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def test_a_caller_whose_engine_link_fails_goes_to_the_operators_and_the_call_counts_as_an_error(
    engine: Engine, start_agent: Callable[..., Agent]
) -> None:
    agent = await asyncio.to_thread(start_agent, "agent1")
    link = CuttableLink(engine.service.agi.port)
    engine.use_agi(f"agi://127.0.0.1:{await link.start()}/default")
    # English, then a key in the main menu: it ends the Read Asterisk is in when the link fails,
    # after which Asterisk finds the connection gone.
    call = asyncio.create_task(engine.call(await informed_plan(["2", "1"]), hold_seconds=20.0))
    try:
        async with asyncio.timeout(30):
            while not any(e.node_id == "main" for e in engine.events.entered):
                await asyncio.sleep(0.05)
        link.cut()
        (end,) = await engine.ended()
        result = await call
    finally:
        await link.stop()
    assert result.ok, result.errors
    assert end.outcome is Outcome.ERROR and end.leaf is None
    await asyncio.to_thread(agent.wait, answered=1)


def caller_channel_variables(engine: Engine) -> dict[str, str]:
    """The variables Asterisk itself holds on the caller's channel ("core show channel")."""
    names = [
        line.split("!")[0]
        for line in engine.pbx.cli("core show channels concise").splitlines()
        if line.startswith("PJSIP/callers-")
    ]
    variables: dict[str, str] = {}
    for name in names:
        text = engine.pbx.cli(f"core show channel {name}")
        for line in text.split("Variables:", 1)[-1].splitlines():
            key, sep, value = line.strip().partition("=")
            if sep:
                variables[key] = value
    return variables


async def test_variables_the_flow_sets_are_on_the_asterisk_channel_while_an_agent_talks(
    engine: Engine, start_agent: Callable[..., Agent]
) -> None:
    agent = await asyncio.to_thread(start_agent, "agent1")
    engine.route_to("screen-pop")
    # The caller hears the queue prompt (about 4 s), talks to the agent, and hangs up.
    call = asyncio.create_task(engine.call("", hold_seconds=10.0))
    seen: dict[str, str] = {}
    async with asyncio.timeout(30):
        while seen.get("IVR_TOPIC") != "vaccination":
            await asyncio.sleep(0.3)
            seen = await asyncio.to_thread(caller_channel_variables, engine)
    assert seen["IVR_CASE"] == "A-1001"
    await call
    (end,) = await engine.ended()
    assert end.outcome is Outcome.QUEUED
    assert engine.events.path(end.call_id) == ["tag", "to.agent"]
    assert agent.answered == 1
