"""Prometheus gauges of the queues: IvrMetrics' three queue gauges plus the ACD's own.

The ACD's own gauges are registered on the engine's registry (`IvrMetrics.registry`), so /metrics
shows them beside the rest; building two QueueGauges on one registry is refused by prometheus_client
(one monitor per engine).

The longest wait is computed when Prometheus scrapes (a callback on the gauge), not when an event
arrives: between events the wait grows by the second and a stored value would be stale. The
callback reads the monitor's last published views, which are immutable and swapped whole, so the
scrape thread never sees a half-applied event.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping

from prometheus_client import Gauge

from ivr_engine.acd.queue_state import AgentState, QueueView
from ivr_engine.metrics import IvrMetrics

Views = Callable[[], Mapping[str, QueueView]]


class QueueGauges:
    def __init__(self, metrics: IvrMetrics, views: Views) -> None:
        r = metrics.registry
        self._metrics = metrics
        self._views = views
        self.agents = Gauge(
            "ivr_queue_agents", "Queue members by state (available, ringing, in_call, paused, "
            "unavailable); the states of a queue add up to its members.",
            ["queue", "state"], registry=r,
        )  # fmt: skip
        self.calls_completed = Gauge(
            "ivr_queue_calls_completed", "Answered calls that have ended, as app_queue counts "
            "them since Asterisk started or its queue statistics were reset.", ["queue"], registry=r,
        )  # fmt: skip
        self.calls_abandoned = Gauge(
            "ivr_queue_calls_abandoned", "Callers who hung up while waiting (app_queue's count).",
            ["queue"], registry=r,
        )  # fmt: skip
        self.service_level_seconds = Gauge(
            "ivr_queue_service_level_seconds", "The queue's service-level threshold (servicelevel "
            "in queues.conf).", ["queue"], registry=r,
        )  # fmt: skip
        self.average_hold_seconds = Gauge(
            "ivr_queue_average_hold_seconds", "app_queue's moving average of the wait before an "
            "agent answers (ASA).", ["queue"], registry=r,
        )  # fmt: skip
        self.average_talk_seconds = Gauge(
            "ivr_queue_average_talk_seconds", "app_queue's moving average of talk time (AHT "
            "without wrap-up).", ["queue"], registry=r,
        )  # fmt: skip
        self.up = Gauge(
            "ivr_queue_monitor_up", "1 while the queue figures are in step with Asterisk (AMI "
            "logged in and synchronised), 0 while they are stale.", registry=r,
        )  # fmt: skip
        self._exported: set[str] = set()

    def _per_queue(self) -> tuple[Gauge, ...]:
        m = self._metrics
        return (
            m.queue_callers_waiting, m.queue_longest_wait_seconds, m.queue_service_level_ratio,
            self.calls_completed, self.calls_abandoned, self.service_level_seconds,
            self.average_hold_seconds, self.average_talk_seconds,
        )  # fmt: skip

    def update(self, views: Mapping[str, QueueView]) -> None:
        for gone in self._exported - views.keys():
            for gauge in self._per_queue():
                gauge.remove(gone)
            for state in AgentState:
                self.agents.remove(gone, state.value)
        for name, view in views.items():
            if name not in self._exported:
                self._metrics.queue_longest_wait_seconds.labels(name).set_function(
                    functools.partial(self._longest_wait, name)
                )
            counters = view.counters
            self._metrics.queue_callers_waiting.labels(name).set(len(view.callers))
            self._metrics.queue_service_level_ratio.labels(name).set(counters.service_level_ratio)
            self.calls_completed.labels(name).set(counters.completed)
            self.calls_abandoned.labels(name).set(counters.abandoned)
            self.service_level_seconds.labels(name).set(counters.service_level_seconds)
            self.average_hold_seconds.labels(name).set(counters.average_hold_seconds)
            self.average_talk_seconds.labels(name).set(counters.average_talk_seconds)
            for state, count in view.agents().items():
                self.agents.labels(name, state.value).set(count)
        self._exported = set(views)

    def _longest_wait(self, name: str) -> float:
        view = self._views().get(name)
        return 0.0 if view is None else view.longest_wait(time.monotonic())
