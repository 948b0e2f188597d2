"""Leaf demand for the optimizer: call counts per leaf, turned into weights over a tree's services.

The statistics store records the leaf a call was served at: the first non-routing node entered
after a menu. A menu option may lead to a routing node (a condition on opening hours, a `set`),
so one service of the optimizer's tree can end at several leaves; each leaf's calls go to the
services that can reach it, split evenly when several can (a node offered twice).

Demand follows the present: with a half-life (14 days by default for `ivr optimize --stats`) a call
counts 0.5 ** (age / half-life), age measured back from the newest call counted, so an outbreak that
began last week outweighs a quiet season before it (on the menu benchmark's workload a 14-day
half-life cut the scored E[T] of the optimized tree by about 10% against plain counts; see
docs/benchmarks.md).

Every service gets `prior` extra calls (add-one smoothing by default): a service nobody used in
the window stays in the tree with a small, equal weight, so the optimizer still places it and
orders the unused ones sensibly instead of treating them as free to bury without limit.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from ivr_engine.flow.model import ROUTING_KINDS, Flow, Menu
from ivr_engine.optimizer.flow_adapter import FlowTree
from ivr_engine.optimizer.tree import services
from ivr_engine.stats.models import Call
from ivr_engine.stats.reports import ReportFilter
from ivr_engine.stats.store import StatsStore

DEFAULT_PRIOR = 1.0
DEFAULT_HALF_LIFE_DAYS = 14.0
DAY = 86_400.0


class DemandError(ValueError):
    """Demand that cannot be used (unreadable file, negative counts); the message names the place."""


@dataclass(frozen=True)
class Demand:
    weights: Mapping[str, float]  # service id of the tree -> calls (prior included)
    calls: int  # calls counted at leaves below the root
    unmatched: Mapping[str, float]  # leaf -> calls at leaves no service of the tree leads to
    prior: float


class TooFewCalls(DemandError):
    """Fewer calls reached the rearranged menus than asked for. With none, the prior alone would
    lay the menus out: an alphabetical shuffle that moves callers' services for nobody's gain."""

    def __init__(self, demand: Demand, needed: int) -> None:
        self.demand, self.needed = demand, needed
        super().__init__(f"{demand.calls} calls reached the menus, {needed} needed")


def recency_weights(calls: Iterable[tuple[str, float, float]], half_life_days: float | None) -> dict[str, float]:
    """Demand per leaf from (leaf, unix time, calls) rows; with a half-life each call counts
    0.5 ** (age / half-life), age from the newest row. None: plain counts."""
    rows = list(calls)
    if half_life_days is not None and not (math.isfinite(half_life_days) and half_life_days > 0):
        raise DemandError(f"the half-life must be a number of days > 0, got {half_life_days!r}")
    newest = max((at for _, at, _ in rows), default=0.0)
    weights: dict[str, float] = {}
    for leaf, at, count in rows:
        decay = 1.0 if half_life_days is None else 0.5 ** ((newest - at) / (half_life_days * DAY))
        weights[leaf] = weights.get(leaf, 0.0) + count * decay
    return weights


def leaf_rows(store: StatsStore, flt: ReportFilter) -> list[tuple[str, float, float]]:
    """(leaf, unix time, calls) per leaf and UTC day, as `recency_weights` takes them: calls that
    reached no leaf are not counted, and the calls of a day are dated at its noon."""
    day = sa.func.date(Call.started_at)
    query = (
        sa.select(Call.leaf, day, sa.func.count())
        .where(Call.leaf.is_not(None), *flt.where(Call))
        .group_by(Call.leaf, day)
    )
    with store.engine.connect() as conn:
        return [(str(leaf), _noon(on), float(count)) for leaf, on, count in conn.execute(query)]


def leaf_counts(store: StatsStore, flt: ReportFilter, half_life_days: float | None = None) -> dict[str, float]:
    """Calls per leaf they were served at, weighted by recency when a half-life is given."""
    return recency_weights(leaf_rows(store, flt), half_life_days)


def _noon(day: object) -> float:
    # SQLite's date() gives text, PostgreSQL's a date
    on = dt.date.fromisoformat(str(day)[:10])
    return dt.datetime.combine(on, dt.time(12), dt.UTC).timestamp()


def read_demand_file(path: Path) -> dict[str, float]:
    """A JSON object {leaf id: call count}."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))  # a BOM, as Windows editors write
    except (OSError, UnicodeDecodeError) as exc:
        raise DemandError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise DemandError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise DemandError(f"{path}: expected a JSON object of leaf id -> call count")
    counts: dict[str, float] = {}
    for leaf, count in data.items():
        if isinstance(count, bool) or not isinstance(count, int | float) or not math.isfinite(count) or count < 0:
            raise DemandError(f"{path}: leaf {leaf!r}: the count must be a number >= 0, got {count!r}")
        counts[leaf] = float(count)
    return counts


def reachable_leaves(flow: Flow, target: str) -> set[str]:
    """Nodes a call entering `target` can be served at: `target` itself, or, through routing
    nodes other than menus (conditions, sets, gotos, language switches), the nodes they lead to.
    `target` is included even when it routes, so demand may also be given per offered node."""
    leaves: set[str] = {target}
    seen: set[str] = set()
    stack = [target]
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        node = flow.nodes.get(node_id)
        if node is None or isinstance(node, Menu):
            continue
        if node.kind in ROUTING_KINDS:
            stack.extend(node.targets())
        else:
            leaves.add(node_id)
    return leaves


def service_demand(flow: Flow, source: FlowTree, counts: Mapping[str, float], prior: float = DEFAULT_PRIOR) -> Demand:
    """Weights over the services of `source.tree` from per-leaf call counts."""
    if not (math.isfinite(prior) and prior >= 0.0):
        raise DemandError(f"the prior must be a number of calls >= 0, got {prior!r}")
    offered_by: dict[str, list[str]] = {}
    for service_id in services(source.tree):
        target = source.targets.get(service_id, service_id)
        for leaf in reachable_leaves(flow, target):
            offered_by.setdefault(leaf, []).append(service_id)
    weights = {service_id: prior for service_id in services(source.tree)}
    unmatched: dict[str, float] = {}
    calls = 0.0
    for leaf, count in counts.items():
        owners = offered_by.get(leaf)
        if not owners:
            unmatched[leaf] = count
            continue
        calls += count
        for service_id in owners:
            weights[service_id] += count / len(owners)
    if math.fsum(weights.values()) <= 0.0:
        raise DemandError("no calls reached any service below the root and the prior is 0")
    return Demand(weights=weights, calls=round(calls), unmatched=unmatched, prior=prior)
