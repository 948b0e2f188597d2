"""The supervisor's Queues page and /api/queues.

The snapshot they show is taken from a real QueueMonitor that read AMI bytes captured from
Asterisk 22 (tests/acd/queue_fixtures) off a loopback socket: a QueueStatus of every queue, then a
caller joining `operator` and agent1 pausing there under a hostile name and reason.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient
from web_fixtures import HOSTILE, TOKEN, hotline_flow

from ivr_engine.acd.queue_monitor import QueueMonitor
from ivr_engine.ami.client import AMIClient
from ivr_engine.config import WebSettings
from ivr_engine.metrics import IvrMetrics, LiveCalls
from ivr_engine.web import create_app
from ivr_engine.web.queues import AMI_OFF, QueuesSnapshot

_TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_TESTS / "acd"), str(_TESTS / "ami")]  # the captured AMI bytes and their server

import queue_fixtures as qf
from acd_support import BOUND, ScriptedAsterisk
from waiting import until

HOSTILE_REASON = "<b onmouseover=alert(2)>lunch</b>"
QUEUES = ["complaints", "mental-health-crisis", "operator", "outbreak", "vaccination"]


def _paused_under_hostile_name() -> bytes:
    return qf.MEMBER_PAUSED.replace(
        b"MemberName: agent1", b"MemberName: " + HOSTILE.encode()
    ).replace(b"PausedReason: lunch", b"PausedReason: " + HOSTILE_REASON.encode())


async def _monitor_snapshot() -> dict[str, dict[str, Any]]:
    asterisk = await ScriptedAsterisk(qf.STATUS_ALL).start()
    client = AMIClient(
        "127.0.0.1", asterisk.port, username="ivr", secret="s3cret", action_timeout=BOUND
    )
    monitor = QueueMonitor(client, IvrMetrics(), interval=60.0)
    try:
        await asyncio.wait_for(client.connect(), BOUND)
        await monitor.start()
        await until(lambda: monitor.synced, "the first poll")
        await asterisk.push(qf.CALLER_JOIN, _paused_under_hostile_name())
        operator = lambda: monitor.snapshot()["operator"]
        await until(
            lambda: operator()["callers_waiting"] == 1 and operator()["agents"]["paused"] == 1,
            "the caller and the pause",
        )
        return monitor.snapshot()
    finally:
        await monitor.stop()
        await asyncio.wait_for(client.close(), BOUND)
        await asterisk.stop()


@functools.cache
def captured_snapshot() -> dict[str, dict[str, Any]]:
    """What QueueMonitor.snapshot() returned (taken once); the app calls this like the real one.

    Taken on a thread of its own: Playwright's sync API keeps an event loop running in this one.
    """
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(lambda: asyncio.run(_monitor_snapshot())).result()


def queues_app(queues: QueuesSnapshot | None) -> Starlette:
    metrics = IvrMetrics()
    return create_app(
        WebSettings(token=TOKEN),
        stats_store=None,  # type: ignore[arg-type]  # these pages never read statistics
        flows=lambda: [hotline_flow()],
        registry=metrics.registry,
        live_calls=LiveCalls(),
        queues=queues,
    )


def signed_in(app: Starlette) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


def test_api_is_the_monitor_snapshot_sorted_by_name() -> None:
    snapshot = captured_snapshot()
    answer = signed_in(queues_app(captured_snapshot)).get("/api/queues")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    queues = answer.json()["queues"]
    assert [q["name"] for q in queues] == QUEUES == sorted(snapshot)
    for queue in queues:
        flat = {f"agents_{state}": count for state, count in snapshot[queue["name"]]["agents"].items()}
        assert queue == {"name": queue["name"], **snapshot[queue["name"]], **flat}
    operator = queues[QUEUES.index("operator")]
    assert operator["synced"] is True
    assert operator["callers_waiting"] == 1
    assert operator["callers"][0]["caller"] == "**00"  # caller 1000, masked
    # At the end of the captured session: one call answered within 20 s, one abandoned.
    assert (operator["calls_completed"], operator["calls_abandoned"]) == (1, 1)
    assert operator["service_level_ratio"] == 1.0
    assert queues[QUEUES.index("outbreak")]["service_level_ratio"] is None  # none completed yet
    assert operator["agents_paused"] == 1 and operator["agents_unavailable"] == 3


def test_api_lists_every_member_with_its_queue() -> None:
    members = signed_in(queues_app(captured_snapshot)).get("/api/queues").json()["members"]
    snapshot = captured_snapshot()
    assert len(members) == sum(len(q["members"]) for q in snapshot.values()) == 12
    paused = [m for m in members if m["state"] == "paused"]
    assert paused == [
        {**snapshot["operator"]["members"][0], "queue": "operator"}
    ]
    assert paused[0]["interface"] == "PJSIP/agent1"
    assert paused[0]["name"] == HOSTILE and paused[0]["paused_reason"] == HOSTILE_REASON


def test_page_is_fed_by_the_api() -> None:
    page = signed_in(queues_app(captured_snapshot)).get("/queues")
    assert page.status_code == 200
    html = page.text
    assert 'data-source="/api/queues" data-rows-field="queues"' in html
    assert 'data-source="/api/queues" data-rows-field="members"' in html
    assert '<script src="/static/tables.js"></script>' in html
    assert '<a href="/queues">Queues</a>' in html  # in the nav
    # Names and reasons reach the browser only as JSON, set with textContent by tables.js.
    assert "agent1" not in html and "alert(" not in html


def test_hostile_member_text_is_never_markup() -> None:
    client = signed_in(queues_app(captured_snapshot))
    raw = client.get("/api/queues").text
    # JSON carries the text as data; served as application/json with nosniff, never as a page.
    assert client.get("/api/queues").headers["x-content-type-options"] == "nosniff"
    assert HOSTILE.replace('"', '\\"') in raw
    page = client.get("/queues").text
    assert HOSTILE not in page and HOSTILE_REASON not in page


def test_queues_need_the_token() -> None:
    anonymous = TestClient(queues_app(captured_snapshot), follow_redirects=False)
    api = anonymous.get("/api/queues")
    assert api.status_code == 401 and "queues" not in api.json()
    page = anonymous.get("/queues")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fqueues"
    wrong = anonymous.get("/api/queues", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401


def test_without_ami_the_page_says_queue_figures_are_off() -> None:
    client = signed_in(queues_app(None))
    page = client.get("/queues")
    assert page.status_code == 200
    assert AMI_OFF in page.text and "AMI is not enabled" in page.text
    assert "tables.js" not in page.text and "queue-table" not in page.text
    api = client.get("/api/queues")
    assert api.status_code == 404 and api.json() == {"error": AMI_OFF}
