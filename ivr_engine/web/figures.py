"""The numbers the dashboard shows, read from the statistics store's reports.

This is the only module of the web package that speaks to ivr_engine.stats; the pages and the JSON
API use these shapes. All functions are synchronous (SQLAlchemy) and run in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr_engine.web.query import FlowRequest


@dataclass(frozen=True, slots=True)
class Summary:
    calls: int
    served: int  # reached a service (served, queued, transferred)
    abandoned: int
    zeroed_out: int
    served_rate: float | None  # None when there were no calls
    abandonment_rate: float | None
    zero_out_rate: float | None
    mean_seconds_to_leaf: float | None
    p95_seconds_to_leaf: float | None


@dataclass(frozen=True, slots=True)
class NodeRow:
    node_id: str
    title: str
    kind: str
    hits: int  # visits, a call may visit a node more than once
    calls: int  # distinct calls that visited it
    share_of_calls: float | None
    abandoned_here: int  # calls whose caller hung up in this node
    zeroed_out_here: int
    mean_seconds: float | None  # time spent in the node per visit


@dataclass(frozen=True, slots=True)
class PathRow:
    path: list[str]
    calls: int


@dataclass(frozen=True, slots=True)
class TimeToLeaf:
    count: int
    mean_seconds: float | None
    p95_seconds: float | None
    seconds: list[float]


@dataclass(frozen=True, slots=True)
class FlowPage:
    versions: list[str]
    summary: Summary
    paths: list[PathRow]
    time_to_leaf: TimeToLeaf
    most_hits: int


def versions(store: object, flow_id: str) -> list[str]:
    raise NotImplementedError("waiting for ivr_engine.stats")


def summary(store: object, target: FlowRequest) -> Summary:
    raise NotImplementedError("waiting for ivr_engine.stats")


def node_rows(store: object, target: FlowRequest) -> list[NodeRow]:
    raise NotImplementedError("waiting for ivr_engine.stats")


def time_to_leaf(store: object, target: FlowRequest) -> TimeToLeaf:
    raise NotImplementedError("waiting for ivr_engine.stats")


def common_paths(store: object, target: FlowRequest) -> list[PathRow]:
    raise NotImplementedError("waiting for ivr_engine.stats")


def heatmap(store: object, target: FlowRequest) -> bytes:
    raise NotImplementedError("waiting for ivr_engine.stats")


def flow_page(store: object, target: FlowRequest) -> FlowPage:
    raise NotImplementedError("waiting for ivr_engine.stats")
