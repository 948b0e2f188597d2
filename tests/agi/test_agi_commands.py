"""Typed AGI commands: wire form and interpretation of the answers res_agi.c writes."""

from __future__ import annotations

from typing import Any

import pytest

from ivr_engine.agi import commands
from ivr_engine.agi.commands import Command, DigitsResult, Playback, RecordResult
from ivr_engine.agi.errors import AGICommandError, AGICommandFailed, AGIHangup
from ivr_engine.agi.protocol import AGIResponse, encode_command, parse_response_line


def wire(command: Command[Any]) -> bytes:
    return encode_command(command.name, *command.args)


def run(command: Command[Any], answer: str) -> Any:
    return command.interpret(parse_response_line(answer))


def test_stream_file() -> None:
    command = commands.stream_file("welcome", "123#")
    assert wire(command) == b'STREAM FILE "welcome" "123#"\n'
    assert run(command, "200 result=0 endpos=24807") == Playback(None, 24807)
    assert run(command, "200 result=49 endpos=8640") == Playback("1", 8640)
    assert run(command, "200 result=35 endpos=100") == Playback("#", 100)
    with pytest.raises(AGICommandFailed, match="cannot play 'welcome'"):
        run(command, "200 result=-1 endpos=0")
    assert wire(commands.stream_file("a", offset=800)) == b'STREAM FILE "a" "" "800"\n'


def test_get_data() -> None:
    command = commands.get_data("enter-account", 5000, 6)
    assert wire(command) == b'GET DATA "enter-account" "5000" "6"\n'
    assert run(command, "200 result=123456") == DigitsResult("123456", False)
    assert run(command, "200 result=12 (timeout)") == DigitsResult("12", True)
    assert run(command, "200 result= (timeout)") == DigitsResult("", True)
    assert run(command, "200 result=") == DigitsResult("", False)  # only '#' pressed
    assert run(command, "200 result=*0") == DigitsResult("*0", False)
    with pytest.raises(AGICommandFailed, match="hangup"):
        run(command, "200 result=-1")


def test_wait_for_digit() -> None:
    command = commands.wait_for_digit(3000)
    assert wire(command) == b'WAIT FOR DIGIT "3000"\n'
    assert run(command, "200 result=0") is None
    assert run(command, "200 result=55") == "7"
    assert run(command, "200 result=42") == "*"
    with pytest.raises(AGICommandFailed):
        run(command, "200 result=-1")
    with pytest.raises(AGICommandFailed, match="not a DTMF key"):
        run(command, "200 result=120")


def test_variables() -> None:
    assert wire(commands.set_variable("QUEUE_PRIO", "10")) == b'SET VARIABLE "QUEUE_PRIO" "10"\n'
    assert run(commands.set_variable("A", "b"), "200 result=1") is None
    get = commands.get_variable("CALLERID(name)")
    assert wire(get) == b'GET VARIABLE "CALLERID(name)"\n'
    assert run(get, "200 result=0") is None
    assert run(get, "200 result=1 ()") == ""
    assert run(get, "200 result=1 (Dr. Who (TARDIS))") == "Dr. Who (TARDIS)"
    full = commands.get_full_variable("${QUEUESTATUS}", "PJSIP/a-1")
    assert wire(full) == b'GET FULL VARIABLE "${QUEUESTATUS}" "PJSIP/a-1"\n'
    assert run(full, "200 result=1 (TIMEOUT)") == "TIMEOUT"
    with pytest.raises(AGICommandFailed):
        run(get, "200 result=1")


def test_exec_joins_application_arguments_with_commas() -> None:
    command = commands.exec_app("Queue", "support", "t", "", "", "300")
    assert wire(command) == b'EXEC "Queue" "support,t,,,300"\n'
    assert run(command, "200 result=0") == 0
    assert run(command, "200 result=-1") == -1
    with pytest.raises(AGICommandFailed, match="no application"):
        run(command, "200 result=-2")
    assert wire(commands.exec_app("Answer")) == b'EXEC "Answer"\n'
    with pytest.raises(ValueError, match="dialplan separator"):
        commands.exec_app("Dial", "PJSIP/a,30,U(evil)")


def test_answer_hangup_verbose_noop() -> None:
    assert wire(commands.answer()) == b"ANSWER\n"
    assert run(commands.answer(), "200 result=0") is None
    with pytest.raises(AGICommandFailed, match="expected result=0"):
        run(commands.answer(), "200 result=-1")
    assert wire(commands.hangup()) == b"HANGUP\n"
    assert run(commands.hangup(), "200 result=1") is None
    assert wire(commands.hangup("PJSIP/x-1")) == b'HANGUP "PJSIP/x-1"\n'
    with pytest.raises(AGICommandFailed):
        run(commands.hangup("PJSIP/none"), "200 result=-1")
    assert wire(commands.verbose("hello world", 3)) == b'VERBOSE "hello world" "3"\n'
    assert run(commands.noop(), "200 result=0") is None


def test_record_file() -> None:
    command = commands.record_file("/var/spool/vm/1", "wav", "#", 60000, beep=True, silence_s=3)
    assert wire(command) == b'RECORD FILE "/var/spool/vm/1" "wav" "#" "60000" "BEEP" "s=3"\n'
    assert run(command, "200 result=35 (dtmf) endpos=48000") == RecordResult("dtmf", "#", 48000)
    assert run(command, "200 result=0 (timeout) endpos=480000") == RecordResult(
        "timeout", None, 480000
    )
    assert run(command, "200 result=-1 (hangup) endpos=16000") == RecordResult(
        "hangup", None, 16000
    )
    with pytest.raises(AGICommandFailed, match="writefile"):
        run(command, "200 result=-1 (writefile)")
    with pytest.raises(AGICommandFailed, match="randomerror"):
        run(command, "200 result=-1 (randomerror) endpos=0")
    plain = commands.record_file("f", offset=8000)
    assert wire(plain) == b'RECORD FILE "f" "wav" "#" "-1" "8000"\n'


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("511 Command Not Permitted on a dead channel or intercept routine", AGIHangup),
        ("510 Invalid or unknown command", AGICommandError),
        ("520 Invalid command syntax.  Proper usage not available.", AGICommandError),
        ("503 result=-2 Memory allocation failure", AGICommandError),
    ],
)
def test_error_codes_map_to_exceptions(answer: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        run(commands.stream_file("x"), answer)


def test_command_error_names_command_and_usage() -> None:
    response = AGIResponse(520, "520-...", text="Invalid command syntax.", usage=("Usage: ANSWER",))
    with pytest.raises(AGICommandError, match=r"ANSWER: Asterisk answered 520.*Usage: ANSWER"):
        commands.answer().interpret(response)


def test_read_key_plays_every_file_in_one_read_with_no_terminator() -> None:
    command = commands.read_key("IVR_KEY", ["ivr/en/main", "ivr/en/opt.main.1"], 5.0)
    # `t` with no digits: * and # are keys, not terminators; 1 digit, 1 attempt, 5 s wait
    assert wire(command) == b'EXEC "Read" "IVR_KEY,ivr/en/main&ivr/en/opt.main.1,1,t,1,5.000"\n'
    assert run(command, "200 result=0") == 0
    # Read's 0 would mean its own default wait; no wait is one millisecond
    assert wire(commands.read_key("K", ["a"], 0.0)).endswith(b',1,t,1,0.001"\n')
    with pytest.raises(ValueError, match="'&'"):
        commands.read_key("K", ["a&b"], 1.0)
    with pytest.raises(ValueError, match="no files"):
        commands.read_key("K", [], 1.0)
