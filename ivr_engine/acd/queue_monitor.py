"""Keeps the queue figures current from AMI: a QueueStatus poll plus the queue events in between.

The poll (every `interval` seconds, and at once after a reconnect) is the truth; events move the
figures between polls (a caller joining, an agent answering or pausing), and the events that change
app_queue's counters (an abandon, a completed call) ask for an early poll. Events that arrive while
a poll is in flight are applied again on top of its answer, so a caller who left during the poll is
not brought back by it.

The monitor never raises into the engine: a failed poll or a lost AMI connection marks the figures
stale (health check not ok, ivr_queue_monitor_up 0) and the loop retries until the client is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog

from ivr_engine.acd.gauges import QueueGauges
from ivr_engine.acd.queue_state import EVENT_NAMES, QueueBoard, QueueView, Reaction
from ivr_engine.ami.client import AMIClient
from ivr_engine.ami.errors import AMIError
from ivr_engine.ami.protocol import AMIEvent
from ivr_engine.metrics import IvrMetrics
from ivr_engine.web.health import CheckResult

logger = structlog.get_logger(__name__)


class QueueMonitor:
    def __init__(
        self,
        client: AMIClient,
        metrics: IvrMetrics,
        *,
        queues: Sequence[str] | None = None,
        interval: float = 5.0,
        refresh_delay: float = 0.5,
        retry_delay: float = 1.0,
        poll_timeout: float = 10.0,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.board = QueueBoard(queues)
        self.interval = interval
        # app_queue publishes AgentComplete just before it counts the call: poll a moment later.
        self.refresh_delay = refresh_delay
        self.retry_delay = min(retry_delay, interval)
        self.poll_timeout = poll_timeout
        self._views: Mapping[str, QueueView] = {}
        self.gauges = QueueGauges(metrics, lambda: self._views)
        self.gauges.up.set_function(lambda: 1.0 if self.synced else 0.0)
        self._synced_connection: int | None = None  # client.connects at the last good poll
        self._error: str | None = None
        self._replay: list[AMIEvent] | None = None  # events seen while a poll is in flight
        self._wake = asyncio.Event()
        self._refresh_timer: asyncio.TimerHandle | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._polling = asyncio.Lock()
        self._missing: set[str] = set()  # watched queues Asterisk does not have (logged once)
        self.log = logger.bind(ami=f"{client.host}:{client.port}")

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to queue events and start polling; returns at once (connected or not)."""
        if self._task is not None:
            return
        self._unsubscribe = [self.client.on_event(name, self._on_event) for name in EVENT_NAMES]
        self._task = asyncio.create_task(self._run(), name="queue-monitor")

    async def stop(self, timeout: float = 5.0) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._refresh_timer is not None:
            self._refresh_timer.cancel()
            self._refresh_timer = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout)
            self._task = None

    # --- what others read ----------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        """The figures reflect Asterisk now: logged in, and polled since the last (re)connect."""
        return (
            self.client.connected
            and self._error is None
            and self._synced_connection == self.client.connects
        )

    def health(self) -> CheckResult:
        if not self.client.connected:
            return CheckResult(False, "AMI not connected: queue figures are stale")
        if self._error is not None:
            return CheckResult(False, f"QueueStatus failed: {self._error}")
        if self._synced_connection != self.client.connects:
            return CheckResult(False, "AMI (re)connected, queue figures not yet refreshed")
        views = self._views
        waiting = sum(len(v.callers) for v in views.values())
        return CheckResult(True, f"{len(views)} queues, {waiting} callers waiting")

    def views(self) -> Mapping[str, QueueView]:
        return self._views

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per queue, plain data for the dashboard (JSON-ready); callers' numbers are masked."""
        now = time.monotonic()
        return {name: _queue_dict(view, now, self.synced) for name, view in self._views.items()}

    async def refresh(self) -> None:
        """Poll QueueStatus now; raises AMIError (the loop catches it, callers may not want to)."""
        async with self._polling:
            self._replay = []
            try:
                response = await self.client.action("QueueStatus", timeout=self.poll_timeout)
                response.raise_for_error()
                connection = self.client.connects
                self.board.load(response.events, time.monotonic())
                for event in self._replay:
                    self.board.apply(event, time.monotonic())
            finally:
                self._replay = None
            self._synced_connection = connection
            self._error = None
            self._publish()
            self._report_missing()

    # --- internals -----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except AMIError as exc:
                self._stale(str(exc))
            except Exception as exc:  # the engine must keep serving calls whatever broke here
                self.log.exception("queue_monitor.poll_crashed")
                self._stale(f"{type(exc).__name__}: {exc}")
            await self._wait(self.interval if self._error is None else self.retry_delay)

    async def _wait(self, delay: float) -> None:
        """Until the next poll is due, an event asks for one, or the connection is lost or renewed
        (then the poll waits for the login and runs at once, not an interval later)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while (left := deadline - loop.time()) > 0 and not self._wake.is_set():
            if self._error is None and not self.synced:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(left, self.retry_delay))
        self._wake.clear()

    def _report_missing(self) -> None:
        missing = (self.board.watched or frozenset()) - self._views.keys() - self._missing
        if missing:
            self.log.warning("queue_monitor.no_such_queue", queues=sorted(missing))
        self._missing |= missing

    def _stale(self, error: str) -> None:
        if self._error != error:
            self.log.warning("queue_monitor.stale", error=error)
        self._error = error

    def _on_event(self, event: AMIEvent) -> None:
        # Runs on the AMI reader task: quick, no I/O.
        if self._replay is not None:
            self._replay.append(event)
        reaction = self.board.apply(event, time.monotonic())
        if reaction is Reaction.IGNORED:
            return
        if reaction is Reaction.STALE and self._refresh_timer is None:
            self._refresh_timer = asyncio.get_running_loop().call_later(
                self.refresh_delay, self._refresh_due
            )
        self._publish()

    def _refresh_due(self) -> None:
        self._refresh_timer = None
        self._wake.set()

    def _publish(self) -> None:
        self._views = self.board.views()
        self.gauges.update(self._views)


def _queue_dict(view: QueueView, now: float, synced: bool) -> dict[str, Any]:
    counters = view.counters
    ratio = counters.service_level_ratio
    return {
        "synced": synced,
        "callers_waiting": len(view.callers),
        "longest_wait_seconds": round(view.longest_wait(now), 1),
        "service_level_ratio": None if math.isnan(ratio) else ratio,  # NaN: none completed yet
        "service_level_seconds": counters.service_level_seconds,
        "calls_completed": counters.completed,
        "calls_abandoned": counters.abandoned,
        "average_hold_seconds": counters.average_hold_seconds,
        "average_talk_seconds": counters.average_talk_seconds,
        "strategy": counters.strategy,
        "agents": {state.value: count for state, count in view.agents().items()},
        "members": [
            {
                "interface": m.interface,
                "name": m.name,
                "state": m.state.value,
                "paused": m.paused,
                "paused_reason": m.paused_reason,
                "penalty": m.penalty,
                "calls_taken": m.calls_taken,
                "dynamic": m.dynamic,
            }
            for m in view.members
        ],
        "callers": [
            {
                "position": position,
                "caller": c.caller,
                "wait_seconds": round(max(now - c.joined_at, 0.0), 1),
                "priority": c.priority,
            }
            for position, c in enumerate(view.callers, start=1)
        ],
    }
