"""The database goes away in the middle of a load; nothing recorded may be lost or doubled."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import sqlite3
import threading
from pathlib import Path

import oracle
import pytest
import sqlalchemy as sa
import structlog
from waiting import until_blocking

from ivr_engine.app import stats_health
from ivr_engine.runtime.events import NodeVisit
from ivr_engine.stats import reports
from ivr_engine.stats import spool as spool_module
from ivr_engine.stats.batch import Batch, BookmarkRow, db_time
from ivr_engine.stats.models import Call, Visit
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.recorder import StatsRecorder
from ivr_engine.stats.spool import Spool
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


def disk_full(store: StatsStore) -> object:
    """SQLite may not grow the database file any further, as on a full disk; returns the listener."""

    def on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        (pages,) = dbapi_connection.execute("PRAGMA page_count").fetchone()
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    sa.event.listen(store.engine, "connect", on_connect)
    store.engine.dispose()
    return on_connect


def test_a_full_disk_under_sqlite_spools_and_the_writer_goes_on(tmp_path: Path) -> None:
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=KEYER)
    full = disk_full(store)
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01, retry_initial=0.05, retry_max=0.2).start()
    events = load(recorder, 0, 100)
    wait_for(lambda: recorder.spooled == len(oracle.visits(events)), "the calls to be spooled")
    assert recorder.written == 0 and recorder._thread.is_alive()
    assert not stats_health(recorder, store).ok

    sa.event.remove(store.engine, "connect", full)  # room again
    store.engine.dispose()
    more = load(recorder, 100, 150)
    wait_for(lambda: recorder.written == len(oracle.visits(events + more)), "the spool and the new calls")
    assert recorder.close(timeout=30) and not recorder.spool.pending
    assert_exactly(store, events + more, 150)
    assert stats_health(recorder, store).ok
    store.close()


def test_batches_wait_in_memory_while_neither_the_database_nor_the_spool_takes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "stats.db"
    store = StatsStore.open(f"sqlite:///{db}", keyer=KEYER, busy_timeout=0.05)
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01, retry_initial=0.05, retry_max=0.2)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    spool_append = recorder.spool.append

    def no_space(batch: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recorder.spool, "append", no_space)
    recorder.start()
    events = load(recorder, 0, 100)
    wait_for(lambda: recorder.unspooled == len(oracle.visits(events)), "every visit held in memory")
    health = stats_health(recorder, store)
    assert not health.ok and "held in memory" in health.detail

    monkeypatch.setattr(recorder.spool, "append", spool_append)  # the disk has room again
    wait_for(lambda: recorder.spool.pending and not recorder.unspooled, "the batches to be spooled")
    blocker.execute("ROLLBACK")
    blocker.close()
    more = load(recorder, 100, 120)
    wait_for(lambda: recorder.written == len(oracle.visits(events + more)), "everything to be written")
    assert recorder.close(timeout=30)
    assert_exactly(store, events + more, 120)
    store.close()


@pytest.mark.postgres
def test_only_the_rows_the_database_refuses_are_set_aside_and_the_rest_is_written(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    store = StatsStore.open(postgres_server.create_database(), keyer=KEYER)
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01)
    refused = [
        e if not isinstance(e, NodeVisit) or e.seq != 1 else dataclasses.replace(e, node_id="n" * 129)  # too long
        for e in synthetic_call(0)
    ]
    events = refused + load(recorder, 1, 50)
    play(recorder, refused)
    with structlog.testing.capture_logs() as logs:
        recorder.start()  # one batch: the refused visit among 49 good calls
        assert recorder.close(timeout=30) and not recorder.spool.pending
    written = [e for e in events if not (isinstance(e, NodeVisit) and e.call_id == refused[0].call_id and e.seq == 1)]
    assert_exactly(store, written, 50)
    (kept,) = recorder.refused_batches.read()  # nothing lost: kept in the spool's format
    assert (kept.calls, [v.node_id for v in kept.visits]) == ([], ["n" * 129])
    assert recorder.refused == 1 and [e["event"] for e in logs if e["log_level"] == "error"] == [
        "stats batch refused by the database, set aside"
    ]
    health = stats_health(recorder, store)
    assert not health.ok and str(recorder.refused_batches.path) in health.detail
    store.close()


def test_a_writer_step_that_fails_is_logged_and_the_writer_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=KEYER)
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01, retry_initial=0.01)
    assemble = recorder._assemble
    failures: list[int] = []

    def fails_once() -> object:
        if not failures:
            failures.append(1)
            raise RuntimeError("a bug in making rows")
        return assemble()

    monkeypatch.setattr(recorder, "_assemble", fails_once)
    with structlog.testing.capture_logs() as logs:
        recorder.start()
        wait_for(lambda: failures, "the failing step")
        events = load(recorder, 0, 20)
        wait_for(lambda: recorder.written == len(oracle.visits(events)), "the calls after it")
    assert recorder.close(timeout=30)
    assert [log["event"] for log in logs if log["log_level"] == "error"] == ["stats writer step failed"]
    store.close()


def test_a_replay_cut_short_does_not_apply_its_committed_bookmarks_again(tmp_path: Path) -> None:
    """Node A's replay commits a bookmark, then the database goes again; meanwhile the caller removes
    the bookmark on node B. A's next replay must not set it again."""
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=KEYER)
    recorder = StatsRecorder(store, tmp_path / "spool")
    at = db_time(dt.datetime(2026, 11, 23, 2, tzinfo=dt.UTC))
    recorder.spool.append(Batch(bookmarks=[BookmarkRow("caller", SYNTHETIC_FLOW, "a", 1, at)]))
    recorder.spool.append(Batch(bookmarks=[BookmarkRow("caller", SYNTHETIC_FLOW, "b", 1, at)]))
    write_batch = store.write_batch
    writes: list[Batch] = []

    def gone_at_the_second(batch: Batch) -> object:
        writes.append(batch)
        if len(writes) == 2:
            raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection"))
        return write_batch(batch)

    store.write_batch = gone_at_the_second  # type: ignore[method-assign]
    recorder._replay()
    assert store.bookmarks(SYNTHETIC_FLOW) == [("caller", "a")] and recorder.spool.pending
    store.remove_bookmark("caller", SYNTHETIC_FLOW, "a")  # on node B
    recorder._replay()
    assert store.bookmarks(SYNTHETIC_FLOW) == [("caller", "b")] and not recorder.spool.pending
    store.close()


