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
from web_fixtures import TOKEN, T0, make_app, serve

from ivr_engine.metrics import IvrMetrics, LiveCalls, MetricsObserver
from ivr_engine.runtime.events import CallStarted, NodeVisit

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
    observer.node_visited(NodeVisit("call-1", 0, "main", "menu", T0, left, key="1"))
    page = browser_page
    with serve(make_app(metrics, live)) as base:
        login(page, base, "/live")
        page.wait_for_selector("#live-calls[data-state=ready]")
        row = page.locator('#live-calls tr[data-id="call-1"] td')
        assert row.all_text_contents()[:7] == ["call-1", "*******8000", "hotline", "1", "agi", "main", "1"]
        hostile = page.locator('#live-calls tr[data-id="call-2"] td').nth(1).text_content()
        assert hostile == "*" * (len(HOSTILE_CALLER) - 4) + "(1)>"
        page.screenshot(path=tmp_path / "live.png", full_page=True)
        page.screenshot(path="/tmp/live.png", full_page=True)
    assert (tmp_path / "live.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
