"""Sans-I/O FastAGI: bytes in, typed events out; commands in, bytes out.

No sockets and no asyncio here (in the style of h11), so every corner of the wire format is tested
without a network. The facts about the wire come from Asterisk's res/res_agi.c:

* Asterisk opens with ``agi_*: value`` lines and a blank line (``setup_env``).
* We send one command line; Asterisk answers ``200 result=N [(data)] [key=value]``, ``510``,
  ``511``, ``520`` (one line, or a ``520-`` block ending in ``520 End of proper usage.``), or
  ``100 result=0 Trying...`` followed later by the final answer (GOSUB).
* When the channel hangs up, Asterisk writes an unsolicited ``HANGUP`` line between answers. It is
  never the answer to the current command.
* Asterisk reads a command line into a fixed buffer with fgets: a longer line is cut and its tail
  runs as a second command. Measured on Asterisk 22.10.1: a line of 8192 bytes (newline included)
  arrives whole, one of 8193 is split. So we refuse anything longer than 8192 bytes: a long
  caller-controlled value must never become a command of its own.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl

from ivr_engine.agi.errors import AGILocalProtocolError, AGIProtocolError
from ivr_engine.caller_id import identifies

MAX_COMMAND_BYTES = 8192  # newline included; measured on Asterisk 22.10.1 (see above)
MAX_COMMAND_WORDS = 127  # MAX_ARGS (128) in res_agi.c; one slot is the NULL terminator
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADER_LINES = 256
MAX_LINE_BYTES = 64 * 1024  # GET FULL VARIABLE answers are unbounded in Asterisk; we are not
MAX_USAGE_LINES = 500

_HEADER_KEY = re.compile(r"agi_[a-z0-9_]+")
_ARG_KEY = re.compile(r"agi_arg_([0-9]+)")
_COMMAND_NAME = re.compile(r"[A-Za-z]+(?: [A-Za-z]+)*")
_STATUS_LINE = re.compile(r"([0-9]{3})([ -])(.*)", re.DOTALL)
_TRAILING_FIELDS = re.compile(r"(?:\s+[A-Za-z_][A-Za-z0-9_]*=\S*)*\s*")
_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)")
_UNKNOWN = "unknown"
_STRIPPED = {ord("\r"): None, ord("\n"): None, 0: None}


def _known(value: str | None) -> str | None:
    """Asterisk writes ``unknown`` for a missing caller id, name, DNID or RDNIS."""
    return None if value is None or value == _UNKNOWN or value == "" else value


def _caller_number(value: str | None) -> str | None:
    """The caller's number, None when missing or withheld."""
    return value if identifies(value) else None


@dataclass(frozen=True, slots=True)
class AGIRequest:
    """The header block Asterisk sends when a call reaches ``AGI(agi://host/script?...)``."""

    headers: Mapping[str, str]  # every raw ``agi_*`` line, key as sent
    args: tuple[str, ...]  # agi_arg_1..N in order
    network_script: str | None
    request: str | None
    channel: str | None
    language: str | None
    uniqueid: str | None
    callerid: str | None  # None when Asterisk said "unknown", or the number is withheld ("anonymous")
    calleridname: str | None  # raw From-header display name: caller-controlled, never trust it
    dnid: str | None
    rdnis: str | None
    context: str | None
    extension: str | None
    priority: str | None
    accountcode: str | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> AGIRequest:
        numbered = sorted(
            (int(m.group(1)), value)
            for key, value in headers.items()
            if (m := _ARG_KEY.fullmatch(key)) is not None
        )
        get = headers.get
        return cls(
            headers=MappingProxyType(dict(headers)),
            args=tuple(value for _, value in numbered),
            network_script=get("agi_network_script"),
            request=get("agi_request"),
            channel=get("agi_channel"),
            language=get("agi_language"),
            uniqueid=get("agi_uniqueid"),
            callerid=_caller_number(get("agi_callerid")),
            calleridname=_known(get("agi_calleridname")),
            dnid=_known(get("agi_dnid")),
            rdnis=_known(get("agi_rdnis")),
            context=get("agi_context"),
            extension=get("agi_extension"),
            priority=get("agi_priority"),
            accountcode=get("agi_accountcode") or None,
        )

    @property
    def script(self) -> str:
        """The path part of ``agi://host/<script>?k=v``, without the query."""
        return (self.network_script or "").partition("?")[0]

    @property
    def params(self) -> dict[str, str]:
        """The query part of ``agi://host/script?<k=v&...>`` (last value wins)."""
        return dict(parse_qsl((self.network_script or "").partition("?")[2]))


