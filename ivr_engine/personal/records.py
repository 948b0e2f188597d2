"""One caller's service history, packed small enough to hold a million callers in memory.

A record is a `bytes` object of fixed-size entries, one per service the caller used or bookmarked:
service index, calls, flags, last call (unix seconds) and a recency-weighted score. The score is
exponentially decayed with a half-life: one call counts 1 when it happens, 1/2 one half-life
later, so a service used weekly last month outranks one used daily last year. It is stored as of
the entry's last call and decayed on read, so a record only changes when the caller calls.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import NamedTuple

DAY = 86_400.0
# service index, calls (saturating), flags, last call (unix s), score as of the last call
_ENTRY = struct.Struct("<HHBIf")
_MAX_CALLS = 0xFFFF
BOOKMARKED = 1
# Entries beyond this are evicted (lowest decayed score, never a bookmark): a caller who tried every
# service keeps the few that could ever become a shortcut, and memory stays bounded. Bookmarks are
# all kept, however many (the store keeps them all, and ** at one must find it to remove it).
MAX_ENTRIES = 8


class Entry(NamedTuple):  # a tuple: millions are made when history loads
    service: int
    calls: int
    bookmarked: bool
    last_seen: float  # unix seconds
    score: float  # decayed score as of `last_seen`

    def score_at(self, now: float, half_life: float) -> float:
        return self.score * decay(now - self.last_seen, half_life)


def decay(seconds: float, half_life: float) -> float:
    return math.exp2(-max(0.0, seconds) / half_life)


def entries(record: bytes) -> Iterator[Entry]:
    for service, calls, flags, last_seen, score in _ENTRY.iter_unpack(record):
        yield Entry(service, calls, bool(flags & BOOKMARKED), float(last_seen), score)


def pack(items: list[Entry], now: float, half_life: float, current: int | None = None) -> bytes:
    """The entries as a record; over MAX_ENTRIES, the weakest go, never a bookmark nor the entry
    of `current`, the service just used (else a new service could never get in)."""
    if len(items) > MAX_ENTRIES:
        kept = [e for e in items if e.bookmarked or e.service == current]
        rest = [e for e in items if not (e.bookmarked or e.service == current)]
        rest.sort(key=lambda e: -e.score_at(now, half_life))
        items = kept + rest[: max(0, MAX_ENTRIES - len(kept))]
    return b"".join(
        _ENTRY.pack(e.service, min(e.calls, _MAX_CALLS), BOOKMARKED if e.bookmarked else 0, int(e.last_seen), e.score)
        for e in items
    )


def with_call(record: bytes, service: int, at: float, half_life: float) -> bytes:
    """The record after one more call to `service` at unix time `at`."""
    items = list(entries(record))
    for i, e in enumerate(items):
        if e.service == service:
            # A call older than the entry's last (another node's, read back late) is decayed to it.
            when = max(at, e.last_seen)
            score = e.score_at(when, half_life) + decay(when - at, half_life)
            items[i] = Entry(service, e.calls + 1, e.bookmarked, when, score)
            break
    else:
        items.append(Entry(service, 1, False, at, 1.0))
    return pack(items, at, half_life, current=service)


def with_bookmark(record: bytes, service: int, on: bool, at: float, half_life: float) -> bytes:
    """The record with `service` bookmarked (`on`) or not; an entry left with no calls goes."""
    items = list(entries(record))
    for i, e in enumerate(items):
        if e.service == service:
            items[i] = Entry(service, e.calls, on, e.last_seen, e.score)
            break
    else:
        if on:
            items.append(Entry(service, 0, True, at, 0.0))
    return pack([e for e in items if e.bookmarked or e.calls > 0], at, half_life, current=service)
