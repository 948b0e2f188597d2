"""What the call runtime needs from a phone line.

Two implementations exist: the AGI channel (a real call through Asterisk) and the console channel
(the simulator). The runtime only speaks to this protocol, so simulation and phones cannot drift.
Keys are single DTMF characters "0"-"9", "*", "#".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ivr_engine.prompts.clip import Clip

ALL_KEYS = "0123456789*#"


class CallerHangup(Exception):
    """The caller hung up; raised by any channel operation once the line is gone."""


class LineLost(CallerHangup):
    """Our link to the call failed (the FastAGI connection broke) without the caller hanging up:
    the call goes on without us, the PBX's fallback takes a caller still on the line."""


@dataclass(frozen=True, slots=True)
class CallInfo:
    call_id: str  # Asterisk's uniqueid, or a generated id in the simulator
    caller: str | None  # the caller's number (ANI); None when withheld or unknown
    caller_name: str | None = None
    dialed: str | None = None  # DNID
    language: str | None = None  # language Asterisk set on the channel, if any
    variables: dict[str, str] = field(default_factory=dict)  # e.g. agi_arg_* handed by the dialplan


@dataclass(frozen=True, slots=True)
class QueueRequest:
    queue: str
    priority: int = 0
    timeout: float | None = None
    skills: tuple[str, ...] = ()
    announce_position: bool = True


@dataclass(frozen=True, slots=True)
class Recording:
    path: str
    seconds: float
    ended_by: str  # "dtmf", "timeout", "hangup"


class Channel(Protocol):
    info: CallInfo

    def now(self) -> float:
        """Seconds on this call's clock (monotonic; virtual in the simulator)."""
        ...

    async def play(self, clips: Sequence[Clip], escape_digits: str, wait: float = 0.0) -> str | None:
        """Play clips in order, then wait up to `wait` seconds for a key; return the key that
        interrupted them or came in the wait, or None. One operation, so that a channel can
        listen without a break from the first clip to the end of the wait."""
        ...

    async def wait_digit(self, timeout: float) -> str | None:
        """Wait up to `timeout` seconds for one key; None on timeout."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def set_language(self, language: str) -> None: ...

    async def queue(self, request: QueueRequest) -> str:
        """Hand the caller to the ACD; returns Asterisk's QUEUESTATUS when the caller comes back."""
        ...

    async def dial(self, destination: str, timeout: float) -> str:
        """Returns Asterisk's DIALSTATUS (ANSWER, BUSY, NOANSWER, ...)."""
        ...

    async def record(self, path: str, max_seconds: int, beep: bool = True) -> Recording: ...

    async def hangup(self) -> None: ...
