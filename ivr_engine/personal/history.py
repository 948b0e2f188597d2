"""What personal menus need from the statistics store: who used which service, and bookmarks.

Callers are known only by the store's caller key (an HMAC of the number under the service's
secret), so neither the store nor the personal menus ever hold a caller's number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ServiceUse:
    caller_key: str
    leaf: str  # node id the calls were served at
    calls: int
    last_seen: dt.datetime  # timezone-aware UTC


class PersonalHistory(Protocol):
    def caller_key(self, number: str) -> str:
        """The key the store files this caller under."""
        ...

    def service_uses(self, flow_id: str) -> Iterable[ServiceUse]:
        """Per caller and leaf of the flow: calls served there and the last one."""
        ...

    def bookmarks(self, flow_id: str) -> Iterable[tuple[str, str]]:
        """(caller key, service node id) of every bookmark in the flow."""
        ...

    def add_bookmark(self, caller_key: str, flow_id: str, service: str) -> None: ...

    def remove_bookmark(self, caller_key: str, flow_id: str, service: str) -> None: ...
