"""The database goes away in the middle of a load; nothing recorded may be lost or doubled."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

import oracle
import pytest
import sqlalchemy as sa
from waiting import until_blocking

from ivr_engine.stats import reports
from ivr_engine.stats.models import Call, Visit
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.recorder import StatsRecorder
from ivr_engine.stats.store import StatsStore
from ivr_engine.stats.testing import (
    SYNTHETIC_FLOW,
    PostgresServer,
    play,
    synthetic_call,
)

KEYER = CallerKeyer("test-secret-0123456789")
wait_for = functools.partial(until_blocking, within=30.0)  # the recorder retries with backoff


def load(recorder: StatsRecorder, first: int, last: int) -> list[object]:
    events = [e for n in range(first, last) for e in synthetic_call(n)]
    play(recorder, events)
    return events


def assert_exactly(store: StatsStore, events: list[object], calls: int) -> None:
    with store.engine.connect() as conn:
        visit_keys = conn.execute(sa.select(Visit.call_id, Visit.seq)).all()
        assert conn.execute(sa.select(sa.func.count()).select_from(Call)).scalar_one() == calls
    assert sorted(visit_keys) == sorted((v.call_id, v.seq) for v in oracle.visits(events))
    nodes = {n.node_id: n.hits for n in reports.node_stats(store, reports.ReportFilter(flow_id=SYNTHETIC_FLOW))}
    assert nodes == dict(oracle.hits(events))
    assert sum(u.calls for u in store.service_uses(SYNTHETIC_FLOW)) == sum(1 for e in oracle.ends(events) if e.leaf)


def bookmark_while_down(recorder: StatsRecorder) -> None:
    """A caller bookmarks two services and takes one back."""
    for service, on in [("a", True), ("b", True), ("a", False)]:
        recorder.set_bookmark("caller", SYNTHETIC_FLOW, service, on=on)


def test_sqlite_locked_mid_load(tmp_path: Path) -> None:
    db = tmp_path / "stats.db"
    store = StatsStore.open(f"sqlite:///{db}", keyer=KEYER, busy_timeout=0.1)
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01, retry_initial=0.05, retry_max=0.2).start()
    events = load(recorder, 0, 200)
    wait_for(lambda: recorder.written == len(oracle.visits(events)), "the first calls to be written")

    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    events += load(recorder, 200, 400)
    bookmark_while_down(recorder)
    wait_for(lambda: recorder.spooled > 0 and recorder.backlog == 0, "batches to go to the spool")
    assert recorder.spool.pending
    blocker.execute("ROLLBACK")
    blocker.close()

    events += load(recorder, 400, 500)
    wait_for(lambda: not recorder.spool.pending, "the spool to be replayed")
    assert recorder.close(timeout=30)
    assert recorder.written == recorder.recorded == len(oracle.visits(events))
    assert_exactly(store, events, 500)
    assert store.bookmarks(SYNTHETIC_FLOW) == [("caller", "b")]
    store.close()


@pytest.mark.postgres
def test_postgresql_stopped_mid_load(postgres_server: PostgresServer, tmp_path: Path) -> None:
    store = StatsStore.open(postgres_server.create_database(), keyer=KEYER)
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01, retry_initial=0.05, retry_max=0.5).start()
    events = load(recorder, 0, 200)
    wait_for(lambda: recorder.written == len(oracle.visits(events)), "the first calls to be written")

    postgres_server.stop("fast")
    try:
        events += load(recorder, 200, 400)
        bookmark_while_down(recorder)
        wait_for(lambda: recorder.spooled > 0 and recorder.backlog == 0, "batches to go to the spool")
    finally:
        postgres_server.start()

    events += load(recorder, 400, 500)
    wait_for(lambda: not recorder.spool.pending, "the spool to be replayed")
    assert recorder.close(timeout=30)
    assert recorder.written == recorder.recorded == len(oracle.visits(events))
    assert_exactly(store, events, 500)
    assert store.bookmarks(SYNTHETIC_FLOW) == [("caller", "b")]
    store.close()


def test_spool_left_by_the_last_run_is_replayed_on_start(tmp_path: Path) -> None:
    db = tmp_path / "stats.db"
    store = StatsStore.open(f"sqlite:///{db}", keyer=KEYER, busy_timeout=0.05)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    previous = StatsRecorder(store, tmp_path / "spool", interval=0.01).start()
    events = load(previous, 0, 100)
    # The engine shuts down while the database is still unavailable: everything stays spooled.
    assert previous.close(timeout=30)
    assert previous.spooled == len(oracle.visits(events)) and previous.written == 0
    blocker.execute("ROLLBACK")
    blocker.close()
    restarted = StatsRecorder(store, tmp_path / "spool", interval=0.01).start()
    wait_for(lambda: not restarted.spool.pending, "the spool to be replayed")
    assert restarted.close(timeout=30)
    assert_exactly(store, events, 100)
    store.close()
