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
from ivr_engine.stats.batch import Batch, BookmarkRow, call_row, db_time
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


SECRET, CALLER = "engine-start-test-secret", "13800000007"
HOTLINE = REPO / "flows" / "hotline-12320.yaml"


def engine_with_a_spooled_bookmark(tmp_path: Path, url: str) -> Settings:
    """The settings of an engine whose last run stopped during a database outage with a caller's
    bookmark in its spool."""
    key = CallerKeyer(SECRET).key(CALLER)
    at = db_time(dt.datetime.now(dt.UTC))
    Spool(tmp_path / "spool").append(Batch(bookmarks=[BookmarkRow(key, load_flow(HOTLINE).id, "flu.symptoms", 1, at)]))
    return Settings(
        flows={"default": str(HOTLINE)},
        audio_dir=str(REPO / "prompts" / "audio"),
        voicemail_dir=str(tmp_path / "voicemail"),
        agi=AGISettings(port=0),
        web=WebSettings(enabled=False),
        stats=StatsSettings(url=url, spool_dir=str(tmp_path / "spool"), caller_key_secret=SECRET),
        base_dir=str(REPO),
    )


def offered(engine: Engine) -> list[str]:
    root = engine.personal.root_for(CALLER, engine.service.library.get(None).flow)
    return [s.target for s in root.shortcuts] if root else []


def stored_bookmarks(url: str) -> list[tuple[str, str]]:
    store = StatsStore.open(url, keyer=CallerKeyer(SECRET))
    try:
        return store.bookmarks(load_flow(HOTLINE).id)
    finally:
        store.close()


def test_what_the_last_run_spooled_is_in_the_personal_menus_before_it_is_replayed(tmp_path: Path) -> None:
    settings = engine_with_a_spooled_bookmark(tmp_path, f"sqlite:///{tmp_path / 'stats.db'}")
    engine = Engine.build(settings)
    assert offered(engine) == ["flu.symptoms"]
    engine.close()  # the recorder writes what it replays
    assert stored_bookmarks(settings.stats.url) == [(CallerKeyer(SECRET).key(CALLER), "flu.symptoms")]


@pytest.mark.postgres
async def test_an_engine_starts_and_answers_while_the_database_is_down(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database()
    # The site's statistics exist, with the caller's call of yesterday (written then); their server is down.
    ended = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    store = StatsStore.open(url, clock=lambda: ended.timestamp() + 1)
    store.write_batch(Batch(calls=[call_row(
        call_id="yesterday", caller_key=CallerKeyer(SECRET).key(CALLER), flow_id=load_flow(HOTLINE).id,
        flow_version="1", started_at=ended - dt.timedelta(seconds=30), ended_at=ended, outcome="served",
        leaf="food.home", seconds_to_leaf=20.0, final_node="food.home", path=["welcome", "food.home"],
    )]))  # fmt: skip
    store.close()
    settings = engine_with_a_spooled_bookmark(tmp_path, url)
    postgres_server.stop("fast")
    down = True
    try:
        engine = Engine.build(settings)
        assert offered(engine) == ["flu.symptoms"]  # from the spool: the store cannot be read
        async with engine.running():
            assert listening(engine.service.agi.port)
            postgres_server.start()
            down = False
            async with asyncio.timeout(30):  # the recorder and the history read retry with backoff
                while engine.recorder.spool.pending or len(offered(engine)) < 2:
                    await asyncio.sleep(0.1)
            # the caller's call in the store, read once it is back, beside the spooled bookmark
            assert sorted(offered(engine)) == ["flu.symptoms", "food.home"]
    finally:
        if down:
            postgres_server.start()
    assert stored_bookmarks(url) == [(CallerKeyer(SECRET).key(CALLER), "flu.symptoms")]
