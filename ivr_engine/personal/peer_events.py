"""What the statistics store announces to the personal menus of every engine node: the wire format.

With several engine nodes on one PostgreSQL store, a caller's next call may reach another node than
the last one, and that node's personal menus live in its own memory. So the store announces, over
PostgreSQL's NOTIFY and in the same transaction as the rows, each call it records at a leaf and each
bookmark set or removed; every node's `PeerListener` hands them to its `PersonalMenus.apply`.

A payload is JSON, `{"v": 1, "e": [...]}`, each event a list: `["c", call id, caller key, flow id,
leaf, unix time the call ended]` or `["b", caller key, flow id, service, 1 (set) or 0 (removed)]`.
Caller keys are the store's HMACs, never numbers. PostgreSQL refuses payloads of 8000 bytes or
more, so `encode` splits events over as many payloads as they need.

PostgreSQL keeps no announcements for a node that is not listening (starting up, or disconnected),
so such a node reads back, once it listens, the calls that ended since it last heard and the
bookmarks as they are (`PersonalMenus.missed_since`), from CATCH_UP_MARGIN before that moment:
a call is announced when its batch commits, which is after it ended, and the nodes' clocks differ.
A call committed later than that after it ended (a spool replayed) is also noted by the time it
was written (`stats.models.LateCall`), and read back by that time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CHANNEL = "ivr_personal"
MAX_PAYLOAD = 7900  # bytes; PostgreSQL's limit is 8000
VERSION = 1
# seconds: more than a recorder takes to commit a call that ended, plus the nodes' clock skew
CATCH_UP_MARGIN = 300.0


@dataclass(frozen=True, slots=True)
class PeerCall:
    call_id: str
    caller_key: str
    flow_id: str
    leaf: str
    ended_at: float  # unix time


@dataclass(frozen=True, slots=True)
class PeerBookmark:
    caller_key: str
    flow_id: str
    service: str
    on: bool  # set (True) or removed


PeerEvent = PeerCall | PeerBookmark


class PeerPayloadError(ValueError):
    """A payload that is not an announcement of this version."""


def encode(events: Sequence[PeerEvent]) -> list[str]:
    """Payloads of at most MAX_PAYLOAD bytes holding `events` in order; none for no events."""
    payloads: list[str] = []
    items: list[str] = []
    empty = size = len(_payload([]))
    for event in events:
        item = json.dumps(_fields(event), separators=(",", ":"))  # ASCII: characters are bytes
        if empty + len(item) > MAX_PAYLOAD:
            raise PeerPayloadError(f"one event is longer than a payload may be: {event}")
        if items and size + 1 + len(item) > MAX_PAYLOAD:
            payloads.append(_payload(items))
            items, size = [], empty
        size += len(item) + (1 if items else 0)
        items.append(item)
    if items:
        payloads.append(_payload(items))
    return payloads


def _payload(items: list[str]) -> str:
    return f'{{"v":{VERSION},"e":[{",".join(items)}]}}'


def _fields(event: PeerEvent) -> list[Any]:
    if isinstance(event, PeerCall):
        return ["c", event.call_id, event.caller_key, event.flow_id, event.leaf, event.ended_at]
    return ["b", event.caller_key, event.flow_id, event.service, int(event.on)]


def decode(payload: str) -> list[PeerEvent]:
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise PeerPayloadError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != VERSION or not isinstance(data.get("e"), list):
        raise PeerPayloadError(f"not a version {VERSION} announcement: {payload[:80]!r}")
    return [_event(item) for item in data["e"]]


def _event(item: Any) -> PeerEvent:
    if isinstance(item, list) and len(item) == 6 and item[0] == "c":
        *ids, ended_at = item[1:]
        # JSON as Python reads it takes NaN and Infinity, which no call ended at and which would
        # fail the step that applies the batch
        time_ok = isinstance(ended_at, int | float) and not isinstance(ended_at, bool) and math.isfinite(ended_at)
        if all(isinstance(i, str) for i in ids) and time_ok:
            return PeerCall(*ids, float(ended_at))
    if isinstance(item, list) and len(item) == 5 and item[0] == "b":
        *ids, on = item[1:]
        if all(isinstance(i, str) for i in ids) and isinstance(on, int) and on in (0, 1):
            return PeerBookmark(*ids, bool(on))
    raise PeerPayloadError(f"not a call or bookmark event: {item!r}")
