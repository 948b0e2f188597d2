"""What the runtime tells the outside world about a call: the raw material of node-hit statistics.

Observers are called synchronously on the call path, so they must only buffer (never block on I/O).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Protocol


class Outcome(str, Enum):
    SERVED = "served"  # reached a leaf and was served there (announcement, lookup, voicemail, survey)
    TRANSFERRED = "transferred"  # dialled out to an extension or number
    ABANDONED = "abandoned"  # hung up in the IVR before reaching a leaf
    ZEROED_OUT = "zeroed_out"  # pressed the operator key (or exhausted retries) and went to an agent
    QUEUED = "queued"  # reached a queue leaf and was handed to an agent
    QUEUE_HANGUP = "queue_hangup"  # hung up while waiting in a queue
    ERROR = "error"  # our side failed; the dialplan's fallback takes the caller


@dataclass(frozen=True, slots=True)
class CallStarted:
    call_id: str
    caller: str | None  # raw number: the statistics store keys it with an HMAC, never stores it
    flow_id: str
    flow_version: str
    started_at: dt.datetime  # timezone-aware UTC
    channel: str  # "agi" or "console"
    personalized: bool = False


@dataclass(frozen=True, slots=True)
class NodeEntered:
    """A call has just entered a node; its NodeVisit follows when it leaves (live views use this)."""

    call_id: str
    seq: int
    node_id: str
    node_kind: str
    entered_at: dt.datetime


@dataclass(frozen=True, slots=True)
class NodeVisit:
    call_id: str
    seq: int  # 0, 1, 2 ... in the order the call entered nodes; (call_id, seq) is unique
    node_id: str
    node_kind: str
    entered_at: dt.datetime
    left_at: dt.datetime
    key: str | None = None  # the key that took the call out of this node (menus), if any
    timeouts: int = 0
    invalid_keys: int = 0
    via_shortcut: bool = False  # reached from a personal-menu shortcut rather than its parent menu


@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: str
    ended_at: dt.datetime
    outcome: Outcome
    final_node: str | None
    leaf: str | None  # the service node that served the caller, if one was reached
    seconds_to_leaf: float | None  # on the call's clock, from answer to entering the leaf


class CallObserver(Protocol):
    def call_started(self, event: CallStarted) -> None: ...

    def node_entered(self, event: NodeEntered) -> None: ...

    def node_visited(self, event: NodeVisit) -> None: ...

    def call_ended(self, event: CallEnded) -> None: ...
