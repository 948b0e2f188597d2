from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette

from ivr_engine.config import WebSettings
from ivr_engine.flow.model import Announcement, Flow, Hangup, Menu, MenuOption, Queue
from ivr_engine.metrics import IvrMetrics, LiveCalls
from ivr_engine.web import create_app

TOKEN = "s3cret-dashboard-token-for-tests"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def hotline_flow(version: str = "1") -> Flow:
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
        title="12320 hotline",
        nodes={n.id: n for n in nodes},
    )


def make_app(
    metrics: IvrMetrics,
    live_calls: LiveCalls,
    *,
    stats_store: object = None,
    metrics_public: bool = False,
    checks: dict | None = None,
) -> Starlette:
    return create_app(
        WebSettings(token=TOKEN, metrics_public=metrics_public),
        stats_store=stats_store,
        flows={"hotline": hotline_flow()},
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
