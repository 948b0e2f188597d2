"""Reports over the statistics store: the query API the CLI and the dashboard share.

Every function takes the store and a ReportFilter (flow, flow version, time window) and returns
plain frozen dataclasses. Visits are filtered by when they were entered, calls by when they started.
Per-node figures are one GROUP BY over stats_visits (flow and version are on the visit row, the
window is indexed); paths and edges are one GROUP BY over the stored path of each call.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute

from ivr_engine.flow.model import KeyBindings
from ivr_engine.runtime.events import Outcome
from ivr_engine.stats.models import PATH_SEPARATOR, Bookmark, Call, NodeHour, Visit
from ivr_engine.stats.store import LONGEST_CALL, StatsStore

SERVED_OUTCOMES = (Outcome.SERVED.value, Outcome.QUEUED.value, Outcome.TRANSFERRED.value)
# The runtime sends a call to the operator only from a menu: on the operator key, which it records
# as that visit's key, or when the menu's retries run out, which records no key. The store does not
# know each flow's key bindings, so the key looked for is the default one.
OPERATOR_KEY = KeyBindings().operator


# Report windows and imported times stay a day inside what datetime can hold, so that turning a
# time to UTC or a window's edge to a whole hour can never overflow (a 500 or a traceback before).
EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)


class MomentOutOfRange(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(
            f"{text!r} is out of range: times from {EARLIEST.date()} to {LATEST.date()} UTC are accepted"
        )


def in_range(moment: dt.datetime, text: str) -> dt.datetime:
    """`moment` (aware) in UTC; raises MomentOutOfRange naming `text`, what it was written as."""
    try:
        utc = moment.astimezone(dt.UTC)
    except OverflowError:
        raise MomentOutOfRange(text) from None
    if not EARLIEST <= utc <= LATEST:
        raise MomentOutOfRange(text)
    return utc


def parse_moment(text: str) -> dt.datetime:
    """An ISO 8601 date or date-time, UTC unless it has an offset, as an aware UTC datetime.

    Raises MomentOutOfRange (a ValueError) outside EARLIEST..LATEST, ValueError for other text.
    """
    moment = dt.datetime.fromisoformat(text.strip())
    return in_range(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC), text)


def empty_window(since: dt.datetime | None, until: dt.datetime | None, until_name: str = "until") -> str | None:
    """Why no call can start in [since, until), for the caller to report against its `since`
    (`until_name`: what the caller calls the end, such as an option)."""
    if since is None or until is None or since < until:
        return None
    return f"must be before {until_name}, {until.isoformat()}: no call can be in that window"


@dataclass(frozen=True, slots=True)
class ReportFilter:
    flow_id: str | None = None
    flow_version: str | None = None
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive

    def where(self, model: type[Call | Visit | NodeHour]) -> list[sa.ColumnElement[bool]]:
        moment = {Call: Call.started_at, Visit: Visit.entered_at, NodeHour: NodeHour.hour}[model]
        clauses: list[sa.ColumnElement[bool]] = []
        if self.flow_id is not None:
            clauses.append(model.flow_id == self.flow_id)
        if self.flow_version is not None:
            clauses.append(model.flow_version == self.flow_version)
        if self.since is not None:
            clauses.append(moment >= self.since)
        if self.until is not None:
            clauses.append(moment < self.until)
        return clauses


@dataclass(frozen=True, slots=True)
class Summary:
    calls: int
    by_outcome: dict[str, int]
    served: int  # reached a service: served, queued or transferred
    abandoned: int
    zeroed_out: int
    served_rate: float | None  # None when there were no calls
    abandonment_rate: float | None
    zero_out_rate: float | None
    visits: int
    mean_seconds_to_leaf: float | None
    p95_seconds_to_leaf: float | None


@dataclass(frozen=True, slots=True)
class NodeStats:
    node_id: str
    kind: str
    hits: int  # visits; a call may visit a node more than once
    calls: int  # distinct calls that visited it in the window
    exits: dict[str, int]  # key pressed to leave the node -> visits
    timeouts: int
    invalid_keys: int
    via_shortcut: int  # visits reached through a personal-menu shortcut
    mean_seconds: float | None  # time in the node per visit
    abandoned_here: int  # calls that ended by hanging up in this node
    zeroed_out_here: int  # calls that went to an agent from this node

    def share_of(self, calls: int) -> float | None:
        return self.calls / calls if calls else None


@dataclass(frozen=True, slots=True)
class PathCount:
    path: list[str]
    calls: int


@dataclass(frozen=True, slots=True)
class TimeToLeaf:
    count: int
    mean_seconds: float | None
    p95_seconds: float | None
    seconds: list[float] = field(repr=False)  # sorted


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `fraction` of values at or below it."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def _rows(store: StatsStore, query: sa.Executable) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(query))


def _seconds_to_leaf(store: StatsStore, flt: ReportFilter) -> tuple[int, float | None, float | None]:
    """(count, mean, nearest-rank P95) computed in the database, without fetching every call."""
    reached = [Call.seconds_to_leaf.is_not(None), *flt.where(Call)]
    count, mean = _rows(store, sa.select(sa.func.count(), sa.func.avg(Call.seconds_to_leaf)).where(*reached))[0]
    if not count:
        return 0, None, None
    return count, float(mean), _p95_to_leaf(store, reached, count)


def _p95_to_leaf(store: StatsStore, reached: list[sa.ColumnElement[bool]], count: int) -> float:
    """The nearest-rank P95 of seconds to leaf of the `count` calls `reached` selects."""
    rank = max(0, math.ceil(0.95 * count) - 1)
    p95 = sa.select(Call.seconds_to_leaf).where(*reached).order_by(Call.seconds_to_leaf).offset(rank).limit(1)
    return _rows(store, p95)[0][0]


def time_to_leaf(store: StatsStore, flt: ReportFilter) -> TimeToLeaf:
    query = sa.select(Call.seconds_to_leaf).where(Call.seconds_to_leaf.is_not(None), *flt.where(Call))
    seconds = sorted(value for (value,) in _rows(store, query))
    mean = sum(seconds) / len(seconds) if seconds else None
    return TimeToLeaf(len(seconds), mean, percentile(seconds, 0.95), seconds)


def summary(store: StatsStore, flt: ReportFilter) -> Summary:
    outcomes = sa.select(Call.outcome, sa.func.count()).where(*flt.where(Call)).group_by(Call.outcome)
    by_outcome = {outcome: n for outcome, n in _rows(store, outcomes)}
    visits = _rows(store, sa.select(sa.func.count()).select_from(Visit).where(*flt.where(Visit)))[0][0]
    calls = sum(by_outcome.values())
    served = sum(by_outcome.get(o, 0) for o in SERVED_OUTCOMES)
    abandoned = by_outcome.get(Outcome.ABANDONED.value, 0)
    zeroed = by_outcome.get(Outcome.ZEROED_OUT.value, 0)
    _, mean_to_leaf, p95_to_leaf = _seconds_to_leaf(store, flt)
    return Summary(
        calls=calls,
        by_outcome=by_outcome,
        served=served,
        abandoned=abandoned,
        zeroed_out=zeroed,
        served_rate=rate(served, calls),
        abandonment_rate=rate(abandoned, calls),
        zero_out_rate=rate(zeroed, calls),
        visits=visits,
        mean_seconds_to_leaf=mean_to_leaf,
        p95_seconds_to_leaf=p95_to_leaf,
    )


@dataclass(frozen=True, slots=True)
class CallGroup:
    calls: int
    reached: int  # calls that reached a service
    mean_seconds_to_leaf: float | None
    p95_seconds_to_leaf: float | None


@dataclass(frozen=True, slots=True)
class PersonalUse:
    """How personal menus did in service: the calls that heard one, those that took a shortcut,
    and how long each kind of call took to reach its service. The groups differ in who calls
    (repeat callers against everyone), so set them side by side, not as a measured saving: that
    is what bench/menu.py measures."""

    calls: int
    offered: int  # heard a personal menu
    took_shortcut: int
    offered_rate: float | None  # of all calls
    shortcut_rate: float | None  # of the calls offered one
    via_shortcut: CallGroup
    offered_not_taken: CallGroup  # heard a personal menu and went on through the menus
    not_offered: CallGroup
    bookmarks: int  # set now, in the flow (or all flows); not limited to the window


def personal_use(store: StatsStore, flt: ReportFilter) -> PersonalUse:
    # One GROUP BY, then a sorted read per group for its P95: fetching every call and grouping
    # here took twice as long over 400,000 calls.
    groups = {
        "via_shortcut": [Call.took_shortcut.is_(True)],
        "offered_not_taken": [Call.took_shortcut.is_(False), Call.personalized.is_(True)],
        "not_offered": [Call.took_shortcut.is_(False), Call.personalized.is_(False)],
    }
    columns = (Call.took_shortcut, Call.personalized)
    to_leaf = Call.seconds_to_leaf
    counts = sa.select(*columns, sa.func.count(), sa.func.count(to_leaf), sa.func.sum(to_leaf))
    calls, reached, seconds = dict.fromkeys(groups, 0), dict.fromkeys(groups, 0), dict.fromkeys(groups, 0.0)
    for took, personalized, n, timed, total in _rows(store, counts.where(*flt.where(Call)).group_by(*columns)):
        name = "via_shortcut" if took else "offered_not_taken" if personalized else "not_offered"
        calls[name] += n
        reached[name] += timed
        seconds[name] += total or 0.0
    figures = {}
    for name, where in groups.items():
        n = reached[name]
        p95 = _p95_to_leaf(store, [to_leaf.is_not(None), *flt.where(Call), *where], n) if n else None
        figures[name] = CallGroup(calls[name], n, seconds[name] / n if n else None, p95)
    marked = sa.select(sa.func.count()).select_from(Bookmark)
    if flt.flow_id is not None:
        marked = marked.where(Bookmark.flow_id == flt.flow_id)
    took = figures["via_shortcut"].calls
    heard = took + figures["offered_not_taken"].calls
    total = heard + figures["not_offered"].calls
    return PersonalUse(
        calls=total,
        offered=heard,
        took_shortcut=took,
        offered_rate=rate(heard, total),
        shortcut_rate=rate(took, heard),
        bookmarks=_rows(store, marked)[0][0],
        **figures,
    )


def _path_counts(store: StatsStore, flt: ReportFilter, *extra: sa.ColumnElement[bool]) -> list[PathCount]:
    query = (
        sa.select(Call.path, sa.func.count().label("n"))
        .where(*flt.where(Call), *extra)
        .group_by(Call.path)
        .order_by(sa.desc("n"), Call.path)
    )
    return [PathCount(path.split(PATH_SEPARATOR) if path else [], n) for path, n in _rows(store, query)]


def common_paths(store: StatsStore, flt: ReportFilter, limit: int = 10) -> list[PathCount]:
    return _path_counts(store, flt)[:limit]


def edge_counts(store: StatsStore, flt: ReportFilter) -> Counter[tuple[str, str]]:
    """(from node, to node) -> times a call went along that edge, from the calls' paths."""
    edges: Counter[tuple[str, str]] = Counter()
    for row in _path_counts(store, flt):
        for step in zip(row.path, row.path[1:]):
            edges[step] += row.calls
    return edges


