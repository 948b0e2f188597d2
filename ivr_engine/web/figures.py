"""The numbers the dashboard shows, from the statistics store's reports (ivr_engine.stats.reports).

The reports know only node ids; this module adds what the flow in service knows (titles, kinds,
nodes nobody visited) and draws the heatmap. All functions are synchronous (SQLAlchemy) and the
web layer runs them in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr_engine.stats import reports
from ivr_engine.stats.reports import PathCount, PersonalUse, Summary, TimeToLeaf
from ivr_engine.stats.store import StatsStore
from ivr_engine.web.heatmap import heatmap_svg
from ivr_engine.web.query import FlowRequest

COMMON_PATHS = 10


@dataclass(frozen=True, slots=True)
class NodeRow:
    node_id: str
    title: str  # from the flow in service; "" for a node it no longer has
    kind: str
    hits: int  # visits; a call may visit a node more than once
    calls: int  # distinct calls that visited it
    share_of_calls: float | None  # of all calls in the window
    abandoned_here: int
    zeroed_out_here: int
    timeouts: int
    invalid_keys: int
    mean_seconds: float | None  # time in the node per visit
    exits: dict[str, int]  # key pressed to leave -> visits


@dataclass(frozen=True, slots=True)
class FlowPage:
    versions: list[str]
    summary: Summary
    paths: list[PathCount]
    time_to_leaf: TimeToLeaf
    most_hits: int
    personal: PersonalUse


def report_filter(target: FlowRequest) -> reports.ReportFilter:
    q = target.query
    return reports.ReportFilter(target.flow.id, q.version, q.since, q.until)


def versions(store: StatsStore, flow_id: str) -> list[str]:
    return reports.flow_versions(store, flow_id)


def summary(store: StatsStore, target: FlowRequest) -> Summary:
    return reports.summary(store, report_filter(target))


def time_to_leaf(store: StatsStore, target: FlowRequest) -> TimeToLeaf:
    return reports.time_to_leaf(store, report_filter(target))


def personal_use(store: StatsStore, target: FlowRequest) -> PersonalUse:
    return reports.personal_use(store, report_filter(target))


def common_paths(store: StatsStore, target: FlowRequest) -> list[PathCount]:
    return reports.common_paths(store, report_filter(target), COMMON_PATHS)


def node_rows(store: StatsStore, target: FlowRequest) -> list[NodeRow]:
    """Every node visited in the window, then the flow's nodes nobody visited (when the window is
    about the version in service, whose tree those nodes belong to)."""
    flt = report_filter(target)
    calls = reports.summary(store, flt).calls
    flow = target.flow
    rows = []
    for s in reports.node_stats(store, flt):
        node = flow.nodes.get(s.node_id)
        rows.append(
            NodeRow(
                node_id=s.node_id,
                title=node.title if node else "",
                kind=s.kind,
                hits=s.hits,
                calls=s.calls,
                share_of_calls=s.share_of(calls),
                abandoned_here=s.abandoned_here,
                zeroed_out_here=s.zeroed_out_here,
                timeouts=s.timeouts,
                invalid_keys=s.invalid_keys,
                mean_seconds=s.mean_seconds,
                exits=s.exits,
            )
        )
    if target.query.version in (None, flow.version):
        seen = {row.node_id for row in rows}
        rows.extend(
            NodeRow(n.id, n.title, n.kind, 0, 0, 0.0 if calls else None, 0, 0, 0, 0, None, {})
            for n in flow.nodes.values()
            if n.id not in seen
        )
    return rows


def heatmap(store: StatsStore, target: FlowRequest) -> bytes:
    flt = report_filter(target)
    hits = {s.node_id: s.hits for s in reports.node_stats(store, flt)}
    return heatmap_svg(target.flow, hits, reports.edge_counts(store, flt))


def flow_page(store: StatsStore, target: FlowRequest) -> FlowPage:
    flt = report_filter(target)
    return FlowPage(
        versions=versions(store, target.flow.id),
        summary=reports.summary(store, flt),
        paths=reports.common_paths(store, flt, COMMON_PATHS),
        time_to_leaf=reports.time_to_leaf(store, flt),
        most_hits=max((s.hits for s in reports.node_stats(store, flt)), default=0),
        personal=reports.personal_use(store, flt),
    )
