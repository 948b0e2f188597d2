"""The figures the reports must show, computed straight from the events a test played."""

from __future__ import annotations

from collections import Counter

from ivr_engine.runtime.events import CallEnded, NodeVisit, Outcome


def visits(events: list[object]) -> list[NodeVisit]:
    return [e for e in events if isinstance(e, NodeVisit)]


def ends(events: list[object]) -> list[CallEnded]:
    return [e for e in events if isinstance(e, CallEnded)]


def hits(events: list[object]) -> Counter[str]:
    return Counter(v.node_id for v in visits(events))


def exits(events: list[object], node: str) -> dict[str, int]:
    return dict(Counter(v.key for v in visits(events) if v.node_id == node and v.key is not None))


def outcomes(events: list[object]) -> Counter[str]:
    return Counter(e.outcome.value for e in ends(events))


def abandoned_at(events: list[object]) -> Counter[str]:
    return Counter(e.final_node for e in ends(events) if e.outcome is Outcome.ABANDONED)
