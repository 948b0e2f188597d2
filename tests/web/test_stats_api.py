"""Every statistics endpoint against a real SQLite store filled by the real StatsRecorder."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from markupsafe import escape
from starlette.testclient import TestClient
from web_fixtures import HOSTILE, TOKEN, filled_store, hotline_calls, make_app

from ivr_engine.metrics import IvrMetrics, LiveCalls
from ivr_engine.runtime.events import Outcome
from ivr_engine.stats.store import StatsStore
from ivr_engine.web.heatmap import PALETTE

SVG = "{http://www.w3.org/2000/svg}"
NO_FILTER = {"flow_id": "hotline", "version": None, "since": None, "until": None}


@pytest.fixture
def store(tmp_path: Path, stats_url: str) -> Iterator[StatsStore]:
    store = filled_store(tmp_path, hotline_calls(), stats_url)
    yield store
    store.close()


@pytest.fixture
def api(store: StatsStore, metrics: IvrMetrics, live_calls: LiveCalls) -> TestClient:
    return TestClient(
        make_app(metrics, live_calls, stats_store=store), headers={"Authorization": f"Bearer {TOKEN}"}
    )


def test_flows_lists_loaded_flows_with_recorded_versions(api: TestClient) -> None:
    assert api.get("/api/flows").json() == {
        "flows": [{"id": "hotline", "title": "12320 hotline", "version": "1", "versions": ["2", "1"]}]
    }


def test_summary(api: TestClient) -> None:
    body = api.get("/api/flows/hotline/summary").json()
    assert body == {
        **NO_FILTER,
        "summary": {
            "calls": 6,
            "by_outcome": {"served": 4, "abandoned": 1, "zeroed_out": 1},
            "served": 4,
            "abandoned": 1,
            "zeroed_out": 1,
            "served_rate": 4 / 6,
            "abandonment_rate": 1 / 6,
            "zero_out_rate": 1 / 6,
            "visits": 18,
            "mean_seconds_to_leaf": 18.75,
            "p95_seconds_to_leaf": 25.0,
        },
    }


def test_summary_filtered_by_version_and_window(api: TestClient) -> None:
    v2 = api.get("/api/flows/hotline/summary", params={"version": "2"}).json()
    assert v2["version"] == "2"
    assert (v2["summary"]["calls"], v2["summary"]["served"], v2["summary"]["mean_seconds_to_leaf"]) == (1, 1, 18.0)
    first_hour = {"since": "2026-11-02T09:00", "until": "2026-11-02T10:00"}
    early = api.get("/api/flows/hotline/summary", params=first_hour).json()
    assert early["since"] == "2026-11-02T09:00:00+00:00"
    assert early["until"] == "2026-11-02T10:00:00+00:00"
    assert early["summary"]["calls"] == 5
    assert early["summary"]["abandonment_rate"] == 1 / 5
    assert early["summary"]["zero_out_rate"] == 1 / 5
    # An offset is honoured: 10:00+01:00 is 09:00 UTC, before c2 (09:01) started.
    only_c1 = api.get("/api/flows/hotline/summary", params={"until": "2026-11-02T10:00:30+01:00"}).json()
    assert only_c1["summary"]["calls"] == 1


def test_nodes(api: TestClient) -> None:
    body = api.get("/api/flows/hotline/nodes").json()
    rows = {row["node_id"]: row for row in body["nodes"]}
    assert [row["node_id"] for row in body["nodes"]] == [
        "main", "bye", "vaccination", "vax_schedule", "food_safety", "operator", "vax_sites", "complaints",
    ]  # fmt: skip
    assert rows["main"] == {
        "node_id": "main",
        "title": "Main menu",
        "kind": "menu",
        "hits": 6,
        "calls": 6,
        "share_of_calls": 1.0,
        "abandoned_here": 1,
        "zeroed_out_here": 1,
        "timeouts": 0,
        "invalid_keys": 0,
        "mean_seconds": 5.0,
        "exits": {"0": 1, "1": 3, "2": 1},
    }
    assert (rows["vaccination"]["hits"], rows["vaccination"]["share_of_calls"]) == (3, 0.5)
    assert rows["vaccination"]["exits"] == {"1": 2, "2": 1}
    assert (rows["vax_schedule"]["hits"], rows["vax_sites"]["hits"], rows["bye"]["hits"]) == (2, 1, 4)
    # Never visited, but in the flow: listed with zeros so analysts see dead branches.
    assert rows["complaints"]["hits"] == 0
    assert rows["complaints"]["title"] == HOSTILE


def test_nodes_of_an_old_version_do_not_list_the_current_tree(api: TestClient) -> None:
    body = api.get("/api/flows/hotline/nodes", params={"version": "2"}).json()
    assert {row["node_id"]: row["hits"] for row in body["nodes"]} == {
        "main": 1, "vaccination": 1, "vax_schedule": 1, "bye": 1,
    }  # fmt: skip


def test_time_to_leaf(api: TestClient) -> None:
    body = api.get("/api/flows/hotline/time-to-leaf").json()
    assert body["count"] == 4
    assert body["mean_seconds"] == 18.75
    assert body["p95_seconds"] == 25.0
    nonzero = [(b["start"], b["end"], b["count"]) for b in body["bins"] if b["count"]]
    assert nonzero == [(10.0, 12.5, 1), (17.5, 20.0, 1), (20.0, 22.5, 1), (25.0, 27.5, 1)]
    assert sum(b["count"] for b in body["bins"]) == 4


def test_paths(api: TestClient) -> None:
    assert api.get("/api/flows/hotline/paths").json()["paths"] == [
        {"path": ["main", "vaccination", "vax_schedule", "bye"], "calls": 2},
        {"path": ["main"], "calls": 1},
        {"path": ["main", "food_safety", "bye"], "calls": 1},
        {"path": ["main", "operator"], "calls": 1},
        {"path": ["main", "vaccination", "vax_sites", "bye"], "calls": 1},
    ]


def test_heatmap_svg_has_hits_and_edge_counts(api: TestClient) -> None:
    response = api.get("/api/flows/hotline/heatmap.svg")
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    root = ET.fromstring(response.content)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "6 hits" in texts and "3 hits" in texts
    assert "1 ×3" in texts  # main -> vaccination, key 1, three calls
    main = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "node" and g.find(f"{SVG}title").text == "main")
    shape = next(e for e in main.iter() if e.tag in (f"{SVG}path", f"{SVG}polygon"))
    assert shape.get("fill") == PALETTE[-1]


def test_unknown_flow_and_bad_filters_are_named(api: TestClient) -> None:
    missing = api.get("/api/flows/nope/nodes")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no flow 'nope' is loaded"}
    bad = api.get("/api/flows/hotline/summary", params={"since": "yesterday"})
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("since: expected an ISO 8601 date")
    backwards = api.get("/api/flows/hotline/summary", params={"since": "2026-11-03", "until": "2026-11-02"})
    window = "since: must be before until, 2026-11-02T00:00:00+00:00: no call can be in that window"
    assert backwards.json() == {"error": window}
    page = api.get("/flows/hotline", params={"until": "<b>soon</b>"})
    assert page.status_code == 400
    assert "&lt;b&gt;soon&lt;/b&gt;" in page.text and "<b>soon" not in page.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("until", "9999-12-31T23:59:59-05:00"),  # past the last datetime in UTC
        ("since", "0001-01-01T00:00+01:00"),  # before the first
        ("since", "9999-12-31T23:30"),  # its next whole hour is past the last
        ("until", "0001-01-01T00:30"),
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/flows/hotline/summary", "/api/flows/hotline/nodes", "/api/flows/hotline/heatmap.svg", "/",
             "/flows/hotline"],
)  # fmt: skip
def test_times_at_the_ends_of_the_calendar_are_a_bad_filter(api: TestClient, path: str, name: str, value: str) -> None:
    response = api.get(path, params={name: value})
    assert response.status_code == 400
    message = f"{name}: {value!r} is out of range: times from 0001-01-02 to 9999-12-30 UTC are accepted"
    if path.startswith("/api/"):
        assert response.json() == {"error": message}
    else:
        assert str(escape(message)) in response.text


def test_a_database_that_cannot_be_read_is_a_503_with_the_reason(api: TestClient, store: StatsStore) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE stats_calls RENAME TO stats_calls_gone")
    response = api.get("/api/flows/hotline/summary")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error.startswith("the statistics database cannot be read: ") and "stats_calls" in error
    assert "SELECT" not in error  # the reason, not the statement
    for page in ("/", "/flows/hotline"):
        response = api.get(page)
        assert response.status_code == 503, page
        assert response.headers["content-type"].startswith("text/html")
        assert "Statistics unavailable" in response.text and str(escape(error)) in response.text


def test_personal_use(api: TestClient) -> None:
    body = api.get("/api/flows/hotline/personal", params={"version": "1"}).json()
    assert body["version"] == "1"
    use = body["personal"]
    assert (use["calls"], use["offered"], use["took_shortcut"], use["offered_rate"], use["shortcut_rate"]) == (
        5, 0, 0, 0.0, None
    )
    assert use["not_offered"] == {"calls": 5, "reached": 3, "mean_seconds_to_leaf": 19.0, "p95_seconds_to_leaf": 25.0}
    assert use["via_shortcut"] == {"calls": 0, "reached": 0, "mean_seconds_to_leaf": None, "p95_seconds_to_leaf": None}


def test_overview_and_flow_pages_show_the_rates(api: TestClient) -> None:
    overview = api.get("/")
    assert overview.status_code == 200
    assert '<a href="/flows/hotline">hotline</a>' in overview.text
    assert "16.7 %" in overview.text  # abandonment and zero-out: 1 of 6
    page = api.get("/flows/hotline", params={"version": "1"})
    assert page.status_code == 200
    assert '<div class="value" id="calls">5</div>' in page.text
    assert '<div class="value" id="abandonment-rate">20.0 %</div>' in page.text
    assert 'src="/api/flows/hotline/heatmap.svg?version=1"' in page.text
    assert 'data-source="/api/flows/hotline/nodes?version=1"' in page.text
    assert "main → vaccination → vax_schedule → bye" in page.text
    assert "mean 18.8 s" in page.text or "mean 19.0 s" in page.text
    text = " ".join(page.text.split())
    assert "Offered on 0.0 % of calls; a shortcut taken on – of those." in text
    assert '<td>not offered</td><td class="number">5</td> <td class="number">19.0 s</td>' in text
    assert 'href="/api/flows/hotline/personal?version=1"' in page.text


def test_hostile_strings_are_escaped_on_pages(tmp_path: Path, metrics: IvrMetrics, live_calls: LiveCalls) -> None:
    """A node id written by a hostile source reaches the paths table; a hostile title the heading."""
    calls = [("x1", "1", 0, [("main", "menu", "3"), (HOSTILE, "announcement", None)], Outcome.SERVED, HOSTILE, 9.0)]
    store = filled_store(tmp_path, calls)
    try:
        client = TestClient(
            make_app(metrics, live_calls, stats_store=store, flow_title=HOSTILE),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        for path in ("/", "/flows/hotline"):
            text = client.get(path).text
            assert "<script>" not in text and "<img src=x" not in text, path
            assert str(escape(HOSTILE)) in text, path
    finally:
        store.close()
