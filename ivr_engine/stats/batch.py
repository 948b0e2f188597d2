"""A batch of statistics rows: the unit the recorder writes, spools and replays, and the importer loads.
Callers' bookmark changes travel in the same batches, so a database outage loses none either.

Rows are already keyed for privacy (caller_key, never a number), so a batch can go to the database
or, unchanged, to the spool as one JSON object. Visits, the bulk of all rows, are tuples in VisitRow's
column order with times already in the form the database stores (see db_time): the store hands them
to the driver as they are, with no per-value conversion. Calls are tuples in CallRow's order.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from ivr_engine.personal.peer_events import PeerBookmark, PeerCall, PeerEvent
from ivr_engine.stats.models import PATH_SEPARATOR

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class _Prefixes(dict[int, str]):
    """Formatted time prefixes by a count of seconds or minutes since the epoch, made by `make`.

    Formatting is most of the cost of turning an event into a row (datetime.isoformat takes
    microseconds here, two per visit); the visits written in one batch share few seconds, so a
    second's "YYYY-MM-DD HH:MM:SS." is formatted once, from its minute's, and only the microseconds
    per time.
    """

    LIMIT = 4096  # prefixes remembered; a day of quiet traffic would otherwise keep 86,400

    def __init__(self, make: Callable[[int], str]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, count: int) -> str:
        if len(self) >= self.LIMIT:
            self.clear()
        prefix = self[count] = self.make(count)
        return prefix


def _minute_prefix(minute: int) -> str:
    t = _EPOCH + dt.timedelta(minutes=minute)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:"


_MINUTES = _Prefixes(_minute_prefix)
_SECONDS = _Prefixes(lambda second: f"{_MINUTES[second // 60]}{second % 60:02d}.")
_DIGITS = [f"{n:03d}" for n in range(1000)]  # "000" ... "999": two look-ups cost less than "{:06d}"


def db_time(moment: dt.datetime) -> str:
    """Naive UTC in SQLAlchemy's SQLite DateTime format ("2026-11-01 08:30:00.000000"), which
    PostgreSQL also parses."""
    try:
        # One subtraction converts any time zone to UTC and gives the second to look up; reading
        # year, month, ... hour, second one by one costs more.
        since = moment - _EPOCH
    except TypeError:  # naive: local time, as datetime.astimezone takes it
        since = moment.astimezone(dt.UTC) - _EPOCH
    micro = since.microseconds
    return f"{_SECONDS[since.days * 86_400 + since.seconds]}{_DIGITS[micro // 1000]}{_DIGITS[micro % 1000]}"


def db_time_seconds(text: str) -> float:
    """Unix time of a `db_time` string."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


class VisitRow(NamedTuple):
    call_id: str
    seq: int
    flow_id: str
    flow_version: str
    node_id: str
    kind: str
    entered_at: str  # db_time
    left_at: str  # db_time
    seconds: float
    key: str | None
    timeouts: int
    invalid_keys: int
    via_shortcut: int  # 0/1, as the database's boolean is bound (see VisitValues)
    first_in_call: int


class CallRow(NamedTuple):
    call_id: str
    caller_key: str | None
    flow_id: str
    flow_version: str
    started_at: str  # db_time
    ended_at: str  # db_time
    outcome: str
    leaf: str | None
    seconds_to_leaf: float | None
    final_node: str | None
    personalized: int  # 0/1
    channel: str
    path: str  # node ids joined by PATH_SEPARATOR
    # 0/1; the default reads rows spooled before the column existed (migration 0002)
    took_shortcut: int = 0


class BookmarkRow(NamedTuple):
    """A caller adding (on) or removing a bookmark. Applied in order, so a replay ends where the
    caller did."""

    caller_key: str
    flow_id: str
    service: str  # the service's node id
    on: int  # 0/1
    at: str  # db_time


# The same rows as plain tuples, as the recorder makes them, with flags as 0/1. The garbage
# collector stops tracking a plain tuple of strings and numbers at its first pass, but walks a
# NamedTuple (a tuple subclass) at every pass for as long as it lives; and sqlite3 binds an int
# directly but a bool through its adapter registry. (bool is an int: a VisitRow is a VisitValues.)
VisitValues = tuple[str, int, str, str, str, str, str, str, float, str | None, int, int, int, int]
CallValues = tuple[str, str | None, str, str, str, str, str, str | None, float | None, str | None, int, str, str, int]


