"""Typed AGI commands: what to send and how to read Asterisk's answer, in one place.

Each function builds a :class:`Command` whose ``parse`` turns the ``200`` answer into a Python
value. The server's session runs them; the tests check them against answers copied from
res_agi.c without a network. Result conventions are those of res_agi.c's handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from ivr_engine.agi.errors import AGICommandError, AGICommandFailed, AGIHangup
from ivr_engine.agi.protocol import AGIResponse

T = TypeVar("T")

DTMF_KEYS = frozenset("0123456789*#ABCD")


@dataclass(frozen=True, slots=True)
class Command(Generic[T]):
    name: str
    args: tuple[str, ...]
    parse: Callable[[AGIResponse], T]

    def interpret(self, response: AGIResponse) -> T:
        """Map the answer's code to an exception or, for 200, to the typed value."""
        return self.parse(check_response(self.name, response))


def check_response(command: str, response: AGIResponse) -> AGIResponse:
    if response.code == 200:
        return response
    if response.code == 511:
        raise AGIHangup(f"{command}: the channel is dead ({response.text})")
    raise AGICommandError(command, response)


class Playback(NamedTuple):
    key: str | None  # the escape digit that stopped the prompt, None if it played out
    endpos: int  # sample offset where playback stopped


class DigitsResult(NamedTuple):
    digits: str
    timed_out: bool


class RecordResult(NamedTuple):
    ended_by: str  # "dtmf", "timeout" (also silence) or "hangup"
    key: str | None
    endpos: int


def _result(command: str, response: AGIResponse) -> int:
    value = response.result_int
    if value is None:
        raise AGICommandFailed(command, response, f"result {response.result!r} is not a number")
    return value


def _key(command: str, response: AGIResponse, code: int) -> str:
    key = chr(code) if 0 < code < 0x110000 else ""
    if key not in DTMF_KEYS:
        raise AGICommandFailed(command, response, f"result {code} is not a DTMF key")
    return key


def _endpos(command: str, response: AGIResponse) -> int:
    try:
        return int(response.fields.get("endpos", "0"))
    except ValueError:
        raise AGICommandFailed(command, response, "endpos is not a number") from None


def _expect(command: str, ok: int) -> Callable[[AGIResponse], None]:
    def parse(response: AGIResponse) -> None:
        if _result(command, response) != ok:
            raise AGICommandFailed(command, response, f"expected result={ok}")

    return parse


def answer() -> Command[None]:
    return Command("ANSWER", (), _expect("ANSWER", 0))


def hangup(channel: str | None = None) -> Command[None]:
    args = () if channel is None else (channel,)
    return Command("HANGUP", args, _expect("HANGUP", 1))


def noop() -> Command[None]:
    return Command("NOOP", (), lambda response: None)


def verbose(message: str, level: int = 1) -> Command[None]:
    return Command("VERBOSE", (message, str(level)), _expect("VERBOSE", 1))


def set_variable(name: str, value: str) -> Command[None]:
    return Command("SET VARIABLE", (name, value), _expect("SET VARIABLE", 1))


def _variable(command: str) -> Callable[[AGIResponse], str | None]:
    def parse(response: AGIResponse) -> str | None:
        found = _result(command, response)
        if found == 0:
            return None
        if found == 1 and response.data is not None:
            return response.data
        raise AGICommandFailed(command, response, "expected result=0 or result=1 (value)")

    return parse


def get_variable(name: str) -> Command[str | None]:
    """None when the variable is not set; "" when it is set and empty."""
    return Command("GET VARIABLE", (name,), _variable("GET VARIABLE"))


def get_full_variable(expression: str, channel: str | None = None) -> Command[str | None]:
    """Evaluate ``${...}`` expressions (functions included) on this or another channel."""
    args = (expression,) if channel is None else (expression, channel)
    return Command("GET FULL VARIABLE", args, _variable("GET FULL VARIABLE"))


def stream_file(file: str, escape_digits: str = "", offset: int | None = None) -> Command[Playback]:
    def parse(response: AGIResponse) -> Playback:
        code = _result("STREAM FILE", response)
        if code < 0:
            raise AGICommandFailed("STREAM FILE", response, f"cannot play {file!r} or hangup")
        key = _key("STREAM FILE", response, code) if code else None
        return Playback(key, _endpos("STREAM FILE", response))

    args = (file, escape_digits) if offset is None else (file, escape_digits, str(offset))
    return Command("STREAM FILE", args, parse)


