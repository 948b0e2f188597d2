"""The sans-I/O FastAGI state machine, fed bytes as Asterisk writes them; no network."""

from __future__ import annotations

import pytest
from agi_fixtures import TRANSCRIPT, asterisk_parse_args, header

from ivr_engine.agi.errors import AGILocalProtocolError, AGIProtocolError
from ivr_engine.agi.protocol import (
    MAX_COMMAND_BYTES,
    NEED_DATA,
    AGIConnection,
    AGIResponse,
    ConnectionClosed,
    Event,
    HangupReceived,
    RequestReceived,
    ResponseReceived,
    State,
    Trying,
    encode_command,
    parse_response_line,
)


def drain(conn: AGIConnection) -> list[Event]:
    events: list[Event] = []
    while (event := conn.next_event()) is not NEED_DATA:
        events.append(event)
        if isinstance(event, ConnectionClosed):
            break
    return events


def ready(**overrides: str) -> AGIConnection:
    conn = AGIConnection()
    conn.receive_data(header(**overrides))
    [event] = drain(conn)
    assert isinstance(event, RequestReceived)
    return conn


def answer_to(conn: AGIConnection, name: str, wire: bytes, *args: str) -> list[Event]:
    conn.send_command(name, *args)
    conn.receive_data(wire)
    return drain(conn)


# --- the request header -------------------------------------------------------------------


def test_header_parsed_into_typed_request() -> None:
    conn = AGIConnection()
    conn.receive_data(header())
    [event] = drain(conn)
    assert isinstance(event, RequestReceived)
    request = event.request
    assert request.network_script == "ivr?flow=hotline"
    assert request.script == "ivr"
    assert request.params == {"flow": "hotline"}
    assert request.request == "agi://127.0.0.1:4573/ivr?flow=hotline"
    assert request.channel == "PJSIP/caller-00000001"
    assert request.language == "en"
    assert request.uniqueid == "1700000000.1"
    assert request.callerid == "5551234"
    assert request.calleridname == "Alice"
    assert request.dnid == "12320"
    assert request.rdnis is None
    assert request.context == "ivr"
    assert request.extension == "12320"
    assert request.priority == "2"
    assert request.accountcode is None
    assert request.args == ("hotline", "en")
    assert request.headers["agi_type"] == "PJSIP"
    assert request.headers["agi_accountcode"] == ""
    assert conn.state is State.IDLE


def test_unknown_caller_is_none_not_the_string_unknown() -> None:
    conn = ready(agi_callerid="unknown", agi_calleridname="unknown", agi_dnid="unknown")
    assert conn.request is not None
    assert conn.request.callerid is None
    assert conn.request.calleridname is None
    assert conn.request.dnid is None
    assert conn.request.headers["agi_callerid"] == "unknown"


@pytest.mark.parametrize("withheld", ["anonymous", "Anonymous", "restricted", "PRIVATE", "unavailable"])
def test_a_withheld_number_is_no_caller_id(withheld: str) -> None:
    # Keyed like a number, "anonymous" would give every withheld caller one personal history.
    conn = ready(agi_callerid=withheld, agi_calleridname="Anonymous")
    assert conn.request is not None
    assert conn.request.callerid is None
    assert conn.request.calleridname == "Anonymous"
    assert conn.request.headers["agi_callerid"] == withheld


def test_a_number_is_kept_as_sent() -> None:
    conn = ready(agi_callerid="13800000000")
    assert conn.request is not None and conn.request.callerid == "13800000000"


def test_args_ordered_numerically_and_values_kept_raw() -> None:
    conn = AGIConnection()
    lines = [f"agi_arg_{n}: v{n}\n" for n in (10, 2, 1)]
    conn.receive_data(("agi_network: yes\n" + "".join(lines) + "\n").encode())
    [event] = drain(conn)
    assert isinstance(event, RequestReceived)
    assert event.request.args == ("v1", "v2", "v10")


def test_caller_controlled_name_with_quotes_and_colons_is_kept_verbatim() -> None:
    conn = ready(agi_calleridname='Mallory": x\\ "EXEC Dial')
    assert conn.request is not None
    assert conn.request.calleridname == 'Mallory": x\\ "EXEC Dial'


def test_header_split_over_many_chunks_and_crlf() -> None:
    data = header().replace(b"\n", b"\r\n")
    conn = AGIConnection()
    events: list[Event] = []
    for i in range(len(data)):
        conn.receive_data(data[i : i + 1])
        events += drain(conn)
    assert len(events) == 1 and isinstance(events[0], RequestReceived)
    assert events[0].request.channel == "PJSIP/caller-00000001"


