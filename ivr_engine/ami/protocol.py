"""Sans-I/O Asterisk Manager Interface: bytes in, typed events out; actions in, bytes out.

The wire (main/manager.c): a banner line ``Asterisk Call Manager/x.y.z``, then messages of
``Key: Value`` lines ended by a blank line. Keys repeat (``Variable:``, ``Output:``,
``ChanVariable:``), so a message is an ordered list of pairs. A message with ``Event:`` is an event
(``OriginateResponse`` even carries a ``Response:`` key); otherwise ``Response:`` makes it the
answer to the action with the same ``ActionID``. List actions (QueueStatus, Status...) answer
``EventList: start``, send their items as events with the ActionID, and end with an event carrying
``EventList: Complete``; the action resolves once, with the items collected. ``Response: Follows``
(Command before Asterisk 14) carries raw output lines up to ``--END COMMAND--``.

Anything else (stray lines, messages that are neither) is skipped and reported, never fatal.
"""

from __future__ import annotations

import enum
import itertools
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ivr_engine.ami.errors import AMIActionError, AMILocalError, AMIProtocolError

BANNER_PREFIX = "Asterisk Call Manager/"
END_COMMAND = "--END COMMAND--"
MAX_LINE_BYTES = 64 * 1024
MAX_MESSAGE_LINES = 10_000
MAX_LIST_ITEMS = 100_000

_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")  # keys we send
# Keys we receive: no whitespace; Asterisk writes e.g. "ChanVariable(Local/200@test-00000003;1)".
_RECEIVED_KEY = re.compile(r"[A-Za-z][^\s:]*")
_FORBIDDEN = re.compile(r"[\r\n\x00]")

FieldValue = str | int | bool | Sequence[str]


@dataclass(frozen=True, slots=True)
class Headers:
    """Ordered ``Key: Value`` pairs; lookups ignore case, repeated keys are kept."""

    pairs: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        wanted = key.lower()
        return next((v for k, v in self.pairs if k.lower() == wanted), default)

    def get_all(self, key: str) -> list[str]:
        wanted = key.lower()
        return [v for k, v in self.pairs if k.lower() == wanted]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def as_dict(self) -> dict[str, str]:
        """First value of each key, for logging and simple lookups."""
        result: dict[str, str] = {}
        for key, value in self.pairs:
            result.setdefault(key, value)
        return result


@dataclass(frozen=True, slots=True)
class AMIEvent:
    headers: Headers

    @property
    def name(self) -> str:
        return self.headers.get("Event") or ""

    @property
    def action_id(self) -> str | None:
        return self.headers.get("ActionID")

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.headers.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.headers[key]


@dataclass(frozen=True, slots=True)
class AMIResponse:
    """The answer to one action, with the events of a list action."""

    action: str
    headers: Headers
    events: tuple[AMIEvent, ...] = ()  # list items (QueueParams, QueueMember, QueueEntry...)
    completion: AMIEvent | None = None  # the "EventList: Complete" event (ListItems...)
    output: tuple[str, ...] = ()  # "Response: Follows" body lines

    @property
    def status(self) -> str:
        return self.headers.get("Response") or ""

    @property
    def ok(self) -> bool:
        return self.status.lower() in ("success", "follows", "goodbye")

    @property
    def message(self) -> str | None:
        return self.headers.get("Message")

    @property
    def action_id(self) -> str | None:
        return self.headers.get("ActionID")

    @property
    def output_lines(self) -> list[str]:
        """Command output in either form: Follows body or (Asterisk 14+) ``Output:`` headers."""
        return list(self.output) or self.headers.get_all("Output")

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.headers.get(key, default)

    def raise_for_error(self) -> AMIResponse:
        if not self.ok:
            raise AMIActionError(self.action, self.status, self.message)
        return self


@dataclass(frozen=True, slots=True)
class Banner:
    version: str  # the AMI version, e.g. "9.0.0"


@dataclass(frozen=True, slots=True)
class ActionCompleted:
    response: AMIResponse


@dataclass(frozen=True, slots=True)
class EventReceived:
    event: AMIEvent


@dataclass(frozen=True, slots=True)
class Skipped:
    """Input we could not use: lines without ``Key: Value`` form, stray or unknown messages."""

    reason: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    pending: tuple[str, ...]  # action ids that will never be answered


class NeedData(enum.Enum):
    NEED_DATA = "need data"


NEED_DATA = NeedData.NEED_DATA

Event = Banner | ActionCompleted | EventReceived | Skipped | ConnectionClosed


@dataclass(slots=True)
class _Pending:
    action: str
    listing: AMIResponse | None = None  # the "EventList: start" response while items arrive
    items: list[AMIEvent] = field(default_factory=list)


def _value_lines(key: str, value: FieldValue) -> list[str]:
    if isinstance(value, bool):
        values = ["true" if value else "false"]
    elif isinstance(value, (str, int)):
        values = [str(value)]
    else:
        values = [str(v) for v in value]
    for text in values:
        if _FORBIDDEN.search(text):
            raise AMILocalError(f"{key}: value {text!r} contains CR, LF or NUL")
    return [f"{key}: {text}" for text in values]


