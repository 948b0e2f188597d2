"""The dashboard in a real browser: headless Debian Chromium driven by Playwright.

Playwright drives the system browser (/usr/bin/chromium) over the DevTools protocol; its own browser
downloads are never used. Run with `pytest -m chromium tests/web`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_queues_page import HOSTILE_REASON, captured_snapshot, queues_app
from web_fixtures import (
    HOSTILE,
    T0,
    TOKEN,
    filled_store,
    hotline_calls,
    make_app,
    serve,
)

from ivr_engine.metrics import IvrMetrics, LiveCalls, MetricsObserver
from ivr_engine.runtime.events import CallStarted, NodeEntered, NodeVisit
from ivr_engine.stats import reports

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright>=1.40")

pytestmark = pytest.mark.chromium
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE_CALLER = "<img src=x onerror=alert(1)>"


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[playwright.Page]:
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            yield page
            assert dialogs == [], "a script injected through page data ran"
        finally:
            browser.close()


def login(page: playwright.Page, base: str, target: str) -> None:
    page.goto(f"{base}{target}")
    assert page.url.startswith(f"{base}/login")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{target}")


def test_live_calls_page_in_chromium(browser_page: playwright.Page, tmp_path: Path) -> None:
    metrics, live = IvrMetrics(), LiveCalls()
    observer = MetricsObserver(metrics, live)
    observer.call_started(CallStarted("call-1", "13800138000", "hotline", "1", T0, "agi"))
    observer.call_started(CallStarted("call-2", HOSTILE_CALLER, "hotline", "1", T0, "agi"))
    left = T0 + dt.timedelta(seconds=7)
    observer.node_entered(NodeEntered("call-1", 0, "main", "menu", T0))
    observer.node_visited(NodeVisit("call-1", 0, "main", "menu", T0, left, key="1"))
    observer.node_entered(NodeEntered("call-1", 1, "vaccination", "menu", left))
    page = browser_page
    with serve(make_app(metrics, live)) as base:
        login(page, base, "/live")
        page.wait_for_selector("#live-calls[data-state=ready]")
        row = page.locator('#live-calls tr[data-id="call-1"] td')
        assert row.all_text_contents()[:7] == ["call-1", "*******8000", "hotline", "1", "agi", "vaccination", "1"]
        hostile = page.locator('#live-calls tr[data-id="call-2"] td').nth(1).text_content()
        assert hostile == "*" * (len(HOSTILE_CALLER) - 4) + "(1)>"
        page.screenshot(path=tmp_path / "live.png", full_page=True)
    assert (tmp_path / "live.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_flow_dashboard_in_chromium(browser_page: playwright.Page, tmp_path: Path) -> None:
    store = filled_store(tmp_path, hotline_calls())
    stored = {s.node_id: s.hits for s in reports.node_stats(store, reports.ReportFilter("hotline"))}
    page = browser_page
    try:
        with serve(make_app(IvrMetrics(), LiveCalls(), stats_store=store)) as base:
            login(page, base, "/flows/hotline")
            page.wait_for_selector("#node-table[data-state=ready]")
            cells = lambda node: page.locator(f'#node-table tr[data-id="{node}"] td')
            # Columns: node, title, kind, hits ...; the table came from /api through tables.js.
            assert int(cells("main").nth(3).text_content()) == stored["main"] == 6
            assert int(cells("vaccination").nth(3).text_content()) == stored["vaccination"] == 3
            assert cells("complaints").nth(1).text_content() == HOSTILE  # shown as text, not markup
            first_rows = page.locator("#node-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")
            assert first_rows[0] == "main"  # sorted by hits, most first
            page.fill('[data-filter-for="node-table"]', "vaccination")
            assert page.locator("#node-table tbody tr").count() == 3
            assert page.text_content('[data-status-for="node-table"]') == "3 of 8 nodes"
            page.fill('[data-filter-for="node-table"]', "")
            page.wait_for_function("document.querySelector('.heatmap img').naturalWidth > 0")
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=shot, full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 20_000
    finally:
        store.close()


def test_queues_page_in_chromium(browser_page: playwright.Page, tmp_path: Path) -> None:
    snapshot = captured_snapshot()
    page = browser_page
    with serve(queues_app(captured_snapshot)) as base:
        login(page, base, "/queues")
        page.wait_for_selector("#queue-table[data-state=ready]")
        page.wait_for_selector("#member-table[data-state=ready]")
        operator = page.locator('#queue-table tr[data-id="operator"] td')
        # Columns: queue, waiting, longest wait, service level, threshold, completed, abandoned, ...
        assert int(operator.nth(1).text_content()) == snapshot["operator"]["callers_waiting"] == 1
        assert operator.nth(3).text_content() == "100.0 %"
        assert page.locator('#queue-table tr[data-id="outbreak"] td').nth(3).text_content() == "–"
        assert page.text_content('[data-status-for="queue-table"]') == "5 of 5 queues"
        paused = page.locator('#member-table tbody tr:has(td:text-is("paused")) td')
        assert paused.all_text_contents()[:5] == ["operator", "PJSIP/agent1", HOSTILE, "paused", HOSTILE_REASON]
        shot = tmp_path / "queues.png"
        page.screenshot(path=shot, full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
