from __future__ import annotations

import datetime as dt
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from web_fixtures import T0, engine_settings

from ivr_engine.app import Engine
from ivr_engine.metrics import (
    UNKNOWN_FLOW,
    IvrMetrics,
    LiveCalls,
    MetricsObserver,
    StatsRecorderCounts,
    mask_caller,
)
from ivr_engine.runtime.events import CallEnded, CallStarted, NodeEntered, NodeVisit, Outcome


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by (sample name, sorted labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def started(call_id: str, caller: str | None = "13800138000", flow: str = "hotline") -> CallStarted:
    return CallStarted(call_id, caller, flow, "1", T0, "agi")


def visit(call_id: str, seq: int, node: str, key: str | None = None) -> NodeVisit:
    at = T0 + dt.timedelta(seconds=5 * seq)
    return NodeVisit(call_id, seq, node, "menu", at, at + dt.timedelta(seconds=5), key=key)


def ended(call_id: str, outcome: Outcome) -> CallEnded:
    return CallEnded(call_id, T0 + dt.timedelta(minutes=1), outcome, "bye", None, None)


def test_observer_events_show_up_in_metrics(client: TestClient, observer: MetricsObserver) -> None:
    for call_id in ("c1", "c2", "c3"):
        observer.call_started(started(call_id))
    observer.node_visited(visit("c1", 0, "main", key="1"))
    observer.node_visited(visit("c1", 1, "vaccination", key="2"))
    observer.node_visited(visit("c2", 0, "main", key="2"))
    observer.call_ended(ended("c1", Outcome.SERVED))
    observer.call_ended(ended("c2", Outcome.ABANDONED))

    samples = scrape(client)
    assert samples[("ivr_calls_started_total", (("channel", "agi"), ("flow", "hotline")))] == 3
    assert samples[("ivr_calls_ended_total", (("flow", "hotline"), ("outcome", "served")))] == 1
    assert samples[("ivr_calls_ended_total", (("flow", "hotline"), ("outcome", "abandoned")))] == 1
    assert samples[("ivr_calls_in_progress", (("flow", "hotline"),))] == 1
    assert samples[("ivr_node_hits_total", (("flow", "hotline"), ("node", "main")))] == 2
    assert samples[("ivr_node_hits_total", (("flow", "hotline"), ("node", "vaccination")))] == 1


def test_events_of_a_call_never_started_here_are_still_counted(
    client: TestClient, observer: MetricsObserver
) -> None:
    observer.node_visited(visit("lost", 3, "main"))
    observer.call_ended(ended("lost", Outcome.ZEROED_OUT))
    samples = scrape(client)
    assert samples[("ivr_node_hits_total", (("flow", UNKNOWN_FLOW), ("node", "main")))] == 1
    assert samples[("ivr_calls_ended_total", (("flow", UNKNOWN_FLOW), ("outcome", "zeroed_out")))] == 1
    assert not any(name == "ivr_calls_in_progress" for name, _ in samples)


def test_agi_command_latency_histogram(client: TestClient, metrics: IvrMetrics) -> None:
    for seconds in (0.0004, 0.003, 0.003, 0.2, 30.0):
        metrics.observe_agi_command("STREAM FILE", seconds)
    samples = scrape(client)
    bucket = lambda le: samples[
        ("ivr_agi_command_seconds_bucket", (("command", "STREAM FILE"), ("le", le)))
    ]
    assert bucket("0.001") == 1
    assert bucket("0.005") == 3
    assert bucket("0.25") == 4
    assert bucket("10.0") == 4
    assert bucket("+Inf") == 5
    assert samples[("ivr_agi_command_seconds_count", (("command", "STREAM FILE"),))] == 5


def test_queue_gauges_are_defined_for_the_acd_side(client: TestClient, metrics: IvrMetrics) -> None:
    metrics.queue_callers_waiting.labels("vaccination").set(4)
    metrics.queue_longest_wait_seconds.labels("vaccination").set(93.5)
    metrics.queue_service_level_ratio.labels("vaccination").set(0.8)
    samples = scrape(client)
    assert samples[("ivr_queue_callers_waiting", (("queue", "vaccination"),))] == 4
    assert samples[("ivr_queue_longest_wait_seconds", (("queue", "vaccination"),))] == 93.5
    assert samples[("ivr_queue_service_level_ratio", (("queue", "vaccination"),))] == 0.8


def test_stats_recorder_counters_are_read_at_scrape_time(client: TestClient, metrics: IvrMetrics) -> None:
    counts = StatsRecorderCounts(recorded=10, spooled=2, written=7, refused=1)
    metrics.watch_stats_recorder(lambda: counts)
    samples = scrape(client)
    assert samples[("ivr_stats_visits_recorded_total", ())] == 10
    assert samples[("ivr_stats_visits_spooled_total", ())] == 2
    assert samples[("ivr_stats_visits_written_total", ())] == 7
    assert samples[("ivr_stats_visits_refused_total", ())] == 1
    counts = StatsRecorderCounts(recorded=11, spooled=2, written=11)
    assert scrape(client)[("ivr_stats_visits_written_total", ())] == 11


def test_fresh_metrics_start_from_zero() -> None:
    first, second = IvrMetrics(), IvrMetrics()
    first.calls_started.labels("hotline", "agi").inc()
    assert second.registry.get_sample_value("ivr_calls_started_total", {"flow": "hotline", "channel": "agi"}) is None


def test_live_calls_mask_the_caller_and_follow_the_call(client: TestClient, observer: MetricsObserver) -> None:
    observer.call_started(started("c1", caller="13800138000"))
    observer.call_started(CallStarted("c2", None, "hotline", "1", T0 + dt.timedelta(seconds=1), "console"))
    observer.node_entered(NodeEntered("c1", 0, "main", "menu", T0 + dt.timedelta(seconds=1)))
    observer.node_visited(visit("c1", 0, "main", key="1"))
    observer.node_entered(NodeEntered("c1", 1, "vaccination", "menu", T0 + dt.timedelta(seconds=5)))
    data = client.get("/api/live").json()
    assert data["count"] == 2
    first, second = data["calls"]
    assert first == {
        "call_id": "c1",
        "caller": "*******8000",
        "flow_id": "hotline",
        "flow_version": "1",
        "channel": "agi",
        "started_at": "2026-11-02T09:00:00+00:00",
        "node": "vaccination",
        "node_since": "2026-11-02T09:00:05+00:00",
        "nodes_visited": 1,
    }
    assert second["caller"] == "withheld"
    assert "13800138000" not in client.get("/api/live").text
    observer.call_ended(ended("c1", Outcome.SERVED))
    assert [c["call_id"] for c in client.get("/api/live").json()["calls"]] == ["c2"]


def test_mask_caller_never_shows_more_than_half_or_four_digits() -> None:
    assert mask_caller("13800138000") == "*******8000"
    assert mask_caller("1001") == "**01"
    assert mask_caller("123") == "**3"
    assert mask_caller("7") == "*"
    assert mask_caller("") == "withheld"
    assert mask_caller(None) == "withheld"


def test_live_calls_snapshot_is_ordered_by_start() -> None:
    live = LiveCalls()
    live.start(CallStarted("late", "1", "f", "1", T0 + dt.timedelta(seconds=9), "agi"))
    live.start(CallStarted("early", "2", "f", "1", T0, "agi"))
    assert [c.call_id for c in live.snapshot()] == ["early", "late"]
    assert len(live) == 2


def test_calls_in_progress_is_zero_for_each_flow_in_service_before_any_call(tmp_path: Path) -> None:
    engine = Engine.build(engine_settings(tmp_path))
    try:
        token = {"Authorization": f"Bearer {engine.settings.web.token}"}
        client = TestClient(engine.web_server().config.app, headers=token)
        assert scrape(client)[("ivr_calls_in_progress", (("flow", "hotline-12320"),))] == 0.0
    finally:
        engine.close()


def test_serve_flows_starts_series_at_zero_without_touching_calls_under_way() -> None:
    metrics = IvrMetrics()
    observer = MetricsObserver(metrics, LiveCalls())
    observer.call_started(started("c1", flow="hotline"))
    metrics.serve_flows(["hotline", "other"])  # a reload of hotline, a new flow
    sample = metrics.registry.get_sample_value
    in_progress = {flow: sample("ivr_calls_in_progress", {"flow": flow}) for flow in ("hotline", "other")}
    assert in_progress == {"hotline": 1.0, "other": 0.0}