def test_eof_before_blank_line_is_reported_once_and_stays_closed() -> None:
    conn = AGIConnection()
    conn.receive_data(b"agi_network: yes\nagi_request: agi://x/ivr\n")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"")
    first = conn.next_event()
    assert isinstance(first, ConnectionClosed)
    assert first.during_header and not first.clean
    assert conn.next_event() == first  # stable, no new work per call
    assert conn.state is State.CLOSED


def test_eof_on_empty_connection() -> None:
    conn = AGIConnection()
    conn.receive_data(b"")
    event = conn.next_event()
    assert isinstance(event, ConnectionClosed) and event.during_header


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\n\n",
        b"agi_network yes\n\n",
        b"network: yes\n\n",
        b"agi_Network: yes\n\n",
        b"\n",
        b"agi_network: yes\nagi_network: no\n\n",
    ],
)
def test_bad_header_is_a_protocol_error(data: bytes) -> None:
    conn = AGIConnection()
    conn.receive_data(data)
    with pytest.raises(AGIProtocolError):
        drain(conn)
    assert conn.state is State.ERROR
    with pytest.raises(AGILocalProtocolError):
        conn.next_event()


def test_oversized_header_line_without_newline_is_refused_early() -> None:
    conn = AGIConnection(max_header_bytes=1024)
    conn.receive_data(b"agi_calleridname: " + b"A" * 1000)
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"A" * 100)
    with pytest.raises(AGIProtocolError, match="without a newline"):
        conn.next_event()


def test_oversized_header_in_total_is_refused() -> None:
    conn = AGIConnection(max_header_bytes=2048)
    conn.receive_data(b"".join(b"agi_arg_%d: %s\n" % (n, b"x" * 50) for n in range(100)))
    with pytest.raises(AGIProtocolError, match="longer than 2048"):
        drain(conn)


def test_too_many_header_lines_is_refused() -> None:
    conn = AGIConnection(max_header_lines=10)
    conn.receive_data(b"".join(b"agi_arg_%d: x\n" % n for n in range(11)))
    with pytest.raises(AGIProtocolError, match="more than 10"):
        drain(conn)


def test_non_utf8_header_value_is_decoded_with_replacement() -> None:
    conn = AGIConnection()
    conn.receive_data(b"agi_calleridname: \xff\xfeBob\n\n")
    [event] = drain(conn)
    assert isinstance(event, RequestReceived)
    assert event.request.calleridname == "\ufffd\ufffdBob"


# --- answers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("200 result=0", AGIResponse(code=200, raw="200 result=0", result="0")),
        (
            "200 result=0 endpos=24807",
            AGIResponse(200, "200 result=0 endpos=24807", "0", None, {"endpos": "24807"}),
        ),
        (
            "200 result=49 endpos=8640",
            AGIResponse(200, "200 result=49 endpos=8640", "49", None, {"endpos": "8640"}),
        ),
        (
            "200 result=-1 endpos=0",
            AGIResponse(200, "200 result=-1 endpos=0", "-1", None, {"endpos": "0"}),
        ),
        ("200 result= (timeout)", AGIResponse(200, "200 result= (timeout)", "", "timeout")),
        ("200 result=12 (timeout)", AGIResponse(200, "200 result=12 (timeout)", "12", "timeout")),
        ("200 result=", AGIResponse(200, "200 result=", "")),
        ("200 result=1 (value)", AGIResponse(200, "200 result=1 (value)", "1", "value")),
        ("200 result=1 ()", AGIResponse(200, "200 result=1 ()", "1", "")),
        (
            "200 result=1 (a (b) c) d)",
            AGIResponse(200, "200 result=1 (a (b) c) d)", "1", "a (b) c) d"),
        ),
        (
            "200 result=1 (x) endpos=3)",
            AGIResponse(200, "200 result=1 (x) endpos=3)", "1", "x) endpos=3"),
        ),
        (
            "200 result=0 (timeout) endpos=16000",
            AGIResponse(
                200, "200 result=0 (timeout) endpos=16000", "0", "timeout", {"endpos": "16000"}
            ),
        ),
        (
            "200 result=35 (dtmf) endpos=8000",
            AGIResponse(200, "200 result=35 (dtmf) endpos=8000", "35", "dtmf", {"endpos": "8000"}),
        ),
        (
            "200 result=0 Gosub complete",
            AGIResponse(200, "200 result=0 Gosub complete", "0", text="Gosub complete"),
        ),
        (
            "200 result=1 (speech) endpos=1234 results=foo bar",
            AGIResponse(
                200,
                "200 result=1 (speech) endpos=1234 results=foo bar",
                "1",
                "speech",
                {"endpos": "1234", "results": "foo"},
                "bar",
            ),
        ),
        (
            "510 Invalid or unknown command",
            AGIResponse(510, "510 Invalid or unknown command", text="Invalid or unknown command"),
        ),
        (
            "511 Command Not Permitted on a dead channel or intercept routine",
            AGIResponse(
                511,
                "511 Command Not Permitted on a dead channel or intercept routine",
                text="Command Not Permitted on a dead channel or intercept routine",
            ),
        ),
        (
            "520 Invalid command syntax.  Proper usage not available.",
            AGIResponse(
                520,
                "520 Invalid command syntax.  Proper usage not available.",
                text="Invalid command syntax.  Proper usage not available.",
            ),
        ),
        (
            "503 result=-2 Memory allocation failure",
            AGIResponse(
                503,
                "503 result=-2 Memory allocation failure",
                text="result=-2 Memory allocation failure",
            ),
        ),
    ],
)
def test_every_single_line_answer_form(line: str, expected: AGIResponse) -> None:
    conn = ready()
    [event] = answer_to(conn, "NOOP", line.encode() + b"\n")
    assert isinstance(event, ResponseReceived)
    assert event.command == "NOOP"
    assert event.response == expected
    assert conn.state is State.IDLE and conn.pending is None


