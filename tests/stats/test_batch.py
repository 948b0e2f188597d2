from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given
from hypothesis import strategies as st

from ivr_engine.personal.peer_events import PeerBookmark, PeerCall
from ivr_engine.stats.batch import Batch, BookmarkRow, CallRow, call_row, db_time

MOMENTS = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1))


@given(MOMENTS, st.sampled_from([dt.UTC, zoneinfo.ZoneInfo("Asia/Shanghai"), dt.timezone(dt.timedelta(hours=-5))]))
def test_db_time_is_sqlalchemys_format_of_the_utc_time(moment: dt.datetime, zone: dt.tzinfo) -> None:
    aware = moment.replace(tzinfo=zone)
    expected = aware.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    assert db_time(aware) == expected


def test_a_batch_keeps_its_bookmark_changes_in_order_through_the_spool_format() -> None:
    at = db_time(dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC))
    batch = Batch(bookmarks=[BookmarkRow("k", "hotline", "flu", 1, at), BookmarkRow("k", "hotline", "flu", 0, at)])
    assert batch
    assert Batch.from_json(batch.to_json()) == batch


def test_a_batch_spooled_before_bookmarks_travelled_in_batches_still_reads() -> None:
    assert Batch.from_json('{"calls":[],"visits":[]}') == Batch()


def test_what_a_batch_tells_personal_menus_is_its_calls_at_a_leaf_from_known_callers_and_its_bookmarks() -> None:
    ended = dt.datetime(2026, 12, 3, 9, 1, tzinfo=dt.UTC)

    def call(call_id: str, caller_key: str | None, leaf: str | None) -> CallRow:
        return call_row(
            call_id=call_id, caller_key=caller_key, flow_id="hotline", flow_version="1", started_at=ended,
            ended_at=ended, outcome="served", leaf=leaf, seconds_to_leaf=None, final_node=leaf, path=[],
        )  # fmt: skip

    batch = Batch(
        calls=[call("c1", "k", "flu"), call("c2", None, "flu"), call("c3", "k", None)],
        bookmarks=[BookmarkRow("k", "hotline", "flu", 0, db_time(ended))],
    )
    assert batch.peer_events() == [
        PeerCall("c1", "k", "hotline", "flu", ended.timestamp()),
        PeerBookmark("k", "hotline", "flu", on=False),
    ]


@given(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5))
def test_halves_keep_every_row_in_order_and_split_until_one(calls: int, visits: int, bookmarks: int) -> None:
    at = db_time(dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC))
    batch = Batch(
        calls=[("c", n) for n in range(calls)],  # type: ignore[misc]
        visits=[("v", n) for n in range(visits)],  # type: ignore[misc]
        bookmarks=[BookmarkRow("k", "f", str(n), n % 2, at) for n in range(bookmarks)],
    )
    halves = batch.halves()
    rows = calls + visits + bookmarks
    if rows < 2:
        assert halves is None
        return
    assert halves is not None
    first, second = halves
    assert Batch.joined(halves) == batch
    assert all(0 < len(b.calls) + len(b.visits) + len(b.bookmarks) < rows for b in halves)
    assert abs((len(first.calls) + len(first.visits) + len(first.bookmarks)) - rows / 2) <= 0.5