@dataclass(slots=True)
class Batch:
    calls: list[CallValues] = field(default_factory=list)  # CallRow or its plain tuple
    visits: list[VisitValues] = field(default_factory=list)  # VisitRow or its plain tuple
    bookmarks: list[BookmarkRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.calls or self.visits or self.bookmarks)

    def to_json(self) -> str:
        return json.dumps(
            {"calls": self.calls, "visits": self.visits, "bookmarks": self.bookmarks}, separators=(",", ":")
        )

    def halves(self) -> tuple[Batch, Batch] | None:
        """The rows in two batches of about half each, in order; None for a batch of one row."""
        cut = (len(self.calls) + len(self.visits) + len(self.bookmarks)) // 2
        if cut == 0:
            return None
        first, second = Batch(), Batch()
        for rows, into_first, into_second in (
            (self.calls, first.calls, second.calls),
            (self.visits, first.visits, second.visits),
            (self.bookmarks, first.bookmarks, second.bookmarks),
        ):
            take = min(len(rows), cut)
            cut -= take
            into_first.extend(rows[:take])
            into_second.extend(rows[take:])
        return first, second

    @classmethod
    def joined(cls, batches: Iterable[Batch]) -> Batch:
        whole = cls()
        for batch in batches:
            whole.calls.extend(batch.calls)
            whole.visits.extend(batch.visits)
            whole.bookmarks.extend(batch.bookmarks)
        return whole

    def peer_events(self) -> list[PeerEvent]:
        """What the batch tells personal menus: calls at a leaf from known callers, then the
        bookmark changes in order (the two commute)."""
        calls: list[PeerEvent] = [
            PeerCall(call_id, caller_key, flow_id, leaf, db_time_seconds(ended_at))
            for call_id, caller_key, flow_id, _, _, ended_at, _, leaf, *_ in self.calls
            if caller_key and leaf
        ]
        return calls + [PeerBookmark(c, f, service, on=bool(on)) for c, f, service, on, _ in self.bookmarks]

    @classmethod
    def from_json(cls, text: str) -> Batch:
        data = json.loads(text)
        return cls(
            calls=[CallRow(*c) for c in data["calls"]],
            visits=[VisitRow(*v) for v in data["visits"]],
            # spooled before bookmarks were
            bookmarks=[BookmarkRow(*b) for b in data.get("bookmarks", ())],
        )


def visit_values(
    call_id: str,
    seq: int,
    flow_id: str,
    flow_version: str,
    node_id: str,
    kind: str,
    entered_at: dt.datetime,
    left_at: dt.datetime,
    key: str | None = None,
    timeouts: int = 0,
    invalid_keys: int = 0,
    via_shortcut: bool = False,
    first_in_call: bool = True,
) -> VisitValues:
    """A visit as the plain tuple the recorder batches (`VisitRow(*values)` names its fields)."""
    seconds = (left_at - entered_at).total_seconds()
    return (
        call_id, seq, flow_id, flow_version, node_id, kind, db_time(entered_at), db_time(left_at),
        seconds if seconds > 0 else 0.0, key, timeouts, invalid_keys, 1 if via_shortcut else 0,
        1 if first_in_call else 0,
    )  # fmt: skip


def call_row(
    *,
    call_id: str,
    caller_key: str | None,
    flow_id: str,
    flow_version: str,
    started_at: dt.datetime,
    ended_at: dt.datetime,
    outcome: str,
    leaf: str | None,
    seconds_to_leaf: float | None,
    final_node: str | None,
    path: list[str],
    personalized: bool = False,
    channel: str = "agi",
    took_shortcut: bool = False,
) -> CallRow:
    return CallRow(
        call_id, caller_key, flow_id, flow_version, db_time(started_at), db_time(ended_at), outcome, leaf,
        seconds_to_leaf, final_node, 1 if personalized else 0, channel, PATH_SEPARATOR.join(path),
        1 if took_shortcut else 0,
    )  # fmt: skip