def test_a_healthy_write_in_hand_is_not_reported_as_held_in_memory(tmp_path: Path) -> None:
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=KEYER)
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01)
    inside, release = threading.Event(), threading.Event()
    write_batch = store.write_batch

    def slow(batch: Batch) -> object:  # a big batch, a busy server: healthy, not instant
        inside.set()
        release.wait(5)
        return write_batch(batch)

    store.write_batch = slow  # type: ignore[method-assign]
    recorder.start()
    events = load(recorder, 0, 5)
    assert inside.wait(5)
    health = stats_health(recorder, store)
    release.set()
    assert recorder.close(timeout=30)
    assert health.ok, health
    assert_exactly(store, events, 5)
    store.close()


def store_with_a_spooled_bookmark(tmp_path: Path) -> StatsStore:
    """A SQLite store, and in tmp_path/spool a bookmark an outage left there."""
    at = db_time(dt.datetime(2026, 11, 23, 2, tzinfo=dt.UTC))
    Spool(tmp_path / "spool").append(Batch(bookmarks=[BookmarkRow("caller", SYNTHETIC_FLOW, "a", 1, at)]))
    return StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=KEYER)


def test_a_replay_mark_the_full_disk_refuses_neither_repeats_the_bookmarks_nor_stalls_new_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_with_a_spooled_bookmark(tmp_path)

    def no_space(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool_module, "_write_durably", no_space)
    write_batch = store.write_batch
    bookmark_writes: list[int] = []

    def counting(batch: Batch) -> object:
        bookmark_writes.extend([1] if batch.bookmarks else [])
        return write_batch(batch)

    store.write_batch = counting  # type: ignore[method-assign]
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01, retry_initial=0.05).start()
    events = load(recorder, 0, 5)
    wait_for(lambda: recorder.written == len(oracle.visits(events)), "the new calls")
    assert recorder.close(timeout=30)
    assert bookmark_writes == [1] and store.bookmarks(SYNTHETIC_FLOW) == [("caller", "a")]
    store.close()


