"""An observer that keeps every event in memory: for tests, the demo, and debugging a flow."""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr_engine.runtime.events import CallEnded, CallStarted, NodeEntered, NodeVisit


@dataclass
class EventLog:
    started: list[CallStarted] = field(default_factory=list)
    visits: list[NodeVisit] = field(default_factory=list)
    ended: list[CallEnded] = field(default_factory=list)
    entered: list[NodeEntered] = field(default_factory=list)

    def call_started(self, event: CallStarted) -> None:
        self.started.append(event)

    def node_entered(self, event: NodeEntered) -> None:
        self.entered.append(event)

    def node_visited(self, event: NodeVisit) -> None:
        self.visits.append(event)

    def call_ended(self, event: CallEnded) -> None:
        self.ended.append(event)

    def calls(self, call_id: str) -> list[NodeVisit]:
        """One call's visits in the order it entered the nodes."""
        return sorted((v for v in self.visits if v.call_id == call_id), key=lambda v: v.seq)

    def path(self, call_id: str | None = None) -> list[str]:
        """Node ids one call entered (every call's, in arrival order, when call_id is None)."""
        visits = self.visits if call_id is None else self.calls(call_id)
        return [v.node_id for v in visits]

    def keypresses(self, call_id: str) -> int:
        """Keys that chose a menu option: what the caller had to press to get where they went."""
        return sum(1 for v in self.calls(call_id) if v.node_kind == "menu" and v.key is not None)