def test_timeout_result_keeps_empty_string_not_none() -> None:
    response = parse_response_line("200 result= (timeout)")
    assert response.result == "" and response.data == "timeout"
    assert response.result_int is None


@pytest.mark.parametrize(
    "line",
    [
        "200",
        "200 result 1",
        "2000 result=1",
        "abc",
        "",
        "20 result=1",
        "200-result=1",
        "200 result=1 (x",
    ],
)
def test_garbage_answer_is_a_protocol_error(line: str) -> None:
    conn = ready()
    conn.send_command("NOOP")
    conn.receive_data(line.encode() + b"\n")
    with pytest.raises(AGIProtocolError):
        drain(conn)
    assert conn.state is State.ERROR


def test_multiline_520_is_one_answer_and_does_not_desynchronise() -> None:
    conn = ready()
    block = (
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b" Usage: DATABASE GET <family> <key>\n"
        b"\n"
        b"Example return code: 200 result=1 (testvariable)\n"
        b"HANGUP\n"
        b"520 End of proper usage.\n"
    )
    [event] = answer_to(conn, "DATABASE GET", block)
    assert isinstance(event, ResponseReceived)
    response = event.response
    assert response.code == 520
    assert response.text == "Invalid command syntax.  Proper usage follows:"
    assert response.usage == (
        " Usage: DATABASE GET <family> <key>",
        "",
        "Example return code: 200 result=1 (testvariable)",
        "HANGUP",
    )
    assert not conn.hungup  # a line of usage text is not Asterisk's HANGUP
    [event] = answer_to(conn, "GET VARIABLE", b"200 result=1 (transfer)\n", "X")
    assert isinstance(event, ResponseReceived)
    assert event.response.data == "transfer"


def test_520_block_split_across_chunks() -> None:
    conn = ready()
    conn.send_command("ANSWER", "extra")
    wire = (
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b"Answers channel.\n"
        b"520 End of proper usage.\n"
    )
    events: list[Event] = []
    for i in range(0, len(wire), 7):
        conn.receive_data(wire[i : i + 7])
        events += drain(conn)
    assert [type(e) for e in events] == [ResponseReceived]


def test_100_trying_is_intermediate_then_final_answer() -> None:
    conn = ready()
    events = answer_to(
        conn, "GOSUB", b"100 result=0 Trying...\n200 result=0 Gosub complete\n", "sub", "s", "1"
    )
    assert isinstance(events[0], Trying) and events[0].text == "result=0 Trying..."
    assert isinstance(events[1], ResponseReceived)
    assert events[1].response.text == "Gosub complete"


def test_100_trying_alone_leaves_command_outstanding() -> None:
    conn = ready()
    events = answer_to(conn, "GOSUB", b"100 result=0 Trying...\n", "sub", "s", "1")
    assert [type(e) for e in events] == [Trying]
    assert conn.state is State.AWAITING
    with pytest.raises(AGILocalProtocolError):
        conn.send_command("NOOP")


