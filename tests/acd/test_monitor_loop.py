"""The queue monitor's loop against a scripted manager: polls, events between polls, early polls,
lost connections, refusals; and its Prometheus output."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import AsyncIterator

import pytest
import queue_fixtures as qf
from acd_support import BOUND, ScriptedAsterisk
from waiting import until

from ivr_engine.acd.queue_monitor import QueueMonitor
from ivr_engine.acd.service import AcdService
from ivr_engine.ami.client import AMIClient
from ivr_engine.config import AMISettings
from ivr_engine.metrics import IvrMetrics

PERMISSION_DENIED = b"Response: Error\r\nActionID: {id}\r\nMessage: Permission denied\r\n\r\n"


@pytest.fixture
async def asterisk() -> AsyncIterator[ScriptedAsterisk]:
    scripted = await ScriptedAsterisk(qf.STATUS_IDLE).start()
    yield scripted
    await scripted.stop()


@pytest.fixture
async def client(asterisk: ScriptedAsterisk) -> AsyncIterator[AMIClient]:
    ami = AMIClient(
        "127.0.0.1", asterisk.port, username="ivr", secret="s3cret", backoff_initial=0.05,
        action_timeout=BOUND,
    )  # fmt: skip
    await asyncio.wait_for(ami.connect(), BOUND)
    yield ami
    await asyncio.wait_for(ami.close(), BOUND)


@pytest.fixture
async def monitor(client: AMIClient) -> AsyncIterator[QueueMonitor]:
    # A long interval: anything that moves before it comes from events or an early poll.
    watcher = QueueMonitor(
        client, IvrMetrics(), interval=60.0, refresh_delay=0.05, retry_delay=0.05
    )
    await watcher.start()
    await until(lambda: watcher.synced, "the first poll")
    yield watcher
    await watcher.stop()


def sample(monitor: QueueMonitor, name: str, **labels: str) -> float | None:
    return monitor.metrics.registry.get_sample_value(name, labels)


async def test_first_poll_fills_the_gauges(monitor: QueueMonitor) -> None:
    assert monitor.health().ok and monitor.health().detail == "1 queues, 0 callers waiting"
    assert sample(monitor, "ivr_queue_monitor_up") == 1
    assert sample(monitor, "ivr_queue_callers_waiting", queue="operator") == 0
    assert sample(monitor, "ivr_queue_longest_wait_seconds", queue="operator") == 0
    assert math.isnan(sample(monitor, "ivr_queue_service_level_ratio", queue="operator") or 0)
    assert sample(monitor, "ivr_queue_agents", queue="operator", state="unavailable") == 4
    assert sample(monitor, "ivr_queue_agents", queue="operator", state="available") == 0
    assert sample(monitor, "ivr_queue_service_level_seconds", queue="operator") == 20
    snapshot = monitor.snapshot()["operator"]
    assert snapshot["service_level_ratio"] is None and snapshot["synced"] is True
    assert snapshot["agents"]["unavailable"] == 4


async def test_events_move_the_figures_between_polls(
    monitor: QueueMonitor, asterisk: ScriptedAsterisk
) -> None:
    await asterisk.push(qf.CALLER_JOIN)
    await until(lambda: monitor.snapshot()["operator"]["callers_waiting"] == 1, "the join")
    assert sample(monitor, "ivr_queue_callers_waiting", queue="operator") == 1
    assert (sample(monitor, "ivr_queue_longest_wait_seconds", queue="operator") or 0) >= 0
    assert monitor.snapshot()["operator"]["callers"][0]["caller"] == "**00"
    await asterisk.push(qf.MEMBER_REACHABLE, qf.MEMBER_RINGING)
    await until(lambda: monitor.snapshot()["operator"]["agents"]["ringing"] == 1, "ringing")
    await asterisk.push(qf.CALLER2_LEAVE_ANSWERED, qf.CALLER_LEAVE_ABANDONED, qf.AGENT_CONNECT)
    await until(lambda: monitor.snapshot()["operator"]["agents"]["in_call"] == 1, "in call")
    assert monitor.snapshot()["operator"]["callers_waiting"] == 0
    assert sample(monitor, "ivr_queue_agents", queue="operator", state="in_call") == 1
    assert len(asterisk.actions("QueueStatus")) == 1  # all of it without polling


async def test_a_completed_call_brings_an_early_poll_with_the_service_level(
    monitor: QueueMonitor, asterisk: ScriptedAsterisk
) -> None:
    asterisk.status = qf.STATUS_COMPLETED
    await asterisk.push(qf.AGENT_COMPLETE)
    await until(lambda: monitor.snapshot()["operator"]["calls_completed"] == 1, "early poll")
    assert sample(monitor, "ivr_queue_service_level_ratio", queue="operator") == 1.0
    assert sample(monitor, "ivr_queue_calls_abandoned", queue="operator") == 1
    assert sample(monitor, "ivr_queue_average_talk_seconds", queue="operator") == 4


async def test_a_lost_connection_is_unhealthy_until_the_resync(
    monitor: QueueMonitor, asterisk: ScriptedAsterisk
) -> None:
    asterisk.status = qf.STATUS_WAITING  # what Asterisk holds when we come back
    await asterisk.drop()
    await until(lambda: not monitor.health().ok, "the drop noticed")
    assert sample(monitor, "ivr_queue_monitor_up") == 0
    assert monitor.snapshot()["operator"]["synced"] is False
    # AMIClient logs in again by itself; the monitor polls at once, not after its 60 s interval.
    await until(lambda: monitor.health().ok, "the resync")
    assert monitor.snapshot()["operator"]["callers_waiting"] == 1
    assert sample(monitor, "ivr_queue_monitor_up") == 1


async def test_a_refused_poll_is_reported_not_raised(
    client: AMIClient, asterisk: ScriptedAsterisk
) -> None:
    asterisk.status = [PERMISSION_DENIED]
    watcher = QueueMonitor(client, IvrMetrics(), interval=60.0, retry_delay=0.05)
    await watcher.start()
    try:
        await until(lambda: len(asterisk.actions("QueueStatus")) >= 2, "a retry")
        assert not watcher.health().ok and "Permission denied" in watcher.health().detail
        asterisk.status = qf.STATUS_IDLE
        await until(lambda: watcher.health().ok, "the retry succeeding")
    finally:
        await watcher.stop()


async def test_queues_gone_from_asterisk_leave_the_metrics(
    monitor: QueueMonitor, asterisk: ScriptedAsterisk
) -> None:
    asterisk.status = qf.STATUS_ALL
    await monitor.refresh()
    assert sample(monitor, "ivr_queue_callers_waiting", queue="complaints") == 0
    asterisk.status = qf.STATUS_IDLE  # a reload that left only operator
    await monitor.refresh()
    assert list(monitor.snapshot()) == ["operator"]
    assert sample(monitor, "ivr_queue_callers_waiting", queue="complaints") is None
    assert sample(monitor, "ivr_queue_agents", queue="complaints", state="available") is None


async def test_stopped_monitor_ignores_events(
    monitor: QueueMonitor, asterisk: ScriptedAsterisk
) -> None:
    await monitor.stop()
    await asterisk.push(qf.CALLER_JOIN, qf.MEMBER_PAUSED)
    # The answer comes after the events on the same stream: by then the client has read them.
    await monitor.client.action("QueueStatus", timeout=BOUND)
    assert monitor.snapshot()["operator"]["callers_waiting"] == 0


async def test_acd_service_keeps_trying_to_log_in_until_ami_is_up() -> None:
    with socket.socket() as probe:  # a port nobody listens on yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = AMISettings(enabled=True, port=port, username="ivr", secret="s3cret")
    acd = AcdService(settings, IvrMetrics(), retry_max=0.1)
    await acd.start()
    scripted = ScriptedAsterisk(qf.STATUS_IDLE)
    try:
        await until(lambda: "AMI login failing" in acd.health().detail, "the failed login")
        assert not acd.health().ok
        await scripted.start(port)
        await until(lambda: acd.health().ok, "logged in and synchronised")
        assert acd.monitor.snapshot()["operator"]["agents"]["unavailable"] == 4
    finally:
        await acd.stop()
        await scripted.stop()
