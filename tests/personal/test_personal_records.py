"""Packed caller records: decay, counting, bookmarks, bounded size."""

from __future__ import annotations

import pytest

from ivr_engine.personal import records

HALF_LIFE = 30 * records.DAY
T0 = 1_790_000_000.0


def test_a_call_counts_one_and_halves_every_half_life() -> None:
    record = records.with_call(b"", 3, T0, HALF_LIFE)
    (entry,) = records.entries(record)
    assert (entry.service, entry.calls, entry.bookmarked) == (3, 1, False)
    assert entry.score_at(T0, HALF_LIFE) == pytest.approx(1.0)
    assert entry.score_at(T0 + HALF_LIFE, HALF_LIFE) == pytest.approx(0.5)


def test_repeated_calls_add_up_with_decay() -> None:
    record = records.with_call(b"", 3, T0, HALF_LIFE)
    record = records.with_call(record, 3, T0 + HALF_LIFE, HALF_LIFE)
    (entry,) = records.entries(record)
    assert entry.calls == 2
    assert entry.score_at(T0 + HALF_LIFE, HALF_LIFE) == pytest.approx(1.5, rel=1e-6)


def test_bookmark_toggles_and_an_entry_without_calls_goes_with_it() -> None:
    record = records.with_bookmark(b"", 5, True, T0, HALF_LIFE)
    assert [(e.service, e.calls, e.bookmarked) for e in records.entries(record)] == [(5, 0, True)]
    assert records.with_bookmark(record, 5, False, T0, HALF_LIFE) == b""
    used = records.with_bookmark(records.with_call(b"", 5, T0, HALF_LIFE), 5, True, T0, HALF_LIFE)
    kept = records.with_bookmark(used, 5, False, T0, HALF_LIFE)
    assert [(e.calls, e.bookmarked) for e in records.entries(kept)] == [(1, False)]


def test_a_record_keeps_its_best_entries_and_every_bookmark() -> None:
    record = records.with_bookmark(b"", 0, True, T0, HALF_LIFE)
    for service in range(1, 12):
        for _ in range(service):
            record = records.with_call(record, service, T0, HALF_LIFE)
    kept = {e.service for e in records.entries(record)}
    assert len(kept) == records.MAX_ENTRIES
    assert 0 in kept and {11, 10, 9} <= kept and 1 not in kept


def test_a_call_that_arrives_late_counts_as_of_when_it_was_made() -> None:
    # Another node's call read back after an outage can be older than one counted already: it is
    # worth what it would have been worth in order (as a load from the store weighs it).
    late = records.with_call(records.with_call(b"", 3, T0 + 2 * HALF_LIFE, HALF_LIFE), 3, T0, HALF_LIFE)
    in_order = records.with_call(records.with_call(b"", 3, T0, HALF_LIFE), 3, T0 + 2 * HALF_LIFE, HALF_LIFE)
    ((entry,), (expected,)) = records.entries(late), records.entries(in_order)
    assert entry.score_at(T0 + 2 * HALF_LIFE, HALF_LIFE) == pytest.approx(1.25, rel=1e-6)
    assert (entry.calls, entry.last_seen) == (expected.calls, expected.last_seen)
