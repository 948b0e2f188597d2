from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from pathlib import Path

from ivr_engine.stats.batch import Batch, CallRow, visit_values
from ivr_engine.stats.spool import Spool


def batch(call_id: str, visits: int = 2) -> Batch:
    t = dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)
    return Batch(
        visits=[
            visit_values(call_id=call_id, seq=s, flow_id="f", flow_version="1", node_id=f"n{s}", kind="menu",
                         entered_at=t, left_at=t + dt.timedelta(seconds=s), key=str(s))
            for s in range(visits)
        ]
    )  # fmt: skip


def test_round_trip_keeps_rows_and_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    batches = [batch("a"), batch("b", 3), batch("c")]
    for b in batches:
        spool.append(b)
    assert list(spool.read()) == batches
    spool.clear()
    assert not spool.pending and list(spool.read()) == []


def test_torn_last_record_is_cut_off_before_appending(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(batch("a"))
    spool.append(batch("b"))
    whole = spool.path.read_bytes()
    spool.path.write_bytes(whole[: len(whole) - 25])  # the crash tore record "b" mid-write
    reopened = Spool(tmp_path)
    reopened.append(batch("c"))
    assert [b.visits[0].call_id for b in reopened.read()] == ["a", "c"]


def test_a_torn_record_longer_than_the_block_read_back_is_cut_off_whole(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(batch("a"))
    intact = spool.path.stat().st_size
    spool.append(batch("b", 3000))  # about 300 KB: the tail is found several blocks back
    spool.path.write_bytes(spool.path.read_bytes()[:-1])
    assert Spool(tmp_path).path.stat().st_size == intact
    assert [b.visits[0].call_id for b in Spool(tmp_path).read()] == ["a"]
    spool.path.write_bytes(b"12:0000")  # nothing but a torn first record
    assert Spool(tmp_path).path.stat().st_size == 0


def test_the_spool_is_read_a_batch_at_a_time(tmp_path: Path) -> None:
    # After a long outage the spool may be larger than memory: a replay must never hold it whole.
    spool = Spool(tmp_path)
    for n in range(100):
        spool.append(batch(f"call-{n}", 1000))
    size = spool.path.stat().st_size
    tracemalloc.start()
    try:
        Spool(tmp_path)  # start-up checks the tail
        read = sum(1 for _ in Spool(tmp_path).entries())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == 100
    assert peak < size / 4, f"peak {peak:,} bytes reading a spool of {size:,}"


def test_damaged_record_is_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for name in "abc":
        spool.append(batch(name))
    lines = spool.path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"n1"', b'"n9"')  # same length, wrong checksum
    spool.path.write_bytes(b"\n".join(lines))
    assert [b.visits[0].call_id for b in spool.read()] == ["a", "c"]


def test_calls_spooled_before_the_took_shortcut_column_read_back_without_one(tmp_path: Path) -> None:
    """An engine upgraded while its spool held batches replays them (migration 0002 added a column)."""
    old_row = ["c1", "k", "f", "1", "2026-11-01 08:00:00.000000", "2026-11-01 08:01:00.000000", "served", "leaf",
               12.0, "leaf", 1, "agi", "root>leaf"]  # fmt: skip
    (call,) = Batch.from_json(json.dumps({"calls": [old_row], "visits": []})).calls
    assert call == CallRow(*old_row, took_shortcut=0)


def test_a_replay_cut_short_resumes_after_what_it_committed_even_after_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for name in "abc":
        spool.append(batch(name))
    (_, after_a), _, _ = spool.entries()
    spool.replayed_to(after_a)
    assert spool.pending and [b.visits[0].call_id for b in spool.read()] == ["b", "c"]
    assert [b.visits[0].call_id for b in Spool(tmp_path).read()] == ["b", "c"]
    spool.clear()
    assert not spool.pending
    spool.append(batch("d"))  # a new outage: nothing of it is taken for replayed
    assert [b.visits[0].call_id for b in Spool(tmp_path).read()] == ["d"]


def test_a_torn_or_impossible_replay_mark_replays_everything(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for name in "ab":
        spool.append(batch(name))
    marker = spool.path.with_suffix(".replayed")
    for damaged in (b"12", b"12\n", b"99999999\n", b""):  # torn; inside a record; beyond the spool; empty
        marker.write_bytes(damaged)
        assert [b.visits[0].call_id for b in Spool(tmp_path).read()] == ["a", "b"]


def test_a_mark_outliving_its_spool_hides_nothing_of_the_next(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(batch("a"))
    spool.append(batch("b"))
    (_, after_a), _ = spool.entries()
    spool.replayed_to(after_a)
    spool.path.write_bytes(b"")  # a crash inside clear(): the spool emptied, the mark still there
    restarted = Spool(tmp_path)
    restarted.append(batch("c"))  # the same length as "a": the old mark ends a record again
    restarted.append(batch("d"))
    assert [b.visits[0].call_id for b in Spool(tmp_path).read()] == ["c", "d"]
