"""The sans-I/O queue board fed with AMI bytes captured from a real Asterisk 22 (queue_fixtures)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
import queue_fixtures as qf
from ami_fixtures import BANNER, message, wire

from ivr_engine.acd.queue_state import (
    AgentState,
    DeviceState,
    QueueBoard,
    Reaction,
    agent_state,
)
from ivr_engine.ami.protocol import (
    NEED_DATA,
    ActionCompleted,
    AMIConnection,
    AMIEvent,
    EventReceived,
)


def listing(messages: Sequence[bytes]) -> tuple[AMIEvent, ...]:
    """The items of one QueueStatus answer, parsed by the real protocol code."""
    connection = AMIConnection()
    action_id, _ = connection.send_action("QueueStatus")
    connection.receive_data(BANNER + b"".join(wire(m, action_id) for m in messages))
    while (item := connection.next_event()) is not NEED_DATA:
        if isinstance(item, ActionCompleted):
            return item.response.events
    raise AssertionError("the QueueStatus answer did not complete")


def event(data: bytes) -> AMIEvent:
    connection = AMIConnection()
    connection.receive_data(BANNER + data)
    while (item := connection.next_event()) is not NEED_DATA:
        if isinstance(item, EventReceived):
            return item.event
    raise AssertionError("no event in the bytes")


def board_with(status: Sequence[bytes], now: float = 100.0, **options: object) -> QueueBoard:
    board = QueueBoard(**options)  # type: ignore[arg-type]
    board.load(listing(status), now)
    return board


def states(board: QueueBoard, queue: str = "operator") -> dict[str, AgentState]:
    return {m.interface: m.state for m in board.views()[queue].members}


def test_nobody_logged_in_and_nobody_waiting() -> None:
    view = board_with(qf.STATUS_IDLE).views()["operator"]
    assert [m.interface for m in view.members] == [f"PJSIP/agent{n}" for n in range(1, 5)]
    assert view.agents() == {**dict.fromkeys(AgentState, 0), AgentState.UNAVAILABLE: 4}
    assert view.callers == () and view.longest_wait(500.0) == 0.0
    assert view.counters.service_level_seconds == 20 and view.counters.strategy == "leastrecent"
    # app_queue prints ServicelevelPerf 0.0 before any call completes: that is no value, not 0 %.
    assert math.isnan(view.counters.service_level_ratio)


def test_a_joining_caller_waits_from_the_moment_of_the_event() -> None:
    board = board_with(qf.STATUS_IDLE, now=100.0)
    assert board.apply(event(qf.CALLER_JOIN), 101.0) is Reaction.UPDATED
    (caller,) = board.views()["operator"].callers
    assert caller.uniqueid == "1795468951.0" and caller.caller == "**00"  # 1000, masked
    assert board.views()["operator"].longest_wait(104.5) == pytest.approx(3.5)
    # A poll during the wait keeps the event's (sub-second) join time rather than Wait: 3.
    board.load(listing(qf.STATUS_WAITING), 104.9)
    assert board.views()["operator"].longest_wait(105.0) == pytest.approx(4.0)


def test_a_caller_first_seen_in_a_poll_waits_since_now_minus_wait() -> None:
    view = board_with(qf.STATUS_WAITING, now=200.0).views()["operator"]
    assert len(view.callers) == 1 and view.longest_wait(201.0) == pytest.approx(4.0)


def test_abandon_asks_for_a_poll_and_leave_removes_the_caller() -> None:
    board = board_with(qf.STATUS_WAITING)
    assert board.apply(event(qf.CALLER_ABANDON), 105.0) is Reaction.STALE
    assert board.apply(event(qf.CALLER_LEAVE_ABANDONED), 105.0) is Reaction.UPDATED
    assert board.views()["operator"].callers == ()
    board.load(listing(qf.STATUS_ABANDONED), 106.0)
    counters = board.views()["operator"].counters
    assert (counters.abandoned, counters.completed) == (1, 0)
    assert math.isnan(counters.service_level_ratio)


def test_an_answered_call_moves_the_agent_through_ringing_in_call_and_back() -> None:
    board = board_with(qf.STATUS_ABANDONED)
    seen = []
    for data in (
        qf.MEMBER_REACHABLE, qf.CALLER2_JOIN, qf.MEMBER_RINGING, qf.CALLER2_LEAVE_ANSWERED,
        qf.AGENT_CONNECT, qf.MEMBER_IN_CALL,
    ):  # fmt: skip
        board.apply(event(data), 110.0)
        seen.append(states(board)["PJSIP/agent1"])
    assert seen == [
        AgentState.AVAILABLE, AgentState.AVAILABLE, AgentState.RINGING, AgentState.RINGING,
        AgentState.IN_CALL, AgentState.IN_CALL,
    ]  # fmt: skip
    assert board.views()["operator"].callers == ()
    assert board.views()["operator"].agents()[AgentState.IN_CALL] == 1
    # The device is still in use when AgentComplete arrives; the member event after it frees it.
    assert board.apply(event(qf.AGENT_COMPLETE), 115.0) is Reaction.STALE
    assert states(board)["PJSIP/agent1"] is AgentState.IN_CALL
    board.apply(event(qf.MEMBER_FREE), 115.0)
    (agent1,) = [m for m in board.views()["operator"].members if m.interface == "PJSIP/agent1"]
    assert (agent1.state, agent1.calls_taken, agent1.device) == (
        AgentState.AVAILABLE, 1, DeviceState.NOT_INUSE,
    )  # fmt: skip


def test_the_poll_after_a_completed_call_gives_the_service_level() -> None:
    counters = board_with(qf.STATUS_COMPLETED).views()["operator"].counters
    assert (counters.completed, counters.abandoned, counters.average_talk_seconds) == (1, 1, 4)
    assert counters.service_level_ratio == 1.0  # answered after 0 s, threshold 20 s


def test_a_poll_during_the_call_counts_the_agent_in_call() -> None:
    view = board_with(qf.STATUS_IN_CALL).views()["operator"]
    assert states(board_with(qf.STATUS_IN_CALL))["PJSIP/agent1"] is AgentState.IN_CALL
    assert view.agents()[AgentState.IN_CALL] == 1 and view.agents()[AgentState.UNAVAILABLE] == 3


def test_pause_and_unpause_events() -> None:
    board = board_with(qf.STATUS_COMPLETED)
    board.apply(event(qf.MEMBER_PAUSED), 120.0)
    (agent1,) = [m for m in board.views()["operator"].members if m.interface == "PJSIP/agent1"]
    assert agent1.state is AgentState.PAUSED and agent1.paused_reason == "lunch"
    board.apply(event(qf.MEMBER_UNPAUSED), 121.0)
    assert states(board)["PJSIP/agent1"] is AgentState.AVAILABLE


def test_members_added_penalised_and_removed() -> None:
    board = board_with(qf.STATUS_ALL)
    assert sorted(board.views()) == [
        "complaints", "mental-health-crisis", "operator", "outbreak", "vaccination",
    ]  # fmt: skip
    board.apply(event(qf.MEMBER_ADDED), 1.0)
    added = {m.interface: m for m in board.views()["complaints"].members}["PJSIP/agent3"]
    assert (added.penalty, added.dynamic, added.state) == (2, True, AgentState.UNAVAILABLE)
    board.apply(event(qf.MEMBER_PENALTY), 1.0)
    assert {m.interface: m.penalty for m in board.views()["complaints"].members}[
        "PJSIP/agent3"
    ] == 3
    board.apply(event(qf.MEMBER_REMOVED), 1.0)
    assert "PJSIP/agent3" not in {m.interface for m in board.views()["complaints"].members}


def test_only_the_watched_queues_are_kept() -> None:
    board = board_with(qf.STATUS_ALL, queues=["operator"])
    assert list(board.views()) == ["operator"]
    assert board.apply(event(qf.MEMBER_ADDED), 1.0) is Reaction.IGNORED  # complaints


def test_an_event_for_a_queue_not_yet_polled_asks_for_a_poll() -> None:
    assert QueueBoard().apply(event(qf.CALLER_JOIN), 1.0) is Reaction.STALE


def test_other_events_are_ignored_and_replays_change_nothing() -> None:
    board = board_with(qf.STATUS_WAITING)
    before = board.views()
    for data in qf.NOISE:
        assert board.apply(event(data), 1.0) is Reaction.IGNORED
    board.apply(event(qf.CALLER_JOIN), 300.0)  # already listed by the poll
    board.apply(event(qf.CALLER_LEAVE_ABANDONED), 301.0)
    board.apply(event(qf.CALLER_LEAVE_ABANDONED), 302.0)
    assert before["operator"].callers and board.views()["operator"].callers == ()


def test_garbled_numbers_do_not_break_the_board() -> None:
    board = board_with(qf.STATUS_IDLE)
    garbled = message(
        """
