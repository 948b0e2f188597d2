"""The sans-I/O AMI state machine against byte fixtures shaped like Asterisk 22 output."""

from __future__ import annotations

import pytest
from ami_fixtures import (
    BANNER,
    COMMAND_OUTPUT,
    FULLY_BOOTED,
    GOODBYE,
    LOGIN_FAILED,
    LOGIN_OK,
    ORIGINATE_QUEUED,
    ORIGINATE_RESPONSE,
    QUEUE_ADD_ALREADY,
    QUEUE_ADD_NO_QUEUE,
    QUEUE_ADD_OK,
    QUEUE_CALLER_JOIN,
    QUEUE_STATUS,
    message,
    wire,
)

from ivr_engine.ami.errors import AMIActionError, AMILocalError, AMIProtocolError
from ivr_engine.ami.protocol import (
    NEED_DATA,
    ActionCompleted,
    AMIConnection,
    AMIResponse,
    Banner,
    ConnectionClosed,
    Event,
    EventReceived,
    Headers,
    Skipped,
    encode_action,
)


def drain(conn: AMIConnection) -> list[Event]:
    events: list[Event] = []
    while (event := conn.next_event()) is not NEED_DATA:
        events.append(event)
        if isinstance(event, ConnectionClosed):
            break
    return events


def greeted() -> AMIConnection:
    conn = AMIConnection(id_prefix="t")
    conn.receive_data(BANNER)
    assert drain(conn) == [Banner("11.0.0")]
    return conn


def completed(events: list[Event]) -> AMIResponse:
    [event] = events
    assert isinstance(event, ActionCompleted)
    return event.response


# --- encoding -----------------------------------------------------------------------------


def test_action_encoding_with_generated_ids() -> None:
    conn = greeted()
    first, data = conn.send_action(
        "QueueAdd", {"Queue": "support", "Interface": "PJSIP/agent1", "Penalty": 2, "Paused": False}
    )
    assert first == "t-1"
    assert data == (
        b"Action: QueueAdd\r\nActionID: t-1\r\nQueue: support\r\nInterface: PJSIP/agent1\r\n"
        b"Penalty: 2\r\nPaused: false\r\n\r\n"
    )
    second, _ = conn.send_action("Ping")
    assert second == "t-2"
    assert conn.pending == ("t-1", "t-2")


def test_generated_id_prefixes_differ_between_connections() -> None:
    assert AMIConnection().send_action("Ping")[0] != AMIConnection().send_action("Ping")[0]


def test_repeated_field_from_a_sequence() -> None:
    data = encode_action(
        "Originate",
        "o-1",
        {"Channel": "Local/100@callers", "Variable": ["A=1", "B=two words"], "Async": True},
    )
    assert b"Variable: A=1\r\nVariable: B=two words\r\nAsync: true\r\n\r\n" in data


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("QueueAdd", {"Queue": "support\r\nAction: Originate"}),
        ("QueueAdd", {"Queue": "a\nb"}),
        ("QueueAdd", {"Queue": "nul\x00"}),
        ("Originate", {"Variable": ["ok", "bad\r\n"]}),
        ("QueueAdd", {"Bad Key": "x"}),
        ("QueueAdd", {"ActionID": "mine"}),
        ("QueueAdd", {"action": "Originate"}),
        ("Queue Add", {}),
        ("QueueAdd\r\n", {}),
    ],
)
def test_header_injection_and_bad_names_are_refused(name: str, fields: dict[str, object]) -> None:
    with pytest.raises(AMILocalError):
        encode_action(name, "x-1", fields)  # type: ignore[arg-type]


# --- banner and framing -------------------------------------------------------------------


def test_banner_then_messages_split_byte_by_byte() -> None:
    conn = AMIConnection(id_prefix="t")
    action_id, _ = conn.send_action("Login", {"Username": "ivr", "Secret": "s"})
    data = BANNER + wire(LOGIN_OK, action_id) + wire(FULLY_BOOTED)
    events: list[Event] = []
    for i in range(len(data)):
        conn.receive_data(data[i : i + 1])
        events += drain(conn)
    assert events[0] == Banner("11.0.0")
    assert isinstance(events[1], ActionCompleted) and events[1].response.ok
    assert events[1].response.message == "Authentication accepted"
    assert isinstance(events[2], EventReceived) and events[2].event.name == "FullyBooted"


def test_wrong_banner_is_a_protocol_error() -> None:
    conn = AMIConnection()
    conn.receive_data(b"SSH-2.0-OpenSSH_9.2\r\n")
    with pytest.raises(AMIProtocolError, match="not an Asterisk manager"):
        conn.next_event()


def test_bare_lf_line_endings_are_accepted() -> None:
    conn = greeted()
    conn.receive_data(b"Event: Hangup\nChannel: PJSIP/a-1\nCause: 16\n\n")
    [event] = drain(conn)
    assert isinstance(event, EventReceived) and event.event["Cause"] == "16"


