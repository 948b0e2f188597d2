"""A batch of statistics rows: the unit the recorder writes, spools and replays, and the importer loads.

Rows are plain dicts keyed by column name, already keyed for privacy (caller_key, never a number),
so a batch can go to the database or, unchanged, to the spool as one JSON object.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from ivr_engine.stats.models import PATH_SEPARATOR

Row = dict[str, Any]
_TIME_COLUMNS = frozenset({"started_at", "ended_at", "entered_at", "left_at"})


@dataclass(slots=True)
class Batch:
    calls: list[Row] = field(default_factory=list)
    visits: list[Row] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.calls or self.visits)

    def to_json(self) -> str:
        return json.dumps({"calls": self.calls, "visits": self.visits}, default=_encode, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Batch:
        data = json.loads(text)
        return cls(calls=[_decode(r) for r in data["calls"]], visits=[_decode(r) for r in data["visits"]])


def _encode(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot spool a {type(value).__name__}")


def _decode(row: Row) -> Row:
    return {k: dt.datetime.fromisoformat(v) if k in _TIME_COLUMNS else v for k, v in row.items()}


def visit_row(
    *,
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
) -> Row:
    return {
        "call_id": call_id,
        "seq": seq,
        "flow_id": flow_id,
        "flow_version": flow_version,
        "node_id": node_id,
        "kind": kind,
        "entered_at": entered_at,
        "left_at": left_at,
        "seconds": max(0.0, (left_at - entered_at).total_seconds()),
        "key": key,
        "timeouts": timeouts,
        "invalid_keys": invalid_keys,
        "via_shortcut": via_shortcut,
    }


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
) -> Row:
    return {
        "call_id": call_id,
        "caller_key": caller_key,
        "flow_id": flow_id,
        "flow_version": flow_version,
        "started_at": started_at,
        "ended_at": ended_at,
        "outcome": outcome,
        "leaf": leaf,
        "seconds_to_leaf": seconds_to_leaf,
        "final_node": final_node,
        "personalized": personalized,
        "channel": channel,
        "path": PATH_SEPARATOR.join(path),
    }