def get_data(file: str, timeout_ms: int, max_digits: int) -> Command[DigitsResult]:
    """Play ``file`` and collect up to ``max_digits`` keys; ``#`` ends input early."""

    def parse(response: AGIResponse) -> DigitsResult:
        digits = response.result or ""
        if digits.startswith("-"):
            raise AGICommandFailed("GET DATA", response, "channel failure or hangup")
        if any(char not in DTMF_KEYS for char in digits):
            raise AGICommandFailed("GET DATA", response, "result is not DTMF digits")
        return DigitsResult(digits, response.data == "timeout")

    return Command("GET DATA", (file, str(timeout_ms), str(max_digits)), parse)


def wait_for_digit(timeout_ms: int) -> Command[str | None]:
    def parse(response: AGIResponse) -> str | None:
        code = _result("WAIT FOR DIGIT", response)
        if code < 0:
            raise AGICommandFailed("WAIT FOR DIGIT", response, "channel failure or hangup")
        return _key("WAIT FOR DIGIT", response, code) if code else None

    return Command("WAIT FOR DIGIT", (str(timeout_ms),), parse)


def exec_app(app: str, *args: str) -> Command[int]:
    """Run a dialplan application; returns its result (-2 means Asterisk has no such app).

    res_agi.c hands the application only the first argument after its name, so the application's
    arguments are joined with ``,`` here; a comma inside one would silently split it, so it is
    refused (allow-list what reaches dialplan arguments).
    """
    for arg in args:
        if "," in arg:
            raise ValueError(f"EXEC {app}: argument {arg!r} contains ',' (a dialplan separator)")

    def parse(response: AGIResponse) -> int:
        code = _result("EXEC", response)
        if code == -2:
            raise AGICommandFailed("EXEC", response, f"no application {app!r}")
        return code

    return Command("EXEC", (app, ",".join(args)) if args else (app,), parse)


def read_key(variable: str, files: Sequence[str], wait: float) -> Command[int]:
    """Play `files` in one Read application and store the first key (any of 0-9 * #) in `variable`.

    Asterisk reads no key while it waits for the next AGI command (res_agi.c `run_agi` reads the
    channel and frees every frame), so a key pressed between two STREAM FILE commands is lost.
    Inside one Read the files follow each other in the application and a key at any moment stops
    them. Options: maxdigits 1; `t` with no digits, so `#` is a key rather than a terminator; one
    attempt; `wait` seconds for a key after the last file (at least a millisecond: Read's 0 means
    its own default wait).
    """
    if not files:
        raise ValueError("Read: no files to play")
    for file in files:
        if not file or "&" in file:
            raise ValueError(f"Read: sound name {file!r} is empty or contains '&' (Read's file separator)")
    return exec_app("Read", variable, "&".join(files), "1", "t", "1", f"{max(wait, 0.001):.3f}")


def record_file(
    file: str,
    format: str = "wav",
    escape_digits: str = "#",
    timeout_ms: int = -1,
    *,
    beep: bool = False,
    silence_s: int | None = None,
    offset: int | None = None,
) -> Command[RecordResult]:
    """Record until an escape digit, ``timeout_ms`` (-1: none), ``silence_s`` of silence or hangup.

    A hangup is an ordinary ending here (the voice message is kept), not an exception.
    """

    def parse(response: AGIResponse) -> RecordResult:
        code = _result("RECORD FILE", response)
        reason = response.data or ""
        endpos = _endpos("RECORD FILE", response)
        if reason == "dtmf":
            return RecordResult("dtmf", _key("RECORD FILE", response, code), endpos)
        if reason in ("timeout", "hangup"):
            return RecordResult(reason, None, endpos)
        raise AGICommandFailed("RECORD FILE", response, reason or "unexpected answer")

    args = [file, format, escape_digits, str(timeout_ms)]
    if offset is not None:
        args.append(str(offset))
    if beep:
        args.append("BEEP")
    if silence_s is not None:
        args.append(f"s={silence_s}")
    return Command("RECORD FILE", tuple(args), parse)