def _zeroed_out_from(flt: ReportFilter) -> sa.Executable:
    """(node, calls) of the `zeroed_out` calls started in the window, charged to the visit each left
    for the operator: its first visit left by the operator key, else its last menu (retries ran out).
    The operator's own steps (a condition in front of queues) come after it on the path. The importer
    denies a leaf after the same visit (importer._zeroed_out_at)."""
    per_call = (
        sa.select(
            Visit.call_id,
            sa.func.min(sa.case((Visit.key == OPERATOR_KEY, Visit.seq))).label("by_key"),
            sa.func.max(sa.case((Visit.kind == "menu", Visit.seq))).label("last_menu"),
        )
        .join(Call, Call.call_id == Visit.call_id)
        .where(*flt.where(Call), Call.outcome == Outcome.ZEROED_OUT.value)
        .group_by(Visit.call_id)
        .subquery()
    )
    zero_seq = sa.func.coalesce(per_call.c.by_key, per_call.c.last_menu)
    at = (Visit.call_id == per_call.c.call_id) & (Visit.seq == zero_seq)
    return sa.select(Visit.node_id, sa.func.count()).join(per_call, at).group_by(Visit.node_id)


def _ends_by_node(store: StatsStore, flt: ReportFilter) -> tuple[Counter[str], Counter[str]]:
    """Per node: calls abandoned in it, and calls zeroed out from it."""
    abandoned_q = (
        sa.select(Call.final_node, sa.func.count())
        .where(*flt.where(Call), Call.outcome == Outcome.ABANDONED.value, Call.final_node.is_not(None))
        .group_by(Call.final_node)
    )
    abandoned = Counter({node: n for node, n in _rows(store, abandoned_q)})
    zeroed = Counter({node: n for node, n in _rows(store, _zeroed_out_from(flt))})
    return abandoned, zeroed


