"""What personal menus need from the statistics store: who used which service, and bookmarks.

Callers are known only by the store's caller key (an HMAC of the number under the service's
secret), so neither the store nor the personal menus ever hold a caller's number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from ivr_engine.personal.peer_events import PeerCall


@dataclass(frozen=True, slots=True)
class ServiceUse:
    caller_key: str
    leaf: str  # node id the calls were served at
    calls: int
    last_seen: dt.datetime  # timezone-aware UTC


@dataclass(frozen=True, slots=True)
class FlowHistory:
    """A flow's history as of one moment."""

    uses: Iterable[ServiceUse]  # per caller and leaf: calls served there and the last one
    bookmarks: Iterable[tuple[str, str]]  # (caller key, service node id)
    counted: Iterable[str] = ()  # ids of the calls `uses` counts that `calls_since(the time asked for)` reads


class BookmarkWriter(Protocol):
    def set_bookmark(self, caller_key: str, flow_id: str, service: str, *, on: bool) -> None:
        """Keep the caller's bookmark of `service` on or off; raises if it cannot be kept."""
        ...


class PersonalHistory(BookmarkWriter, Protocol):
    def caller_key(self, number: str) -> str:
        """The key the store files this caller under."""
        ...

    def bookmarks(self, flow_id: str) -> Iterable[tuple[str, str]]:
        """(caller key, service node id) of every bookmark in the flow."""
        ...

    def bookmarks_of(self, caller_key: str, flow_id: str) -> set[str]:
        """The services this caller has bookmarked in the flow."""
        ...

    def history(self, flow_id: str, counted_since: dt.datetime | None = None) -> AbstractContextManager[FlowHistory]:
        """Uses and bookmarks read at one moment (valid inside the block), with the ids of the
        calls they include that `calls_since(counted_since)` reads: a node that catches up later
        skips those."""
        ...

    def calls_since(self, flow_ids: Sequence[str], since: dt.datetime) -> list[PeerCall]:
        """Calls at a leaf of these flows, from known callers, that ended at or after `since` or
        were written late at or after it (`stats.models.LateCall`)."""
        ...