def encode_action(name: str, action_id: str, fields: Mapping[str, FieldValue]) -> bytes:
    """``Action: name``, ``ActionID``, then the fields; a sequence value repeats its key."""
    if not _KEY.fullmatch(name):
        raise AMILocalError(f"not an AMI action name: {name!r}")
    lines = [f"Action: {name}", f"ActionID: {action_id}"]
    for key, value in fields.items():
        if not _KEY.fullmatch(key) or key.lower() in ("action", "actionid"):
            raise AMILocalError(f"{name}: not a usable field name: {key!r}")
        lines += _value_lines(key, value)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class AMIConnection:
    """One manager session's framing and action bookkeeping (client side)."""

    def __init__(
        self,
        *,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_message_lines: int = MAX_MESSAGE_LINES,
        max_list_items: int = MAX_LIST_ITEMS,
        id_prefix: str | None = None,
    ) -> None:
        self._max_line_bytes = max_line_bytes
        self._max_message_lines = max_message_lines
        self._max_list_items = max_list_items
        self._prefix = id_prefix or secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._buffer = bytearray()
        self._eof = False
        self._lines: list[str] = []
        self._follows = False  # inside a "Response: Follows" body
        self._pending: dict[str, _Pending] = {}
        self._closed: ConnectionClosed | None = None
        self.version: str | None = None

    @property
    def pending(self) -> tuple[str, ...]:
        return tuple(self._pending)

    def send_action(
        self, name: str, fields: Mapping[str, FieldValue] | None = None
    ) -> tuple[str, bytes]:
        """Return a fresh ActionID and the bytes to write for the action."""
        if self._closed is not None:
            raise AMILocalError(f"cannot send {name}: the connection is closed")
        action_id = f"{self._prefix}-{next(self._ids)}"
        data = encode_action(name, action_id, fields or {})
        self._pending[action_id] = _Pending(name)
        return action_id, data

    def forget(self, action_id: str) -> None:
        """Stop waiting for an action (it timed out); a late answer becomes a Skipped event."""
        self._pending.pop(action_id, None)

    def receive_data(self, data: bytes) -> None:
        if self._eof:
            raise AMILocalError("data received after end of file")
        if data:
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> Event | NeedData:
        if self._closed is not None:
            return self._closed
        while (line := self._next_line()) is not None:
            if (event := self._handle_line(line)) is not None:
                return event
        if self._eof:
            self._closed = ConnectionClosed(tuple(self._pending))
            self._pending.clear()
            return self._closed
        return NEED_DATA

    def _next_line(self) -> str | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > self._max_line_bytes:
                raise AMIProtocolError(f"AMI line longer than {self._max_line_bytes} bytes")
            return None
        raw = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return raw.removesuffix(b"\r").decode("utf-8", errors="replace")

    def _handle_line(self, line: str) -> Event | None:
        if self.version is None:
            if not line.startswith(BANNER_PREFIX):
                raise AMIProtocolError(f"not an Asterisk manager, it greeted: {line[:120]!r}")
            self.version = line[len(BANNER_PREFIX) :].strip()
            return Banner(self.version)
        if self._follows:
            return self._follows_line(line)
        if line == "":
            return self._message_end()
        if len(self._lines) >= self._max_message_lines:
            raise AMIProtocolError(f"AMI message longer than {self._max_message_lines} lines")
        self._lines.append(line)
        if line.lower().replace(" ", "") == "response:follows" and len(self._lines) == 1:
            self._follows = True
        return None

    def _follows_line(self, line: str) -> Event | None:
        # Header lines first, then raw output; a blank line is output until --END COMMAND--.
        if len(self._lines) >= self._max_message_lines:
            raise AMIProtocolError(f"AMI message longer than {self._max_message_lines} lines")
        if line.endswith(END_COMMAND):
            self._follows = False
            if line != END_COMMAND:
                self._lines.append(line[: -len(END_COMMAND)])
            self._lines.append(END_COMMAND)
            return None
        self._lines.append(line)
        return None

    def _message_end(self) -> Event | None:
        lines, self._lines = self._lines, []
        if not lines:
            return None
        pairs: list[tuple[str, str]] = []
        output: list[str] = []
        for line in lines:
            key, colon, value = line.partition(":")
            if colon and not output and _RECEIVED_KEY.fullmatch(key):
                pairs.append((key, value[1:] if value.startswith(" ") else value))
            elif self._is_follows(pairs) and line != END_COMMAND:
                output.append(line)
            # other lines without "Key: Value" form are dropped: AMI clients must tolerate them
        headers = Headers(tuple(pairs))
        if "Event" in headers:
            return self._event(AMIEvent(headers))
        if "Response" in headers:
            return self._response(headers, tuple(output), lines)
        return Skipped("message is neither an event nor a response", tuple(lines))

    @staticmethod
    def _is_follows(pairs: list[tuple[str, str]]) -> bool:
        return bool(pairs) and pairs[0][1].strip().lower() == "follows"

    def _event(self, event: AMIEvent) -> Event | None:
        pending = self._pending.get(event.action_id or "")
        if pending is None or pending.listing is None:
            return EventReceived(event)
        if (event.get("EventList") or "").lower() in ("complete", "cancelled"):
            del self._pending[event.action_id or ""]
            response = AMIResponse(
                pending.action,
                pending.listing.headers,
                events=tuple(pending.items),
                completion=event,
            )
            return ActionCompleted(response)
        if len(pending.items) >= self._max_list_items:
            raise AMIProtocolError(f"{pending.action}: more than {self._max_list_items} list items")
        pending.items.append(event)
        return None

    def _response(
        self, headers: Headers, output: tuple[str, ...], lines: list[str]
    ) -> Event | None:
        action_id = headers.get("ActionID") or ""
        pending = self._pending.get(action_id)
        if pending is None:
            return Skipped("response to no pending action", tuple(lines))
        response = AMIResponse(pending.action, headers, output=output)
        if response.ok and (headers.get("EventList") or "").lower() == "start":
            pending.listing = response
            return None
        del self._pending[action_id]
        return ActionCompleted(response)
