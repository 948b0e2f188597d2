"""The queue monitor and the supervisor helpers against the session PBX's real AMI and real calls.

No FastAGI service answers (an unreachable AGI URL), so every call falls back to the `operator`
queue. Whatever a test changes in the PBX (pauses, dynamic members) it puts back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import waiting
from e2e_support import stats_settings

from ivr_engine.acd import AgentControl, InvalidName, QueueMonitor
from ivr_engine.ami.client import AMIClient
from ivr_engine.ami.errors import AMIActionError
from ivr_engine.app import Engine
from ivr_engine.config import AMISettings, WebSettings
from ivr_engine.metrics import IvrMetrics
from ivr_engine.pbx import AMI_USER, FALLBACK_QUEUE, Pbx
from ivr_engine.pbx.sipp import Agent

pytestmark = pytest.mark.asterisk

BOUND = 20.0  # an upper bound on every wait, never a speed assertion
until = functools.partial(waiting.until, within=BOUND)


@pytest.fixture
async def ami(pbx: Pbx) -> AsyncIterator[AMIClient]:
    client = AMIClient("127.0.0.1", pbx.ports.ami, username=AMI_USER, secret=pbx.ami_secret)
    await asyncio.wait_for(client.connect(), BOUND)
    yield client
    await asyncio.wait_for(client.close(), BOUND)


@pytest.fixture
async def monitor(ami: AMIClient) -> AsyncIterator[QueueMonitor]:
    watcher = QueueMonitor(ami, IvrMetrics(), queues=[FALLBACK_QUEUE, "complaints"])
    await watcher.start()
    await until(lambda: watcher.synced, "the first QueueStatus")
    yield watcher
    await watcher.stop()


def member(monitor: QueueMonitor, queue: str, interface: str) -> dict[str, Any] | None:
    members = monitor.snapshot()[queue]["members"]
    return next((m for m in members if m["interface"] == interface), None)


def sample(monitor: QueueMonitor, name: str, **labels: str) -> float | None:
    return monitor.metrics.registry.get_sample_value(name, labels)


async def test_queue_monitor_follows_a_waiting_caller_then_an_agent_answering(
    pbx: Pbx,
    monitor: QueueMonitor,
    unreachable_agi_url: str,
    use_agi: Callable[[str], None],
    start_agent: Callable[..., Agent],
) -> None:
    use_agi(unreachable_agi_url)

    def operator() -> dict[str, Any]:
        return monitor.snapshot()[FALLBACK_QUEUE]

    before = operator()
    assert before["callers_waiting"] == 0
    assert before["agents"]["in_call"] == 0

    # Nobody is logged in: the caller waits in the operator queue until it hangs up.
    waiting = asyncio.create_task(asyncio.to_thread(pbx.place_call, "", hold_seconds=8))
    await until(
        lambda: operator()["callers_waiting"] == 1 and operator()["longest_wait_seconds"] > 0,
        "one caller waiting in operator",
    )
    labels = {"queue": FALLBACK_QUEUE}
    assert sample(monitor, "ivr_queue_callers_waiting", **labels) == 1
    assert (sample(monitor, "ivr_queue_longest_wait_seconds", **labels) or 0) > 0
    assert operator()["callers"][0]["caller"] == "**00"  # SIPp's 1000, masked
    result = await waiting
    assert result.answered and result.hung_up_by == "caller", result
    await until(
        lambda: (
            operator()["callers_waiting"] == 0
            and operator()["calls_abandoned"] == before["calls_abandoned"] + 1
        ),
        "the caller gone, counted as abandoned",
    )
    assert sample(monitor, "ivr_queue_longest_wait_seconds", **labels) == 0

    # An agent logs in (its phone becomes reachable) and answers the next caller.
    agent = await asyncio.to_thread(start_agent, "agent1")
    await until(
        lambda: (member(monitor, FALLBACK_QUEUE, "PJSIP/agent1") or {}).get("state") == "available",
        "agent1 available",
    )
    answered = asyncio.create_task(asyncio.to_thread(pbx.place_call, "", hold_seconds=4))
    await until(
        lambda: (
            (member(monitor, FALLBACK_QUEUE, "PJSIP/agent1") or {}).get("state") == "in_call"
            and operator()["agents"]["in_call"] == 1
        ),
        "agent1 in a call",
    )
    assert sample(monitor, "ivr_queue_agents", queue=FALLBACK_QUEUE, state="in_call") == 1
    assert (await answered).ok
    await asyncio.to_thread(agent.wait, answered=1, completed=1)
    await until(
        lambda: (
            operator()["calls_completed"] == before["calls_completed"] + 1
            and (member(monitor, FALLBACK_QUEUE, "PJSIP/agent1") or {}).get("state") == "available"
        ),
        "the answered call completed and agent1 free again",
    )
    # The call was answered within the queue's threshold (20 s), so the ratio is above zero.
    ratio = operator()["service_level_ratio"]
    assert ratio is not None and 0 < ratio <= 1
    assert sample(monitor, "ivr_queue_service_level_ratio", **labels) == ratio

    # A supervisor pauses agent1 and lets it go again; the events move the monitor.
    control = AgentControl(monitor.client)
    try:
        await control.pause(FALLBACK_QUEUE, "PJSIP/agent1", "lunch")
        await until(
            lambda: (
                (member(monitor, FALLBACK_QUEUE, "PJSIP/agent1") or {}).get("state") == "paused"
            ),
            "agent1 paused",
        )
        paused = member(monitor, FALLBACK_QUEUE, "PJSIP/agent1") or {}
        assert paused["paused"] is True and paused["paused_reason"] == "lunch"
        assert sample(monitor, "ivr_queue_agents", queue=FALLBACK_QUEUE, state="paused") == 1
    finally:
        await control.unpause(FALLBACK_QUEUE, "PJSIP/agent1")
    await until(
        lambda: (member(monitor, FALLBACK_QUEUE, "PJSIP/agent1") or {}).get("state") == "available",
        "agent1 unpaused",
    )
    assert monitor.health().ok


async def test_queue_monitor_sees_members_added_changed_and_removed(monitor: QueueMonitor) -> None:
    control = AgentControl(monitor.client)
    assert member(monitor, "complaints", "PJSIP/agent3") is None
    try:
        await control.add_member(
            "complaints", "PJSIP/agent3", penalty=2, member_name="agent3",
            state_interface="PJSIP/agent3",
        )  # fmt: skip
        await until(
            lambda: (member(monitor, "complaints", "PJSIP/agent3") or {}).get("penalty") == 2,
            "agent3 added to complaints",
        )
        assert (member(monitor, "complaints", "PJSIP/agent3") or {})["dynamic"] is True
        await control.set_penalty("complaints", "PJSIP/agent3", 3)
        await until(
            lambda: (member(monitor, "complaints", "PJSIP/agent3") or {}).get("penalty") == 3,
            "agent3's penalty changed",
        )
        # Members of queues.conf are not the supervisor's to remove; Asterisk says so.
        with pytest.raises(AMIActionError, match="not dynamic"):
            await control.remove_member("complaints", "PJSIP/agent2")
        with pytest.raises(InvalidName):
            await control.pause("complaints", "PJSIP/agent2\r\nAction: Originate", "x")
    finally:
        with contextlib.suppress(AMIActionError):
            await control.remove_member("complaints", "PJSIP/agent3")
    await until(
        lambda: member(monitor, "complaints", "PJSIP/agent3") is None, "agent3 removed again"
    )


async def test_engine_with_ami_enabled_reports_queues_in_health_and_metrics(
    pbx: Pbx, tmp_path: Path
) -> None:
    settings = dataclasses.replace(
        stats_settings(
            tmp_path,
            "e2e-queue-monitor-caller-secret-0123",
            ami=AMISettings(enabled=True, port=pbx.ports.ami, secret=pbx.ami_secret),
        ),
        # The dashboard is not served (no port); its app answers /healthz and /metrics in-process.
        web=WebSettings(enabled=False, token="e2e-queue-monitor-dashboard-token-0123"),
    )
    engine = Engine.build(settings)
    assert engine.acd is not None
    async with engine.running():
        await until(lambda: engine.acd is not None and engine.acd.health().ok, "AMI synced")
        app = engine.web_server().config.app
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://engine"
        ) as web:
            health = (await web.get("/healthz")).json()
            metrics = (await web.get("/metrics")).text
    assert health["checks"]["ami"]["ok"] is True, health
    assert 'ivr_queue_agents{queue="operator",state="available"}' in metrics
    assert 'ivr_queue_callers_waiting{queue="operator"}' in metrics
    assert "ivr_queue_monitor_up 1.0" in metrics
