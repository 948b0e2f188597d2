from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import structlog
from runtime_support import AT, EventLog, hotline, seconds, simulate

from ivr_engine.flow import model as m
from ivr_engine.runtime.events import CallEnded, CallStarted, NodeVisit, Outcome


def at(offset: float) -> dt.datetime:
    return AT + dt.timedelta(seconds=offset)


def visit(seq: int, node_id: str, kind: str, entered: float, left: float, **counts: Any) -> NodeVisit:
    return NodeVisit(
        call_id="call-1",
        seq=seq,
        node_id=node_id,
        node_kind=kind,
        entered_at=at(entered),
        left_at=at(left),
        **counts,
    )


async def test_observer_sees_the_call_node_by_node() -> None:
    call = await simulate(hotline(), "8 1 2")
    observer = call.observer
    assert observer.started == [
        CallStarted(
            call_id="call-1",
            caller="13800000000",
            flow_id="test",
            flow_version="1",
            started_at=AT,
            channel="console",
            personalized=False,
        )
    ]
    root_left = seconds(
        "root.header",
        "root.vaccination",
        "root.food",
        "root.complaint",
        "root.account",
        "common.invalid",
        "root.header",
        "root.vaccination",
    )
    vacc_left = root_left + seconds("vacc.header", "vacc.hours", "vacc.adult")
    end = vacc_left + seconds("vacc.adult.info")
    assert observer.visits == [
        visit(0, "root", "menu", 0, root_left, key="1", invalid_keys=1),
        visit(1, "vacc", "menu", root_left, vacc_left, key="2"),
        visit(2, "vacc.adult", "announcement", vacc_left, end),
    ]
    assert observer.ended == [
        CallEnded(
            call_id="call-1",
            ended_at=at(end),
            outcome=Outcome.SERVED,
            final_node="vacc.adult",
            leaf="vacc.adult",
            seconds_to_leaf=round(vacc_left, 3),
        )
    ]
    assert call.result.visits == tuple(observer.visits)


async def test_caller_hanging_up_mid_prompt_ends_the_call_cleanly() -> None:
    call = await simulate(hotline(), "1 h")
    assert call.result.outcome is Outcome.ABANDONED
    assert call.observer.path() == ["root", "vacc"]
    assert call.channel.heard[-1].prompt_id == "vacc.header"
    assert not call.channel.heard[-1].complete
    vacc = call.observer.visits[-1]
    assert vacc.left_at - vacc.entered_at == dt.timedelta(seconds=seconds("vacc.header") / 2)
    assert [e.outcome for e in call.observer.ended] == [Outcome.ABANDONED]
    assert call.observer.ended[0].leaf is None
    assert "hangup" not in [a["action"] for a in call.channel.actions]
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_caller_hanging_up_at_the_leaf_was_served() -> None:
    call = await simulate(hotline(), "2 h")
    assert call.result.outcome is Outcome.SERVED
    assert call.result.leaf == "food"


async def test_cancelling_a_call_still_reports_its_end() -> None:
    flow = hotline(
        m.Lookup(id="status", hook="runtime_hooks:never_answers", timeout=3600, default="food"), start="status"
    )
    observer = EventLog()
    task = asyncio.create_task(simulate(flow, observer=observer))
    while not observer.started:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [e.outcome for e in observer.ended] == [Outcome.ERROR]
    assert observer.path() == ["status"]


class Broken:
    def call_started(self, event: CallStarted) -> None:
        raise RuntimeError("statistics store is down")

    node_visited = call_started  # type: ignore[assignment]
    call_ended = call_started  # type: ignore[assignment]


async def test_a_failing_observer_never_breaks_the_call() -> None:
    with structlog.testing.capture_logs() as logs:
        call = await simulate(hotline(), "1 2", observer=Broken())
    assert call.result.outcome is Outcome.SERVED
    assert call.result.path == ["root", "vacc", "vacc.adult"]
    failures = [e for e in logs if e["event"] == "observer failed"]
    assert [e["callback"] for e in failures] == ["call_started", *["node_entered", "node_visited"] * 3, "call_ended"]


async def test_every_log_line_names_the_call_the_caller_and_the_node() -> None:
    with structlog.testing.capture_logs() as logs:
        await simulate(hotline(), "1 2")
    assert logs
    for entry in logs:
        assert entry["call_id"] == "call-1"
        assert entry["caller"] == "13800000000"
        assert "node" in entry
    assert {"root", "vacc"} <= {e["node"] for e in logs if e["event"] == "menu choice"}


async def test_a_flow_that_loops_without_the_caller_ends_in_error() -> None:
    flow = hotline(m.Goto(id="a", target="b"), m.Goto(id="b", target="a"), start="a")
    call = await simulate(flow)
    assert call.result.outcome is Outcome.ERROR
    assert len(call.result.visits) == 1000