def _count_if(column: InstrumentedAttribute[bool]) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((column, 1), else_=0))


def _figures_from_visits(flt: ReportFilter) -> sa.Executable:
    return (
        sa.select(
            Visit.node_id, sa.func.coalesce(Visit.key, ""), sa.func.max(Visit.kind), sa.func.count(),
            _count_if(Visit.first_in_call), sa.func.sum(Visit.timeouts), sa.func.sum(Visit.invalid_keys),
            _count_if(Visit.via_shortcut), sa.func.sum(Visit.seconds),
        )
        .where(*flt.where(Visit))
        .group_by(Visit.node_id, Visit.key)
    )  # fmt: skip


def _figures_from_hours(flt: ReportFilter) -> sa.Executable:
    return (
        sa.select(
            NodeHour.node_id, NodeHour.key, sa.func.max(NodeHour.kind), sa.func.sum(NodeHour.hits),
            sa.func.sum(NodeHour.calls), sa.func.sum(NodeHour.timeouts), sa.func.sum(NodeHour.invalid_keys),
            sa.func.sum(NodeHour.via_shortcut), sa.func.sum(NodeHour.seconds),
        )
        .where(*flt.where(NodeHour))
        .group_by(NodeHour.node_id, NodeHour.key)
    )  # fmt: skip