Event: QueueMemberStatus
Queue: operator
MemberName: agent1
Interface: PJSIP/agent1
Penalty: x
InCall: ?
Status: 42
Paused: 0
"""
    )
    assert board.apply(event(garbled), 1.0) is Reaction.UPDATED
    (agent1,) = [m for m in board.views()["operator"].members if m.interface == "PJSIP/agent1"]
    assert (agent1.device, agent1.state, agent1.penalty) == (
        DeviceState.UNKNOWN, AgentState.AVAILABLE, 0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "paused", "in_call", "expected"),
    [
        (DeviceState.NOT_INUSE, False, False, AgentState.AVAILABLE),
        (DeviceState.UNKNOWN, False, False, AgentState.AVAILABLE),
        (DeviceState.RINGING, False, False, AgentState.RINGING),
        (DeviceState.INUSE, False, True, AgentState.IN_CALL),
        (DeviceState.INUSE, False, False, AgentState.IN_CALL),  # another queue's or a direct call
        (DeviceState.ONHOLD, False, False, AgentState.IN_CALL),
        (DeviceState.INUSE, True, True, AgentState.IN_CALL),  # paused during the call
        (DeviceState.NOT_INUSE, True, False, AgentState.PAUSED),
        (DeviceState.UNAVAILABLE, True, False, AgentState.UNAVAILABLE),
        (DeviceState.INVALID, False, False, AgentState.UNAVAILABLE),
    ],
)
def test_agent_state(
    status: DeviceState, paused: bool, in_call: bool, expected: AgentState
) -> None:
    assert agent_state(status, paused=paused, in_call=in_call) is expected
