from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from ivr_engine.config import Settings, StatsSettings, WebSettings
from ivr_engine.flow.model import Announcement, Flow, Hangup, Menu, MenuOption, Queue
from ivr_engine.metrics import IvrMetrics, LiveCalls
from ivr_engine.runtime.events import (
    CallEnded,
    CallObserver,
    CallStarted,
    NodeVisit,
    Outcome,
)
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.recorder import StatsRecorder
from ivr_engine.stats.store import StatsStore
from ivr_engine.web import create_app

TOKEN = "s3cret-dashboard-token-for-tests"
REPO = Path(__file__).resolve().parents[2]
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def hotline_flow(version: str = "1", title: str = "12320 hotline") -> Flow:
    """A small public-health hotline: a main menu, a vaccination submenu, services and an operator."""
    nodes = [
        Menu(
            id="main",
            title="Main menu",
            options=(
                MenuOption(key="1", target="vaccination"),
                MenuOption(key="2", target="food_safety"),
                MenuOption(key="3", target="complaints"),
            ),
        ),
        Menu(
            id="vaccination",
            title="Vaccination",
            options=(MenuOption(key="1", target="vax_schedule"), MenuOption(key="2", target="vax_sites")),
        ),
        Announcement(id="vax_schedule", title="Vaccination schedule", next="bye"),
        Announcement(id="vax_sites", title="Vaccination sites", next="bye"),
        Announcement(id="food_safety", title="Food safety", next="bye"),
        Announcement(id="complaints", title=HOSTILE, next="bye"),
        Queue(id="operator", title="Operator", queue="hotline"),
        Hangup(id="bye", title="Goodbye"),
    ]
    return Flow(
        id="hotline",
        version=version,
        start="main",
        operator="operator",
        title=title,
        nodes={n.id: n for n in nodes},
    )


def engine_settings(directory: Path) -> Settings:
    """Settings of a whole engine serving the shipped hotline, with its statistics in `directory`
    (SQLite) and no port opened until it runs."""
    return Settings(
        flows={"default": str(REPO / "flows" / "hotline-12320.yaml")},
        voicemail_dir=str(directory / "voicemail"),
        web=WebSettings(token="engine-test-token-0123456789"),
        stats=StatsSettings(
            url=f"sqlite:///{directory / 'stats.db'}", spool_dir=str(directory / "spool"),
            caller_key_secret="engine-test-secret-0123456789",
        ),
        base_dir=str(REPO),
    )  # fmt: skip


def make_app(
    metrics: IvrMetrics,
    live_calls: LiveCalls,
    *,
    stats_store: StatsStore | None = None,
    metrics_public: bool = False,
    checks: dict | None = None,
    flow_title: str = "12320 hotline",
) -> Starlette:
    return create_app(
        WebSettings(token=TOKEN, metrics_public=metrics_public),
        stats_store=stats_store,
        flows=lambda: [hotline_flow(title=flow_title)],
        registry=metrics.registry,
        live_calls=live_calls,
        checks=checks,
    )


@contextlib.contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Run `app` under uvicorn on a free 127.0.0.1 port in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


# --- a statistics store filled through the real recorder ---------------------------------------

CallScript = tuple[str, str, int, list[tuple[str, str, str | None]], Outcome, str | None, float | None]


def hotline_calls() -> list[CallScript]:
    """(call id, flow version, minutes after T0, [(node, kind, key)], outcome, leaf, seconds to leaf)."""
    day = 24 * 60
    return [
        ("c1", "1", 0, [("main", "menu", "1"), ("vaccination", "menu", "1"), ("vax_schedule", "announcement", None), ("bye", "hangup", None)], Outcome.SERVED, "vax_schedule", 20.0),
        ("c2", "1", 1, [("main", "menu", "1"), ("vaccination", "menu", "2"), ("vax_sites", "announcement", None), ("bye", "hangup", None)], Outcome.SERVED, "vax_sites", 25.0),
        ("c3", "1", 2, [("main", "menu", "2"), ("food_safety", "announcement", None), ("bye", "hangup", None)], Outcome.SERVED, "food_safety", 12.0),
        ("c4", "1", 3, [("main", "menu", None)], Outcome.ABANDONED, None, None),
        ("c5", "1", 4, [("main", "menu", "0"), ("operator", "queue", None)], Outcome.ZEROED_OUT, None, None),
        ("c6", "2", day, [("main", "menu", "1"), ("vaccination", "menu", "1"), ("vax_schedule", "announcement", None), ("bye", "hangup", None)], Outcome.SERVED, "vax_schedule", 18.0),
    ]  # fmt: skip


def record_calls(observer: CallObserver, calls: list[CallScript], flow_id: str = "hotline") -> None:
    """Play each call's events into `observer` as the runtime would: 5 seconds per node."""
    for call_id, version, minute, visits, outcome, leaf, to_leaf in calls:
        start = T0 + dt.timedelta(minutes=minute)
        observer.call_started(CallStarted(call_id, f"1380013800{call_id[-1]}", flow_id, version, start, "agi"))
        for seq, (node, kind, key) in enumerate(visits):
            entered = start + dt.timedelta(seconds=5 * seq)
            observer.node_visited(
                NodeVisit(call_id, seq, node, kind, entered, entered + dt.timedelta(seconds=5), key=key)
            )
        ended = start + dt.timedelta(seconds=5 * len(visits))
        observer.call_ended(CallEnded(call_id, ended, outcome, visits[-1][0], leaf, to_leaf))


def filled_store(directory: Path, calls: list[CallScript], url: str | None = None) -> StatsStore:
    """A statistics store (SQLite in `directory` unless `url` names another) holding `calls`,
    written by the StatsRecorder."""
    keyer = CallerKeyer("caller-key-secret-for-tests")
    store = StatsStore.open(url or f"sqlite:///{directory / 'stats.db'}", keyer=keyer)
    recorder = StatsRecorder(store, directory / "spool")
    record_calls(recorder, calls)
    assert recorder.close()
    assert recorder.counts().written == sum(len(c[3]) for c in calls)
    return store
