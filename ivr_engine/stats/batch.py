"""A batch of statistics rows: the unit the recorder writes, spools and replays, and the importer loads.

Rows are already keyed for privacy (caller_key, never a number), so a batch can go to the database
or, unchanged, to the spool as one JSON object. Visits, the bulk of all rows, are VisitRow tuples in
column order with times already in the form the database stores (see db_time): the store hands them
to the driver as they are, with no per-value conversion. Calls are dicts for SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import NamedTuple

from ivr_engine.stats.models import PATH_SEPARATOR


class _SecondPrefixes(dict[tuple[int, int, int, int, int, int], str]):
    """"YYYY-MM-DD HH:MM:SS." by (year, month, day, hour, minute, second).

    Formatting is most of the cost of turning an event into a row (datetime.isoformat takes
    microseconds here, two per visit); the visits written in one batch share few seconds, so the
    prefix is formatted once per second and only the microseconds per time.
    """

    LIMIT = 4096  # seconds remembered; a day of quiet traffic would otherwise keep 86,400

    def __missing__(self, second: tuple[int, int, int, int, int, int]) -> str:
        if len(self) >= self.LIMIT:
            self.clear()
        year, month, day, hour, minute, sec = second
        prefix = self[second] = f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{sec:02d}."
        return prefix


_PREFIXES = _SecondPrefixes()


def db_time(moment: dt.datetime) -> str:
    """Naive UTC in SQLAlchemy's SQLite DateTime format ("2026-11-01 08:30:00.000000"), which
    PostgreSQL also parses."""
    utc = moment if moment.tzinfo is dt.UTC else moment.astimezone(dt.UTC)
    second = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
    return f"{_PREFIXES[second]}{utc.microsecond:06d}"


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
    via_shortcut: bool
    first_in_call: bool


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
    personalized: bool
    channel: str
    path: str  # node ids joined by PATH_SEPARATOR


@dataclass(slots=True)
class Batch:
    calls: list[CallRow] = field(default_factory=list)
    visits: list[VisitRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.calls or self.visits)

    def to_json(self) -> str:
        return json.dumps({"calls": self.calls, "visits": self.visits}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Batch:
        data = json.loads(text)
        return cls(calls=[CallRow(*c) for c in data["calls"]], visits=[VisitRow(*v) for v in data["visits"]])


def visit_row(
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
) -> VisitRow:
    seconds = (left_at - entered_at).total_seconds()
    return VisitRow(
        call_id, seq, flow_id, flow_version, node_id, kind, db_time(entered_at), db_time(left_at),
        seconds if seconds > 0 else 0.0, key, timeouts, invalid_keys, via_shortcut, first_in_call,
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
) -> CallRow:
    return CallRow(
        call_id, caller_key, flow_id, flow_version, db_time(started_at), db_time(ended_at), outcome, leaf,
        seconds_to_leaf, final_node, personalized, channel, PATH_SEPARATOR.join(path),
    )  # fmt: skip