def _hour_floor(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _per_node_and_key(flt: ReportFilter) -> list[sa.Executable]:
    """Queries of (node, exit key or "", kind, hits, calls, timeouts, invalid, via, seconds): the
    whole hours of the window from stats_node_hours, the partial hours at its edges from visits."""
    first = None
    if flt.since is not None:
        first = _hour_floor(flt.since)
        if first < flt.since:
            first += dt.timedelta(hours=1)
    end = None if flt.until is None else _hour_floor(flt.until)
    if first is not None and end is not None and first >= end:
        return [_figures_from_visits(flt)]
    queries = [_figures_from_hours(dataclasses.replace(flt, since=first, until=end))]
    if flt.since is not None and first is not None and flt.since < first:
        queries.append(_figures_from_visits(dataclasses.replace(flt, until=first)))
    if flt.until is not None and end is not None and end < flt.until:
        queries.append(_figures_from_visits(dataclasses.replace(flt, since=end)))
    return queries


def _returned_since(store: StatsStore, flt: ReportFilter) -> Counter[str]:
    """Per node: calls that visited it in the window but had first entered it before `since`.

    The figures count a call once per node at its first visit (`first_in_call`), so such a call,
    back in a menu just after the window opened, would show as a hit but no call. Only calls in
    progress at `since` can be one: started within LONGEST_CALL before it and not ended before it,
    a handful of calls whose visits are read whole."""
    if flt.since is None:
        return Counter()
    in_progress = sa.select(Call.call_id).where(
        *dataclasses.replace(flt, since=None, until=None).where(Call),
        Call.started_at >= flt.since - LONGEST_CALL,
        Call.started_at < flt.since,
        Call.ended_at >= flt.since,
    )
    visits = sa.select(Visit.call_id, Visit.node_id, Visit.entered_at, Visit.first_in_call).where(
        Visit.call_id.in_(in_progress), *([Visit.entered_at < flt.until] if flt.until is not None else [])
    )
    entered_before: set[tuple[str, str]] = set()
    back_in_window: set[tuple[str, str]] = set()
    for call_id, node_id, entered_at, first in _rows(store, visits):
        if entered_at < flt.since:
            if first:
                entered_before.add((call_id, node_id))
        else:
            back_in_window.add((call_id, node_id))
    return Counter(node_id for _, node_id in entered_before & back_in_window)


def node_stats(store: StatsStore, flt: ReportFilter) -> list[NodeStats]:
    """Every node visited in the window, most hit first. A node's `calls` are the calls that
    visited it in the window, each once, however the window cuts a call."""
    totals: dict[str, list[Any]] = {}  # node -> [kind, hits, calls, timeouts, invalid, via, seconds]
    exits: dict[str, dict[str, int]] = {}
    rows = [row for query in _per_node_and_key(flt) for row in _rows(store, query)]
    for node, key, kind, *figures in rows:
        if key:
            exits.setdefault(node, {})[key] = exits.get(node, {}).get(key, 0) + figures[0]
        into = totals.setdefault(node, [kind, 0, 0, 0, 0, 0, 0.0])
        for i, value in enumerate(figures, start=1):
            into[i] += value or 0
    abandoned, zeroed = _ends_by_node(store, flt)
    returned = _returned_since(store, flt)
    nodes = [
        NodeStats(
            node_id=node,
            kind=kind,
            hits=hits,
            calls=int(calls) + returned[node],
            exits=dict(sorted(exits.get(node, {}).items())),
            timeouts=int(timeouts),
            invalid_keys=int(invalid),
            via_shortcut=int(via),
            mean_seconds=float(seconds) / hits,
            abandoned_here=abandoned[node],
            zeroed_out_here=zeroed[node],
        )
        for node, (kind, hits, calls, timeouts, invalid, via, seconds) in totals.items()
    ]
    return sorted(nodes, key=lambda n: (-n.hits, n.node_id))


def top_nodes(store: StatsStore, flt: ReportFilter, limit: int = 10) -> list[NodeStats]:
    return node_stats(store, flt)[:limit]


def has_calls(store: StatsStore, flow_id: str) -> bool:
    """Whether any call of the flow is stored (one index probe)."""
    return bool(_rows(store, sa.select(Call.call_id).where(Call.flow_id == flow_id).limit(1)))


def flow_ids(store: StatsStore) -> list[str]:
    """The flows that have calls stored, sorted."""
    return [flow_id for (flow_id,) in _rows(store, sa.select(Call.flow_id).distinct().order_by(Call.flow_id))]


def flow_versions(store: StatsStore, flow_id: str) -> list[str]:
    """Versions of the flow that have calls, the most recently started first."""
    query = (
        sa.select(Call.flow_version, sa.func.max(Call.started_at).label("last"))
        .where(Call.flow_id == flow_id)
        .group_by(Call.flow_version)
        .order_by(sa.desc("last"))
    )
    return [version for version, _ in _rows(store, query)]