# --- HANGUP -------------------------------------------------------------------------------


def test_hangup_before_any_command() -> None:
    conn = AGIConnection()
    conn.receive_data(header() + b"HANGUP\n")
    events = drain(conn)
    assert [type(e) for e in events] == [RequestReceived, HangupReceived]
    assert conn.hungup and conn.state is State.IDLE


def test_hangup_during_command_is_not_its_answer() -> None:
    conn = ready()
    events = answer_to(conn, "STREAM FILE", b"HANGUP\n", "welcome", "")
    assert [type(e) for e in events] == [HangupReceived]
    assert conn.state is State.AWAITING and conn.hungup
    conn.receive_data(b"200 result=-1 endpos=1200\n")
    [event] = drain(conn)
    assert isinstance(event, ResponseReceived) and event.command == "STREAM FILE"
    assert event.response.result == "-1"


def test_hangup_between_answers_keeps_following_answers_aligned() -> None:
    conn = ready()
    events = answer_to(conn, "STREAM FILE", b"200 result=0 endpos=8000\nHANGUP\n", "a", "")
    assert [type(e) for e in events] == [ResponseReceived, HangupReceived]
    [event] = answer_to(conn, "GET VARIABLE", b"200 result=1 (v)\n", "X")
    assert isinstance(event, ResponseReceived) and event.response.data == "v"
    [event] = answer_to(conn, "STREAM FILE", b"511 Command Not Permitted\n", "b", "")
    assert isinstance(event, ResponseReceived) and event.response.code == 511


def test_hangup_after_answer_in_same_chunk_as_next_command_answer() -> None:
    conn = ready()
    conn.send_command("ANSWER")
    conn.receive_data(b"200 result=0\nHAN")
    [event] = drain(conn)
    assert isinstance(event, ResponseReceived)
    conn.receive_data(b"GUP\n")
    [event] = drain(conn)
    assert isinstance(event, HangupReceived)


def test_answer_without_a_command_is_a_protocol_error() -> None:
    conn = ready()
    conn.receive_data(b"200 result=0\n")
    with pytest.raises(AGIProtocolError, match="no command outstanding"):
        drain(conn)


# --- truncation and EOF ------------------------------------------------------------------


def test_partial_line_is_buffered_until_complete() -> None:
    conn = ready()
    conn.send_command("WAIT FOR DIGIT", "5000")
    conn.receive_data(b"200 res")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"ult=5")
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"3\n")
    [event] = drain(conn)
    assert isinstance(event, ResponseReceived) and event.response.result == "53"


def test_eof_mid_answer_reports_pending_command() -> None:
    conn = ready()
    conn.send_command("GET DATA", "menu", "5000", "4")
    conn.receive_data(b"200 result=12")
    conn.receive_data(b"")
    [event] = drain(conn)
    assert isinstance(event, ConnectionClosed)
    assert event.pending_command == "GET DATA" and event.partial_line and not event.clean


def test_eof_inside_520_block() -> None:
    conn = ready()
    conn.send_command("ANSWER", "x")
    conn.receive_data(b"520-Invalid command syntax.  Proper usage follows:\nAnswers\n")
    conn.receive_data(b"")
    [event] = drain(conn)
    assert isinstance(event, ConnectionClosed) and event.partial_line
    assert event.pending_command == "ANSWER"


def test_eof_while_idle_is_clean() -> None:
    conn = ready()
    conn.receive_data(b"HANGUP\n")
    conn.receive_data(b"")
    events = drain(conn)
    assert isinstance(events[-1], ConnectionClosed) and events[-1].clean


def test_oversized_answer_line_is_refused() -> None:
    conn = AGIConnection(max_line_bytes=100)
    conn.receive_data(header())
    drain(conn)
    conn.send_command("GET VARIABLE", "X")
    conn.receive_data(b"200 result=1 (" + b"v" * 200)
    with pytest.raises(AGIProtocolError):
        conn.next_event()


def test_data_after_eof_is_a_local_error() -> None:
    conn = AGIConnection()
    conn.receive_data(b"")
    with pytest.raises(AGILocalProtocolError):
        conn.receive_data(b"x")


# --- sending ------------------------------------------------------------------------------


