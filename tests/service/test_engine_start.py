"""An engine that cannot start leaves nothing running behind it."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
from pathlib import Path

import httpx
import pytest

from ivr_engine.app import Engine
from ivr_engine.config import AGISettings, Settings, StatsSettings, WebSettings
from ivr_engine.flow.loader import load_flow
from ivr_engine.stats.batch import Batch, BookmarkRow, db_time
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.spool import Spool
from ivr_engine.stats.store import StatsStore
from ivr_engine.stats.testing import PostgresServer

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


async def test_a_taken_agi_port_stops_the_dashboard_and_the_recorder(tmp_path: Path) -> None:
    web_port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = Settings(
            flows={"default": str(REPO / "flows" / "hotline-12320.yaml")},
            audio_dir=str(REPO / "prompts" / "audio"),
            voicemail_dir=str(tmp_path / "voicemail"),
            agi=AGISettings(port=taken.getsockname()[1]),
            web=WebSettings(port=web_port, token="engine-start-test-token-0123456789"),
            stats=StatsSettings(
                url=f"sqlite:///{tmp_path / 'stats.db'}",
                spool_dir=str(tmp_path / "spool"),
                caller_key_secret="engine-start-test-secret",
            ),
            base_dir=str(REPO),
        )
        threads = set(threading.enumerate())
        engine = Engine.build(settings)
        others = asyncio.all_tasks()
        with pytest.raises(OSError):
            async with engine.running():
                pytest.fail("the engine ran with its FastAGI port taken")
    assert asyncio.all_tasks() <= others  # no dashboard, no reload loop left behind
    assert not listening(web_port)
    assert set(threading.enumerate()) <= threads  # the statistics writer closed too


@pytest.mark.postgres
async def test_on_postgresql_the_engine_listens_for_other_nodes_and_reports_it(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    web_port = free_port()
    settings = Settings(
        flows={"default": str(REPO / "flows" / "hotline-12320.yaml")},
        audio_dir=str(REPO / "prompts" / "audio"),
        voicemail_dir=str(tmp_path / "voicemail"),
        agi=AGISettings(port=0),
        web=WebSettings(port=web_port, token="engine-start-test-token-0123456789"),
        stats=StatsSettings(
            url=postgres_server.create_database(),
            spool_dir=str(tmp_path / "spool"),
            caller_key_secret="engine-start-test-secret",
        ),
        base_dir=str(REPO),
    )
    engine = Engine.build(settings)
    async with engine.running():
        assert engine.peers is not None and await asyncio.to_thread(engine.peers.wait_listening, 10)
        async with httpx.AsyncClient() as client:
            for _ in range(100):  # the dashboard starts in the background
                try:
                    health = (await client.get(f"http://127.0.0.1:{web_port}/healthz")).json()
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
    assert health["checks"]["peers"] == {"ok": True, "detail": "hearing other nodes' calls and bookmarks"}
    assert "personal-peers" not in {t.name for t in threading.enumerate()}  # stopped with the engine


def test_what_the_last_run_spooled_is_in_the_personal_menus_before_it_is_replayed(tmp_path: Path) -> None:
    # The last run stopped during a database outage with a caller's bookmark in its spool.
    secret, caller = "engine-start-test-secret", "13800000007"
    key = CallerKeyer(secret).key(caller)
    flow_id = load_flow(REPO / "flows" / "hotline-12320.yaml").id
    at = db_time(dt.datetime.now(dt.UTC))
    Spool(tmp_path / "spool").append(Batch(bookmarks=[BookmarkRow(key, flow_id, "flu.symptoms", 1, at)]))
    settings = Settings(
        flows={"default": str(REPO / "flows" / "hotline-12320.yaml")},
        audio_dir=str(REPO / "prompts" / "audio"),
        voicemail_dir=str(tmp_path / "voicemail"),
        stats=StatsSettings(
            url=f"sqlite:///{tmp_path / 'stats.db'}", spool_dir=str(tmp_path / "spool"), caller_key_secret=secret
        ),
        base_dir=str(REPO),
    )
    engine = Engine.build(settings)
    flow = engine.service.library.get(None).flow
    root = engine.personal.root_for(caller, flow)
    assert root is not None and [s.target for s in root.shortcuts] == ["flu.symptoms"]
    engine.close()  # the recorder writes what it replays
    store = StatsStore.open(settings.stats.url, keyer=CallerKeyer(secret))
    try:
        assert store.bookmarks(flow_id) == [(key, "flu.symptoms")]
    finally:
        store.close()
