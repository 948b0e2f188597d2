"""Prometheus metrics of the engine, and the observer that keeps the call metrics current.

Every metric lives in one `IvrMetrics` with its own CollectorRegistry rather than the process-wide
default one, so a test (or a second engine in one process) starts from zero.

`MetricsObserver` is a runtime CallObserver: it is called synchronously on the call path, so it only
bumps counters and updates an in-memory map; it never does I/O. The same map (`LiveCalls`) is what
the dashboard shows as "calls in progress".
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from ivr_engine.runtime.events import CallEnded, CallStarted, NodeEntered, NodeVisit

# AGI commands range from ANSWER on a local Asterisk (about a millisecond) to a STREAM FILE that
# plays a whole prompt (seconds).
AGI_LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

# A call whose CallStarted this process never saw (observer attached mid-call) still gets counted.
UNKNOWN_FLOW = "unknown"


class IvrMetrics:
    """The engine's metric objects, all registered in `registry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.calls_started = Counter(
            "ivr_calls_started", "Calls that entered a flow.", ["flow", "channel"], registry=r
        )
        self.calls_ended = Counter(
            "ivr_calls_ended", "Calls that left the IVR, by outcome.", ["flow", "outcome"], registry=r
        )
        self.calls_in_progress = Gauge(
            "ivr_calls_in_progress", "Calls currently walking a flow.", ["flow"], registry=r
        )
        self.node_hits = Counter(
            "ivr_node_hits", "Visits to a flow node (counted when the call leaves the node).",
            ["flow", "node"], registry=r,
        )  # fmt: skip
        self.agi_command_seconds = Histogram(
            "ivr_agi_command_seconds", "Time from sending an AGI command to its reply.",
            ["command"], buckets=AGI_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        # Filled from AMI queue events by the ACD side.
        self.queue_callers_waiting = Gauge(
            "ivr_queue_callers_waiting", "Callers waiting in an Asterisk queue.", ["queue"], registry=r
        )
        self.queue_longest_wait_seconds = Gauge(
            "ivr_queue_longest_wait_seconds", "Wait of the longest-waiting caller in a queue.",
            ["queue"], registry=r,
        )  # fmt: skip
        self.queue_service_level_ratio = Gauge(
            "ivr_queue_service_level_ratio",
            "Share of the queue's answered calls answered within its service-level threshold.",
            ["queue"], registry=r,
        )  # fmt: skip

    def serve_flows(self, flow_ids: Iterable[str]) -> None:
        """Flows in service get their calls-in-progress series at 0 before their first call, so a
        dashboard shows 0 for an idle flow rather than no data, and alerts on it can fire."""
        for flow_id in flow_ids:
            self.calls_in_progress.labels(flow_id)

    def observe_agi_command(self, name: str, seconds: float) -> None:
        """The FastAGI server's `on_command` callback."""
        self.agi_command_seconds.labels(name).observe(seconds)

    def watch_stats_recorder(self, counts: Callable[[], StatsRecorderCounts]) -> None:
        """Export the statistics recorder's own counters, read when Prometheus scrapes."""
        self.registry.register(_StatsRecorderCollector(counts))


@dataclass(frozen=True, slots=True)
class StatsRecorderCounts:
    recorded: int  # node visits handed to the recorder
    spooled: int  # visits written to the on-disk spool because the database was slow or down
    written: int  # visits committed to the statistics database
    refused: int = 0  # visits in batches the database refused, set aside in the refused file


class _StatsRecorderCollector(Collector):
    def __init__(self, counts: Callable[[], StatsRecorderCounts]) -> None:
        self._counts = counts

    def collect(self) -> list[CounterMetricFamily]:
        counts = self._counts()
        return [
            CounterMetricFamily(
                f"ivr_stats_visits_{name}", help_text, value=getattr(counts, name)
            )
            for name, help_text in (
                ("recorded", "Node visits handed to the statistics recorder."),
                ("spooled", "Node visits spooled to disk while the database was unavailable."),
                ("written", "Node visits committed to the statistics database."),
                ("refused", "Node visits in batches the database refused, set aside on disk."),
            )
        ]


# --- calls in progress -------------------------------------------------------------------------


def mask_caller(caller: str | None) -> str:
    """The caller's number as supervisors may see it: at most the last 4 characters, and never more
    than half of it, so a 4-digit extension is not shown whole."""
    if not caller:
        return "withheld"
    shown = min(4, len(caller) // 2)
    return "*" * (len(caller) - shown) + caller[len(caller) - shown :]


@dataclass(frozen=True, slots=True)
class LiveCall:
    call_id: str
    caller: str  # masked with mask_caller; the raw number never reaches the dashboard
    flow_id: str
    flow_version: str
    channel: str
    started_at: dt.datetime
    node: str | None = None  # the node the call is in now
    node_since: dt.datetime | None = None
    nodes_visited: int = 0


class LiveCalls:
    """Calls in progress, updated by the observer on the call path and read by the dashboard.

    The lock makes a snapshot consistent when the web server runs in another thread than the calls.
    """

    def __init__(self) -> None:
        self._calls: dict[str, LiveCall] = {}
        self._lock = threading.Lock()

    def start(self, event: CallStarted) -> None:
        call = LiveCall(
            call_id=event.call_id,
            caller=mask_caller(event.caller),
            flow_id=event.flow_id,
            flow_version=event.flow_version,
            channel=event.channel,
            started_at=event.started_at,
        )
        with self._lock:
            self._calls[event.call_id] = call

    def entered_node(self, event: NodeEntered) -> None:
        self._update(event.call_id, node=event.node_id, node_since=event.entered_at)

    def left_node(self, visit: NodeVisit) -> LiveCall | None:
        with self._lock:
            call = self._calls.get(visit.call_id)
            if call is not None:
                call = replace(call, nodes_visited=call.nodes_visited + 1)
                self._calls[visit.call_id] = call
            return call

    def _update(self, call_id: str, **changes: object) -> None:
        with self._lock:
            call = self._calls.get(call_id)
            if call is not None:
                self._calls[call_id] = replace(call, **changes)  # type: ignore[arg-type]

    def end(self, call_id: str) -> LiveCall | None:
        with self._lock:
            return self._calls.pop(call_id, None)

    def snapshot(self) -> list[LiveCall]:
        """Calls in progress, the longest-running first."""
        with self._lock:
            calls = list(self._calls.values())
        return sorted(calls, key=lambda c: c.started_at)

    def __len__(self) -> int:
        return len(self._calls)


class MetricsObserver:
    """A CallObserver (ivr_engine.runtime.events) feeding IvrMetrics and LiveCalls."""

    def __init__(self, metrics: IvrMetrics, live_calls: LiveCalls) -> None:
        self.metrics = metrics
        self.live_calls = live_calls

    def call_started(self, event: CallStarted) -> None:
        self.metrics.calls_started.labels(event.flow_id, event.channel).inc()
        self.metrics.calls_in_progress.labels(event.flow_id).inc()
        self.live_calls.start(event)

    def node_entered(self, event: NodeEntered) -> None:
        self.live_calls.entered_node(event)

    def node_visited(self, event: NodeVisit) -> None:
        call = self.live_calls.left_node(event)
        flow = call.flow_id if call is not None else UNKNOWN_FLOW
        self.metrics.node_hits.labels(flow, event.node_id).inc()

    def call_ended(self, event: CallEnded) -> None:
        call = self.live_calls.end(event.call_id)
        if call is None:
            self.metrics.calls_ended.labels(UNKNOWN_FLOW, event.outcome.value).inc()
            return
        self.metrics.calls_ended.labels(call.flow_id, event.outcome.value).inc()
        self.metrics.calls_in_progress.labels(call.flow_id).dec()