@dataclass(frozen=True, slots=True)
class AGIResponse:
    """One final answer of Asterisk to one command."""

    code: int
    raw: str
    result: str | None = None  # text after "result=", "" kept (GET DATA timeout with no digits)
    data: str | None = None  # the "(...)" part: "timeout", a variable's value, "dtmf"...
    fields: Mapping[str, str] = field(default_factory=dict)  # key=value pairs such as endpos
    text: str = ""  # anything else: "Gosub complete", the 510/511/520 message
    usage: tuple[str, ...] = ()  # the body of a multi-line 520

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result) if self.result is not None else None
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class RequestReceived:
    request: AGIRequest


@dataclass(frozen=True, slots=True)
class HangupReceived:
    """Asterisk's unsolicited ``HANGUP`` line: the caller is gone, the socket still works."""


@dataclass(frozen=True, slots=True)
class Trying:
    """``100 result=0 Trying...``: the command runs (GOSUB); its final answer comes later."""

    text: str


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    command: str
    response: AGIResponse


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed the connection. ``clean`` when nothing was half-way."""

    pending_command: str | None = None  # the command whose answer never came
    during_header: bool = False
    partial_line: bool = False

    @property
    def clean(self) -> bool:
        return self.pending_command is None and not self.during_header and not self.partial_line


class NeedData(enum.Enum):
    NEED_DATA = "need data"


NEED_DATA = NeedData.NEED_DATA

Event = RequestReceived | HangupReceived | Trying | ResponseReceived | ConnectionClosed


class State(enum.Enum):
    HEADER = "header"  # reading agi_* lines
    IDLE = "idle"  # ready for a command
    AWAITING = "awaiting"  # one command sent, answer not complete
    CLOSED = "closed"  # the peer closed
    ERROR = "error"  # the peer broke the protocol; nothing more is parsed


def encode_argument(value: str) -> str:
    """Quote one argument for res_agi.c's parser.

    Asterisk splits on spaces, ``"`` toggles quoting and ``\\`` escapes the next character. A
    newline cannot be inside a command at all (it ends it), so CR, LF and NUL are removed; then
    ``\\`` and ``"`` are escaped and the whole is quoted, so the value is exactly one argument.
    """
    cleaned = value.translate(_STRIPPED)
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_command(name: str, *args: str) -> bytes:
    """``STREAM FILE`` + ("welcome", "123") -> ``STREAM FILE "welcome" "123"\\n``."""
    if not _COMMAND_NAME.fullmatch(name):
        raise AGILocalProtocolError(f"not an AGI command name: {name!r}")
    words = len(name.split()) + len(args)
    if words > MAX_COMMAND_WORDS:
        raise AGILocalProtocolError(f"{name}: {words} words, Asterisk keeps {MAX_COMMAND_WORDS}")
    for arg in args:
        if not isinstance(arg, str):
            raise AGILocalProtocolError(f"{name}: argument {arg!r} is not a string")
    line = " ".join([name, *(encode_argument(arg) for arg in args)]).encode() + b"\n"
    if len(line) > MAX_COMMAND_BYTES:
        raise AGILocalProtocolError(
            f"{name}: command is {len(line)} bytes, Asterisk reads at most {MAX_COMMAND_BYTES}"
        )
    return line


def parse_response_line(line: str) -> AGIResponse:
    """Parse one single-line answer (the ``520-`` block is assembled by :class:`AGIConnection`)."""
    match = _STATUS_LINE.fullmatch(line)
    if match is None or match.group(2) != " ":
        raise AGIProtocolError(f"not an AGI answer: {line[:120]!r}")
    code, rest = int(match.group(1)), match.group(3)
    if code != 200:
        return AGIResponse(code=code, raw=line, text=rest)
    if not rest.startswith("result="):
        raise AGIProtocolError(f"200 answer without result=: {line[:120]!r}")
    result, _, remainder = rest[len("result=") :].partition(" ")
    data: str | None = None
    if remainder.startswith("("):
        data, remainder = _split_data(remainder, line)
    fields: dict[str, str] = {}
    words: list[str] = []
    for token in remainder.split():
        if (kv := _FIELD.fullmatch(token)) is not None:
            fields[kv.group(1)] = kv.group(2)
        else:
            words.append(token)
    return AGIResponse(
        code=code, raw=line, result=result, data=data, fields=fields, text=" ".join(words)
    )


def _split_data(remainder: str, line: str) -> tuple[str, str]:
    """Split ``(data) key=value...``; data may itself contain ``)`` (a variable's value)."""
    closes = [i for i, char in enumerate(remainder) if char == ")"]
    if not closes:
        raise AGIProtocolError(f"unterminated '(' in AGI answer: {line[:120]!r}")
    for end in reversed(closes):
        if _TRAILING_FIELDS.fullmatch(remainder[end + 1 :]):
            return remainder[1:end], remainder[end + 1 :]
    return remainder[1 : closes[0]], remainder[closes[0] + 1 :]


class AGIConnection:
    """The FastAGI conversation of one call, seen from the server side.

    Feed bytes with :meth:`receive_data` (``b""`` means EOF), pull events with :meth:`next_event`
    until it returns ``NEED_DATA``, and turn commands into bytes with :meth:`send_command`.
    """

    def __init__(
        self,
        *,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_header_lines: int = MAX_HEADER_LINES,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self._max_header_bytes = max_header_bytes
        self._max_header_lines = max_header_lines
        self._max_line_bytes = max_line_bytes
        self._buffer = bytearray()
        self._eof = False
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._usage: list[str] | None = None  # inside a "520-" block
        self._usage_head = ""
        self._closed_event: ConnectionClosed | None = None
        self.state = State.HEADER
        self.request: AGIRequest | None = None
        self.hungup = False
        self.pending: str | None = None

    def receive_data(self, data: bytes) -> None:
        if self._eof:
            raise AGILocalProtocolError("data received after end of file")
        if data:
            self._buffer += data
        else:
            self._eof = True

    def send_command(self, name: str, *args: str) -> bytes:
        if self.state is State.AWAITING:
            raise AGILocalProtocolError(
                f"cannot send {name}: {self.pending} has not been answered yet"
            )
        if self.state is not State.IDLE:
            raise AGILocalProtocolError(f"cannot send {name} in state {self.state.value}")
        line = encode_command(name, *args)
        self.pending = name
        self.state = State.AWAITING
        return line

    def next_event(self) -> Event | NeedData:
        if self.state is State.ERROR:
            raise AGILocalProtocolError("the peer broke the protocol earlier; nothing to parse")
        if self._closed_event is not None:
            return self._closed_event
        try:
            while (line := self._next_line()) is not None:
                if (event := self._handle_line(line)) is not None:
                    return event
        except AGIProtocolError:
            self.state = State.ERROR
            raise
        if self._eof:
            return self._close()
        return NEED_DATA

    def _next_line(self) -> str | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            limit = self._max_line_bytes
            if self.state is State.HEADER:
                limit = self._max_header_bytes - self._header_bytes
            if len(self._buffer) > limit:
                raise AGIProtocolError(f"line longer than {limit} bytes without a newline")
            return None
        raw = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        if self.state is State.HEADER:
            self._header_bytes += len(raw)
            if self._header_bytes > self._max_header_bytes:
                raise AGIProtocolError(f"AGI header longer than {self._max_header_bytes} bytes")
        elif len(raw) > self._max_line_bytes:
            raise AGIProtocolError(f"AGI answer line longer than {self._max_line_bytes} bytes")
        return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")

    def _handle_line(self, line: str) -> Event | None:
        if self.state is State.HEADER:
            return self._header_line(line)
        if self._usage is not None:
            return self._usage_line(line)
        if line == "HANGUP":
            self.hungup = True
            return HangupReceived()
        if self.state is not State.AWAITING:
            raise AGIProtocolError(f"answer with no command outstanding: {line[:120]!r}")
        if line.startswith("520-"):
            self._usage = []
            self._usage_head = line[4:]
            return None
        response = parse_response_line(line)
        if response.code == 100:
            return Trying(response.text)
        return self._answer(response)

    def _header_line(self, line: str) -> Event | None:
        if line == "":
            if not self._headers:
                raise AGIProtocolError("empty AGI header block")
            self.request = AGIRequest.from_headers(self._headers)
            self.state = State.IDLE
            return RequestReceived(self.request)
        if len(self._headers) >= self._max_header_lines:
            raise AGIProtocolError(f"more than {self._max_header_lines} AGI header lines")
        key, colon, value = line.partition(":")
        if not colon or not _HEADER_KEY.fullmatch(key):
            raise AGIProtocolError(f"not an AGI header line: {line[:120]!r}")
        if key in self._headers:
            raise AGIProtocolError(f"AGI header {key} sent twice")
        self._headers[key] = value[1:] if value.startswith(" ") else value
        return None

    def _usage_line(self, line: str) -> Event | None:
        assert self._usage is not None
        if line.startswith("520 "):
            usage, self._usage = tuple(self._usage), None
            raw = "\n".join(["520-" + self._usage_head, *usage, line])
            return self._answer(AGIResponse(code=520, raw=raw, text=self._usage_head, usage=usage))
        if len(self._usage) >= MAX_USAGE_LINES:
            raise AGIProtocolError(f"520 usage block longer than {MAX_USAGE_LINES} lines")
        self._usage.append(line)
        return None

    def _answer(self, response: AGIResponse) -> ResponseReceived:
        assert self.pending is not None
        command, self.pending = self.pending, None
        self.state = State.IDLE
        return ResponseReceived(command, response)

    def _close(self) -> ConnectionClosed:
        event = ConnectionClosed(
            pending_command=self.pending,
            during_header=self.state is State.HEADER,
            partial_line=bool(self._buffer) or self._usage is not None,
        )
        self.state = State.CLOSED
        self._closed_event = event
        return event