def test_unbounded_line_is_refused() -> None:
    conn = AMIConnection(max_line_bytes=100)
    conn.receive_data(BANNER + b"Event: " + b"x" * 200)
    with pytest.raises(AMIProtocolError, match="longer than 100"):
        drain(conn)


def test_unbounded_message_is_refused() -> None:
    conn = AMIConnection(max_message_lines=5)
    conn.receive_data(BANNER + b"".join(b"Key%d: v\r\n" % n for n in range(6)))
    with pytest.raises(AMIProtocolError, match="longer than 5 lines"):
        drain(conn)


def test_garbage_is_tolerated() -> None:
    conn = greeted()
    conn.receive_data(
        b"\r\n\r\n"  # stray blank lines
        b"this is not a header\r\nnor this\r\n\r\n"  # a message of junk
        b"Event: Hangup\r\njunk line\r\nChannel: PJSIP/a-1\r\n\r\n"  # junk inside an event
        b"Response: Success\r\nActionID: nobody-1\r\n\r\n"  # answer to an action we never sent
    )
    events = drain(conn)
    assert isinstance(events[0], Skipped) and events[0].lines == (
        "this is not a header",
        "nor this",
    )
    assert isinstance(events[1], EventReceived)
    assert events[1].event.headers.pairs == (("Event", "Hangup"), ("Channel", "PJSIP/a-1"))
    assert isinstance(events[2], Skipped) and "no pending action" in events[2].reason


def test_values_keep_colons_and_case_insensitive_lookup() -> None:
    conn = greeted()
    conn.receive_data(b"Event: VarSet\r\nvariable: URL\r\nValue: http://x:80/a\r\n\r\n")
    [event] = drain(conn)
    assert isinstance(event, EventReceived)
    assert event.event.get("VARIABLE") == "URL"
    assert event.event["value"] == "http://x:80/a"


# --- actions and their answers ------------------------------------------------------------


def test_login_failure() -> None:
    conn = greeted()
    action_id, _ = conn.send_action("Login", {"Username": "ivr", "Secret": "wrong"})
    conn.receive_data(wire(LOGIN_FAILED, action_id))
    response = completed(drain(conn))
    assert not response.ok and response.status == "Error"
    assert response.message == "Authentication failed"
    with pytest.raises(
        AMIActionError, match="Login: Asterisk answered Error: Authentication failed"
    ):
        response.raise_for_error()


@pytest.mark.parametrize(
    ("fixture", "ok", "message"),
    [
        (QUEUE_ADD_OK, True, "Added interface to queue"),
        (QUEUE_ADD_ALREADY, False, "Unable to add interface: Already there"),
        (QUEUE_ADD_NO_QUEUE, False, "Unable to add interface to queue: No such queue"),
    ],
)
def test_queue_add_resolves_success_and_failure(fixture: str, ok: bool, message: str) -> None:
    conn = greeted()
    action_id, _ = conn.send_action("QueueAdd", {"Queue": "support", "Interface": "PJSIP/agent1"})
    conn.receive_data(wire(fixture, action_id))
    response = completed(drain(conn))
    assert response.action == "QueueAdd"
    assert response.ok is ok and response.message == message
    assert conn.pending == ()


def test_queue_status_collects_the_list_into_one_response() -> None:
    conn = greeted()
    action_id, _ = conn.send_action("QueueStatus", {"Queue": "support"})
    conn.receive_data(wire(FULLY_BOOTED))  # an unrelated event in between
    for part in QUEUE_STATUS[:-1]:
        conn.receive_data(wire(part, action_id))
    events = drain(conn)
    assert [type(e) for e in events] == [EventReceived]  # list not complete yet
    conn.receive_data(wire(QUEUE_STATUS[-1], action_id))
    response = completed(drain(conn))
    assert response.ok and response.message == "Queue status will follow"
    assert [e.name for e in response.events] == ["QueueParams", "QueueMember", "QueueEntry"]
    assert response.events[1]["Location"] == "Local/200@test"
    assert response.events[1]["PausedReason"] == ""
    assert response.events[2]["CallerIDNum"] == "unknown"
    assert response.completion is not None and response.completion["ListItems"] == "3"
    assert conn.pending == ()


def test_list_action_refused_resolves_at_once() -> None:
    conn = greeted()
    action_id, _ = conn.send_action("QueueStatus", {"Queue": "none"})
    conn.receive_data(
        wire(message("Response: Error\nActionID: {id}\nMessage: Permission denied"), action_id)
    )
    response = completed(drain(conn))
    assert not response.ok and response.events == ()


def test_interleaved_actions_match_by_action_id() -> None:
    conn = greeted()
    status_id, _ = conn.send_action("QueueStatus")
    add_id, _ = conn.send_action("QueueAdd", {"Queue": "support", "Interface": "PJSIP/agent2"})
    conn.receive_data(
        wire(QUEUE_STATUS[0], status_id)
        + wire(QUEUE_ADD_OK, add_id)
        + wire(QUEUE_STATUS[1], status_id)
        + wire(QUEUE_STATUS[-1], status_id)
    )
    first, second = drain(conn)
    assert isinstance(first, ActionCompleted) and first.response.action == "QueueAdd"
    assert isinstance(second, ActionCompleted) and second.response.action == "QueueStatus"
    assert len(second.response.events) == 1


