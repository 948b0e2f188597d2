"""Supervisor helpers: what reaches AMI, Asterisk's refusals, and names refused before any I/O."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import queue_fixtures as qf
from acd_support import BOUND, ScriptedAsterisk

from ivr_engine.acd.agent_control import AgentControl, InvalidName
from ivr_engine.ami.client import AMIClient
from ivr_engine.ami.errors import AMIActionError


@pytest.fixture
async def asterisk() -> AsyncIterator[ScriptedAsterisk]:
    scripted = await ScriptedAsterisk(qf.STATUS_IDLE).start()
    scripted.answers = {
        "QueuePause": qf.PAUSE_OK,
        "QueueAdd": qf.ADD_OK,
        "QueuePenalty": qf.PENALTY_OK,
        "QueueRemove": qf.REMOVE_OK,
    }
    yield scripted
    await scripted.stop()


@pytest.fixture
async def control(asterisk: ScriptedAsterisk) -> AsyncIterator[AgentControl]:
    client = AMIClient("127.0.0.1", asterisk.port, username="ivr", secret="s3cret")
    await asyncio.wait_for(client.connect(), BOUND)
    yield AgentControl(client, timeout=BOUND)
    await asyncio.wait_for(client.close(), BOUND)


def sent(asterisk: ScriptedAsterisk, action: str) -> list[dict[str, str]]:
    return [
        {k: v for k, v in fields.items() if k not in ("Action", "ActionID")}
        for fields in asterisk.actions(action)
    ]


async def test_pause_and_unpause(control: AgentControl, asterisk: ScriptedAsterisk) -> None:
    response = await control.pause("operator", "PJSIP/agent1", "午餐 lunch")
    assert response.message == "Interface paused successfully"
    await control.unpause(None, "PJSIP/agent1")  # in every queue
    assert sent(asterisk, "QueuePause") == [
        {
            "Interface": "PJSIP/agent1",
            "Paused": "true",
            "Queue": "operator",
            "Reason": "午餐 lunch",
        },
        {"Interface": "PJSIP/agent1", "Paused": "false"},
    ]


async def test_add_penalty_remove(control: AgentControl, asterisk: ScriptedAsterisk) -> None:
    await control.add_member(
        "complaints", "PJSIP/agent3", penalty=2, member_name="Zhang Wei",
        state_interface="PJSIP/agent3",
    )  # fmt: skip
    await control.set_penalty("complaints", "PJSIP/agent3", 3)
    await control.remove_member("complaints", "PJSIP/agent3")
    assert sent(asterisk, "QueueAdd") == [
        {"Queue": "complaints", "Interface": "PJSIP/agent3", "Penalty": "2", "Paused": "false",
         "MemberName": "Zhang Wei", "StateInterface": "PJSIP/agent3"},
    ]  # fmt: skip
    assert sent(asterisk, "QueuePenalty") == [
        {"Interface": "PJSIP/agent3", "Penalty": "3", "Queue": "complaints"}
    ]
    assert sent(asterisk, "QueueRemove") == [{"Queue": "complaints", "Interface": "PJSIP/agent3"}]


@pytest.mark.parametrize(
    ("answer", "message"),
    [(qf.PAUSE_NOT_FOUND, "Interface not found"), (qf.REMOVE_NOT_DYNAMIC, "Member not dynamic")],
)
async def test_asterisk_refusals_are_raised_with_its_message(
    control: AgentControl, asterisk: ScriptedAsterisk, answer: bytes, message: str
) -> None:
    asterisk.answers = {"QueuePause": answer, "QueueRemove": answer}
    with pytest.raises(AMIActionError, match=message):
        await control.pause(None, "PJSIP/agent9")
    with pytest.raises(AMIActionError, match=message):
        await control.remove_member("complaints", "PJSIP/agent2")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.pause("operator", "PJSIP/agent1\r\nAction: Originate"),
        lambda c: c.pause("operator\n", "PJSIP/agent1"),
        lambda c: c.pause("operator", ""),
        lambda c: c.pause("oper ator", "PJSIP/agent1"),
        lambda c: c.pause("operator", "PJSIP/agent1,1"),  # would split app_queue's arguments
        lambda c: c.pause("operator", "PJSIP/agent1", "a|b"),  # queue_log's separator
        lambda c: c.pause("operator", "PJSIP/agent1", "x" * 80),
        lambda c: c.unpause("operator", "PJSIP/" + "a" * 200),
        lambda c: c.add_member("complaints", "PJSIP/agent3", penalty=-1),
        lambda c: c.add_member("complaints", "PJSIP/agent3", penalty=True),
        lambda c: c.add_member("complaints", "PJSIP/agent3", member_name="a\x00b"),
        lambda c: c.add_member("complaints", "PJSIP/agent3", state_interface="Custom:x;y"),
        lambda c: c.set_penalty("complaints", "PJSIP/agent3", "2"),
        lambda c: c.remove_member("complaints", "PJSIP/agent3'"),
    ],
)
async def test_bad_names_are_refused_before_anything_is_sent(
    control: AgentControl, asterisk: ScriptedAsterisk, call
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidName):
        await call(control)
    assert [fields["Action"] for fields in asterisk.received] == ["Login"]