def test_second_command_before_answer_is_a_local_error() -> None:
    conn = ready()
    assert conn.send_command("STREAM FILE", "welcome", "12") == b'STREAM FILE "welcome" "12"\n'
    with pytest.raises(AGILocalProtocolError, match="STREAM FILE has not been answered"):
        conn.send_command("GET VARIABLE", "X")


def test_command_before_header_is_a_local_error() -> None:
    with pytest.raises(AGILocalProtocolError, match="state header"):
        AGIConnection().send_command("ANSWER")


def test_command_after_close_is_a_local_error() -> None:
    conn = ready()
    conn.receive_data(b"")
    drain(conn)
    with pytest.raises(AGILocalProtocolError, match="closed"):
        conn.send_command("ANSWER")


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("plain", '"plain"'),
        ("", '""'),
        ("two words", '"two words"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("trailing\\", r'"trailing\\"'),
        ('x"\nEXEC Dial "PJSIP/evil', r'"x\"EXEC Dial \"PJSIP/evil"'),
        ("a\r\nHANGUP\r\n", '"aHANGUP"'),
        ("nul\x00byte", '"nulbyte"'),
        ("tab\there", '"tab\there"'),
        ("中文", '"中文"'),
    ],
)
def test_argument_escaping(value: str, wire: str) -> None:
    assert encode_command("SET VARIABLE", "V", value) == f'SET VARIABLE "V" {wire}\n'.encode()


def test_injection_attempt_stays_one_line_one_command() -> None:
    evil = 'Bob"\nEXEC Dial PJSIP/premium-rate\n"'
    line = encode_command("SET VARIABLE", "CALLERNAME", evil)
    assert line.count(b"\n") == 1 and line.endswith(b"\n")


@pytest.mark.parametrize("name", ["", "STREAM  FILE", "ANSWER\n", 'EXEC"', "GET VARIABLE ", "A1"])
def test_bad_command_names_are_refused(name: str) -> None:
    with pytest.raises(AGILocalProtocolError, match="not an AGI command name"):
        encode_command(name)


def test_command_length_limit_matches_asterisk_buffer() -> None:
    prefix = len(b'VERBOSE ""\n')
    assert len(encode_command("VERBOSE", "x" * (MAX_COMMAND_BYTES - prefix))) == MAX_COMMAND_BYTES
    with pytest.raises(AGILocalProtocolError, match="at most 8192"):
        encode_command("VERBOSE", "x" * (MAX_COMMAND_BYTES - prefix + 1))
    # escaping counts: 4100 quotes become 8200 bytes
    with pytest.raises(AGILocalProtocolError):
        encode_command("VERBOSE", '"' * 4100)


def test_too_many_words_is_refused() -> None:
    encode_command("EXEC", *(["x"] * 126))
    with pytest.raises(AGILocalProtocolError, match="words"):
        encode_command("EXEC", *(["x"] * 127))


def test_non_string_argument_is_refused() -> None:
    with pytest.raises(AGILocalProtocolError, match="not a string"):
        encode_command("WAIT FOR DIGIT", 5000)  # type: ignore[arg-type]


def test_replay_of_a_real_asterisk_call() -> None:
    conn = ready()
    answers: list[tuple[str, int, str | None, str | None]] = []
    for command, answer in TRANSCRIPT:
        name, args = _split(command)
        assert conn.send_command(name, *args) == command
        conn.receive_data(answer)
        for event in drain(conn):
            if isinstance(event, ResponseReceived):
                r = event.response
                answers.append((event.command, r.code, r.result, r.data))
    assert answers[2] == ("STREAM FILE", 200, "-1", None)
    assert answers[3] == ("GET DATA", 200, "", "timeout")
    assert answers[5][:2] == ("DATABASE GET", 520)
    assert answers[6][:2] == ("FOO BAR", 510)
    assert answers[8] == ("GET VARIABLE", 200, "1", 'a "q" b')
    assert answers[11] == ("GOSUB", 200, "0", None)
    assert answers[12] == ("RECORD FILE", 200, "0", "timeout")
    assert answers[14][:2] == ("STREAM FILE", 511)
    assert len(answers) == len(TRANSCRIPT)
    assert conn.hungup and conn.state is State.IDLE


def _split(command: bytes) -> tuple[str, list[str]]:
    """Our own command line back into name and arguments (names are the unquoted words)."""
    words = asterisk_parse_args(command.decode().rstrip("\n"))
    quoted_at = command.find(b'"')
    name_words = len(command[:quoted_at].split()) if quoted_at >= 0 else len(words)
    return " ".join(words[:name_words]), words[name_words:]