def test_originate_async_response_then_originate_response_event() -> None:
    conn = greeted()
    action_id, _ = conn.send_action(
        "Originate", {"Channel": "Local/100@callers", "Application": "Wait", "Async": "true"}
    )
    conn.receive_data(wire(ORIGINATE_QUEUED, action_id) + wire(ORIGINATE_RESPONSE, action_id))
    first, second = drain(conn)
    assert isinstance(first, ActionCompleted)
    assert first.response.message == "Originate successfully queued"
    # The event carries "Response: Success" and our ActionID but is an event, not an answer.
    assert isinstance(second, EventReceived)
    assert second.event.name == "OriginateResponse"
    assert second.event.action_id == action_id
    assert second.event["Reason"] == "4"
    # channelvars on an originated channel come as "ChanVariable(<channel>): NAME=value"
    assert second.event["ChanVariable(Local/200@test-00000003;1)"] == "IVR_PATH="


def test_event_with_repeated_keys() -> None:
    conn = greeted()
    conn.receive_data(wire(QUEUE_CALLER_JOIN))
    [event] = drain(conn)
    assert isinstance(event, EventReceived)
    assert event.event.headers.get_all("ChanVariable") == ["IVR_PATH=1>3>2", "CUSTOMER_TIER=vip"]
    assert event.event.headers.as_dict()["ChanVariable"] == "IVR_PATH=1>3>2"


def test_command_output_headers() -> None:
    conn = greeted()
    action_id, _ = conn.send_action("Command", {"Command": "core show channels"})
    conn.receive_data(wire(COMMAND_OUTPUT, action_id))
    response = completed(drain(conn))
    assert response.output_lines[1] == "   Members: "
    assert response.output_lines[3:] == ["   No Callers", "", ""]


def test_response_follows_with_raw_output_and_blank_lines() -> None:
    conn = greeted()
    action_id, _ = conn.send_action("Command", {"Command": "queue show"})
    conn.receive_data(
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: " + action_id.encode() + b"\r\n"
        b"support has 0 calls (max unlimited) in 'rrmemory' strategy\r\n"
        b"   Members: \r\n"
        b"\r\n"
        b"      PJSIP/agent1 (dynamic) (Not in use)\r\n"
        b"--END COMMAND--\r\n\r\n"
        b"Event: Hangup\r\nChannel: x\r\n\r\n"
    )
    first, second = drain(conn)
    assert isinstance(first, ActionCompleted)
    assert first.response.status == "Follows" and first.response.ok
    assert first.response.output == (
        "support has 0 calls (max unlimited) in 'rrmemory' strategy",
        "   Members: ",
        "",
        "      PJSIP/agent1 (dynamic) (Not in use)",
    )
    assert isinstance(second, EventReceived)


def test_follows_end_marker_glued_to_last_output_line() -> None:
    conn = greeted()
    action_id, _ = conn.send_action("Command", {"Command": "x"})
    head = f"Response: Follows\r\nActionID: {action_id}\r\n"
    conn.receive_data(f"{head}No such command--END COMMAND--\r\n\r\n".encode())
    response = completed(drain(conn))
    assert response.output == ("No such command",)


def test_forgotten_action_answer_is_skipped() -> None:
    conn = greeted()
    action_id, _ = conn.send_action("QueueAdd", {"Queue": "q", "Interface": "PJSIP/a"})
    conn.forget(action_id)
    conn.receive_data(wire(QUEUE_ADD_OK, action_id))
    [event] = drain(conn)
    assert isinstance(event, Skipped)


def test_eof_reports_pending_actions_and_stays_closed() -> None:
    conn = greeted()
    action_id, _ = conn.send_action("QueueAdd", {"Queue": "q", "Interface": "PJSIP/a"})
    conn.receive_data(b"Response: Succ")
    conn.receive_data(b"")
    [event] = drain(conn)
    assert event == ConnectionClosed((action_id,))
    assert conn.next_event() == event
    with pytest.raises(AMILocalError):
        conn.send_action("Ping")


def test_logoff_goodbye_counts_as_success() -> None:
    conn = greeted()
    action_id, _ = conn.send_action("Logoff")
    conn.receive_data(wire(GOODBYE, action_id))
    response = completed(drain(conn))
    assert response.ok and response.status == "Goodbye"


def test_headers_helpers() -> None:
    headers = Headers((("Event", "X"), ("Variable", "a"), ("variable", "b")))
    assert headers.get_all("VARIABLE") == ["a", "b"]
    assert "event" in headers and "Missing" not in headers
    with pytest.raises(KeyError):
        headers["Missing"]
    assert list(headers) == [("Event", "X"), ("Variable", "a"), ("variable", "b")]
