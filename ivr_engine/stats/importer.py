"""Import call paths from another system's logs: one JSON object per line (format in docs/stats.md).

Every line is checked before anything is written; any bad line fails the whole import with each
problem named file:line, so a file is either imported whole or not at all. Calls without a call_id
get one derived from flow, caller key and start time, so re-importing a file changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ivr_engine.flow.model import ROUTING_KINDS
from ivr_engine.runtime.events import Outcome
from ivr_engine.stats.batch import Batch, CallRow, VisitRow, call_row, visit_values
from ivr_engine.stats.models import PATH_SEPARATOR, Call, Visit
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.reports import OPERATOR_KEY, MomentOutOfRange, parse_moment
from ivr_engine.stats.store import StatsStore

BATCH_CALLS = 1000
MAX_REPORTED_ERRORS = 50
_OUTCOMES = {o.value for o in Outcome}
_ZEROED_OUTCOMES = {Outcome.ZEROED_OUT.value, Outcome.QUEUE_HANGUP.value, Outcome.ERROR.value}


class ImportFileError(Exception):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = errors[:MAX_REPORTED_ERRORS]
        more = len(errors) - len(shown)
        super().__init__("\n".join(shown) + (f"\n... and {more} more" if more else ""))


@dataclass(frozen=True, slots=True)
class ImportResult:
    calls: int  # records in the file
    new_calls: int  # calls not in the store before
    visits: int


class _Bad(ValueError):
    pass


def _field(record: dict[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
    if name not in record or record[name] is None:
        if required:
            raise _Bad(f"missing {name!r}")
        return None
    value = record[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise _Bad(f"{name!r} must be {names}, got {json.dumps(value)}")
    return value


def _fits(name: str, value: str, column: sa.Column[Any]) -> str:
    """`value`, if it fits its String(n) column: PostgreSQL refuses a longer one mid-import (after the
    file was checked), and SQLite would keep it whole where the runtime never writes one."""
    limit = column.type.length
    if limit is not None and len(value) > limit:
        raise _Bad(f"{name!r} is longer than {limit} characters: {value!r}")
    return value


def _count(step: dict[str, Any], name: str) -> int:
    value = _field(step, name, int, required=False) or 0
    if value < 0:
        raise _Bad(f"{name!r} must not be negative, got {value}")
    return value


def _moment(record: dict[str, Any], name: str, *, required: bool = True) -> dt.datetime | None:
    text = _field(record, name, str, required=required)
    if text is None:
        return None
    try:
        return parse_moment(text)
    except MomentOutOfRange as exc:
        raise _Bad(f"{name!r}: {exc}") from None
    except ValueError:
        raise _Bad(f"{name!r} is not an ISO 8601 date-time: {text!r}") from None


def _zeroed_out_at(path: list[VisitRow], outcome: str) -> int | None:
    """The seq of the visit the call left for the operator, None if it never went there. The runtime
    sends a call there from a menu, on the operator key or when the menu's retries run out (no key);
    such a call ends zeroed_out, queue_hangup (hung up waiting for an agent) or error, so a key 0
    in a call that ended otherwise is a menu option of a flow with another operator key. This is
    the rule the reports charge zero-outs by (reports._zeroed_out_from)."""
    if outcome not in _ZEROED_OUTCOMES:
        return None
    last_menu = None
    for visit in path:
        if visit.key == OPERATOR_KEY:
            return visit.seq
        if visit.kind == "menu":
            last_menu = visit.seq
    return last_menu if outcome == Outcome.ZEROED_OUT.value else None


def _first_leaf(path: list[VisitRow], outcome: str) -> VisitRow | None:
    """The runtime's rule: the first node after a menu that is not a routing step, entered before
    the call zeroed out (the operator's queue is no service the caller chose)."""
    zeroed_at = _zeroed_out_at(path, outcome)
    menu_seen = False
    for visit in path[:zeroed_at]:
        if visit.kind == "menu":
            menu_seen = True
        elif menu_seen and visit.kind not in ROUTING_KINDS and visit.kind != "unknown":
            return visit
    return None


def parse_record(record: Any, keyer: CallerKeyer) -> tuple[CallRow, list[VisitRow]]:
    if not isinstance(record, dict):
        raise _Bad("each line must be a JSON object")
    flow_id = _fits("flow_id", _field(record, "flow_id", str), Call.__table__.c.flow_id)
    version = _fits("flow_version", str(_field(record, "flow_version", (str, int))), Call.__table__.c.flow_version)
    started = _moment(record, "started_at")
    assert started is not None
    caller_key = keyer.key_or_none(_field(record, "caller", str, required=False))
    outcome = _field(record, "outcome", str)
    if outcome not in _OUTCOMES:
        raise _Bad(f"'outcome' must be one of {', '.join(sorted(_OUTCOMES))}, got {outcome!r}")
    given_id = _field(record, "call_id", str, required=False)
    call_id = _fits("call_id", given_id, Call.__table__.c.call_id) if given_id else "import-" + hashlib.sha256(
        f"{flow_id}\0{caller_key}\0{started.isoformat()}".encode()
    ).hexdigest()[:32]
    steps = _field(record, "path", list)
    visits: list[VisitRow] = []
    times: list[tuple[dt.datetime, dt.datetime]] = []  # (entered, left) of each visit
    for seq, step in enumerate(steps):
        try:
            # A call is in one node at a time, from its start on: an earlier entry is a clock or
            # ordering error that would put the visit in another hour, or the call in no window.
            after = (times[-1][0], "the previous visit's 'entered_at'") if times else (started, "'started_at'")
            visit, entered, left = _visit(step, call_id, seq, flow_id, version, visits, after)
            visits.append(visit)
            times.append((entered, left))
        except _Bad as exc:
            raise _Bad(f"path[{seq}]: {exc}") from None
    leaf = _field(record, "leaf", str, required=False)
    if leaf is not None:
        _fits("leaf", leaf, Call.__table__.c.leaf)
    seconds_to_leaf = _field(record, "seconds_to_leaf", (int, float), required=False)
    if seconds_to_leaf is not None and not (math.isfinite(seconds_to_leaf) and seconds_to_leaf >= 0):
        raise _Bad(f"'seconds_to_leaf' must be a number of seconds, 0 or more, got {json.dumps(seconds_to_leaf)}")
    if leaf is None:
        found = _first_leaf(visits, outcome)
        leaf = found.node_id if found else None
        if found and seconds_to_leaf is None:
            seconds_to_leaf = round((times[found.seq][0] - started).total_seconds(), 3)
    ended = _moment(record, "ended_at", required=False) or (times[-1][1] if times else started)
    last_entered, what = (times[-1][0], "the last visit was entered") if times else (started, "'started_at'")
    if ended < last_entered:
        raise _Bad(f"'ended_at' is before {what}")
    call = call_row(
        call_id=call_id,
        caller_key=caller_key,
        flow_id=flow_id,
        flow_version=version,
        started_at=started,
        ended_at=ended,
        outcome=outcome,
        leaf=leaf,
        seconds_to_leaf=float(seconds_to_leaf) if seconds_to_leaf is not None else None,
        final_node=visits[-1].node_id if visits else None,
        path=[v.node_id for v in visits],
        personalized=bool(_field(record, "personalized", bool, required=False)),
        channel="import",
        took_shortcut=any(v.via_shortcut for v in visits),
    )
    return call, visits


def _visit(
    step: Any,
    call_id: str,
    seq: int,
    flow_id: str,
    version: str,
    before: list[VisitRow],
    after: tuple[dt.datetime, str],
) -> tuple[VisitRow, dt.datetime, dt.datetime]:
    """The visit `step`, entered no earlier than `after` (a time and what it is)."""
    if not isinstance(step, dict):
        raise _Bad("each path step must be an object")
    entered = _moment(step, "entered_at")
    left = _moment(step, "left_at", required=False) or entered
    assert entered is not None and left is not None
    if entered < after[0]:
        raise _Bad(f"'entered_at' is before {after[1]}")
    if left < entered:
        raise _Bad("'left_at' is before 'entered_at'")
    node_id = _fits("node", _field(step, "node", str), Visit.__table__.c.node_id)
    if PATH_SEPARATOR in node_id:
        raise _Bad(f"'node' must not contain {PATH_SEPARATOR!r}, which separates the nodes of a stored path")
    key = _field(step, "key", str, required=False)
    row = VisitRow(
        *visit_values(
            call_id=call_id,
            seq=seq,
            flow_id=flow_id,
            flow_version=version,
            node_id=node_id,
            kind=_fits("kind", _field(step, "kind", str, required=False) or "unknown", Visit.__table__.c.kind),
            entered_at=entered,
            left_at=left,
            key=None if key is None else _fits("key", key, Visit.__table__.c.key),
            timeouts=_count(step, "timeouts"),
            invalid_keys=_count(step, "invalid_keys"),
            via_shortcut=bool(_field(step, "via_shortcut", bool, required=False)),
            first_in_call=all(v.node_id != node_id for v in before),
        )
    )
    return row, entered, left


def read_import_file(path: Path, keyer: CallerKeyer) -> list[Batch]:
    """Parse and check the whole file; raises ImportFileError naming file:line of every bad line."""
    errors: list[str] = []
    batches = [Batch()]
    seen: dict[str, int] = {}
    for number, line in _lines(path, errors):
        try:
            call, visits = parse_record(json.loads(line), keyer)
        except json.JSONDecodeError as exc:
            errors.append(f"{path}:{number}: not JSON: {exc.msg} (column {exc.colno})")
            continue
        except _Bad as exc:
            errors.append(f"{path}:{number}: {exc}")
            continue
        if call.call_id in seen:
            errors.append(f"{path}:{number}: call {call.call_id!r} already on line {seen[call.call_id]}")
            continue
        seen[call.call_id] = number
        if len(batches[-1].calls) >= BATCH_CALLS:
            batches.append(Batch())
        batches[-1].calls.append(call)
        batches[-1].visits.extend(visits)
    if errors:
        raise ImportFileError(errors)
    return [b for b in batches if b]


def _lines(path: Path, errors: list[str]) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8-sig") as source:  # Windows editors start files with a BOM
            for number, line in enumerate(source, start=1):
                if line.strip():
                    yield number, line
    except OSError as exc:
        errors.append(f"{path}: cannot read: {exc.strerror}")
    except UnicodeDecodeError as exc:
        errors.append(f"{path}: not UTF-8 text ({exc.reason})")


def import_file(store: StatsStore, path: Path, keyer: CallerKeyer) -> ImportResult:
    batches = read_import_file(path, keyer)
    new_calls = sum(store.write_batch(batch).new_calls for batch in batches)
    return ImportResult(
        calls=sum(len(b.calls) for b in batches), new_calls=new_calls, visits=sum(len(b.visits) for b in batches)
    )