def test_a_crash_while_the_spool_is_emptied_does_not_apply_its_bookmarks_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_with_a_spooled_bookmark(tmp_path)
    recorder = StatsRecorder(store, tmp_path / "spool")

    class Crash(BaseException):
        pass

    def opening(path: Path, mode: str = "r", *args: object, **kwargs: object) -> object:
        if mode == "r+b":
            raise Crash  # the process dies as clear() empties the spool
        return open(path, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(spool_module, "open", opening, raising=False)
    with pytest.raises(Crash):
        recorder._replay()
    monkeypatch.undo()
    store.remove_bookmark("caller", SYNTHETIC_FLOW, "a")  # meanwhile, on another node
    StatsRecorder(store, tmp_path / "spool")._replay()  # the restart
    assert store.bookmarks(SYNTHETIC_FLOW) == []
    store.close()


def test_a_bookmark_is_kept_before_the_caller_is_told(tmp_path: Path) -> None:
    # The caller hears the confirmation once set_bookmark returns: by then a crash must not lose it,
    # though the writer would otherwise sleep out its interval first.
    db = tmp_path / "stats.db"
    store = StatsStore.open(f"sqlite:///{db}", keyer=KEYER, busy_timeout=0.05)
    recorder = StatsRecorder(store, tmp_path / "spool", interval=60.0, retry_initial=60.0).start()
    recorder.set_bookmark("caller", SYNTHETIC_FLOW, "a", on=True)
    assert store.bookmarks(SYNTHETIC_FLOW) == [("caller", "a")]  # committed

    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the database is locked: spooled, fsync'd
    recorder.set_bookmark("caller", SYNTHETIC_FLOW, "a", on=False)
    (spooled,) = Spool(tmp_path / "spool").read()
    assert [(row.service, row.on) for row in spooled.bookmarks] == [("a", 0)]
    blocker.execute("ROLLBACK")
    blocker.close()
    assert recorder.close(timeout=30)
    assert store.bookmarks(SYNTHETIC_FLOW) == []
    store.close()


def test_a_database_lost_while_a_refused_batch_is_split_spools_what_is_not_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=KEYER)
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01, retry_initial=0.01, retry_max=0.05)
    bad = synthetic_call(7)[2]
    assert isinstance(bad, NodeVisit)
    write, writes = store.write_batch, []

    def refuses_one_visit_and_goes_away_once(batch: Batch) -> object:
        writes.append(batch)
        if len(writes) == 3:  # the database goes away in the middle of the split
            raise sa.exc.OperationalError("stats batch", None, Exception("server closed the connection"))
        if any(v.call_id == bad.call_id and v.seq == bad.seq for v in batch.visits):
            raise sa.exc.DataError("stats batch", None, Exception("value too long"))
        return write(batch)

    monkeypatch.setattr(store, "write_batch", refuses_one_visit_and_goes_away_once)
    events = load(recorder, 0, 40)
    recorder.start()
    wait_for(lambda: not recorder.backlog and not recorder.spool.pending and recorder.refused, "the replay")
    assert recorder.close(timeout=30)
    good = [e for e in events if not (isinstance(e, NodeVisit) and (e.call_id, e.seq) == (bad.call_id, bad.seq))]
    assert_exactly(store, good, 40)  # every row the database takes, once
    (kept,) = recorder.refused_batches.read()
    assert [(v.call_id, v.seq) for v in kept.visits] == [(bad.call_id, bad.seq)]
    store.close()
