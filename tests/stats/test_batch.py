from __future__ import annotations

import datetime as dt
import zoneinfo

from hypothesis import given
from hypothesis import strategies as st

from ivr_engine.stats.batch import Batch, BookmarkRow, db_time

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
