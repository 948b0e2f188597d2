"""One failing observer (say, a broken plug-in) must not starve the statistics of events."""

from __future__ import annotations

import datetime as dt

import structlog

from ivr_engine.runtime.events import CallEnded, CallStarted, NodeVisit, Outcome
from ivr_engine.runtime.recording import EventLog
from ivr_engine.service import FanOut

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


class Broken:
    def call_started(self, event: CallStarted) -> None:
        raise RuntimeError("broken observer")

    node_visited = call_ended = call_started  # type: ignore[assignment]


def test_every_observer_gets_every_event_even_when_one_raises() -> None:
    recording = EventLog()
    fan = FanOut([Broken(), recording])
    started = CallStarted("c1", "1380", "hotline", "1", NOW, "agi")
    visit = NodeVisit("c1", 0, "main", "menu", NOW, NOW, key="1")
    ended = CallEnded("c1", NOW, Outcome.SERVED, "flu", "flu", 3.0)
    with structlog.testing.capture_logs() as logs:
        fan.call_started(started)
        fan.node_visited(visit)
        fan.call_ended(ended)
    assert (recording.started, recording.visits, recording.ended) == ([started], [visit], [ended])
    assert [(log["event"], log["method"]) for log in logs] == [
        ("observer.failed", "call_started"),
        ("observer.failed", "node_visited"),
        ("observer.failed", "call_ended"),
    ]
