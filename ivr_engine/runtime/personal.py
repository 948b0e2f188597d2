"""The hook for personal menus: a repeat caller's shortcuts in front of the canonical root menu.

The runtime only asks two questions, so the store behind them (node-hit statistics, bookmarks) can
change without touching the call path. Both methods may be plain or `async`; the runtime awaits
whatever is awaitable, bounds the wait, and carries on with the canonical flow if either fails.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from ivr_engine.flow.model import Flow


@dataclass(frozen=True, slots=True)
class Shortcut:
    """ "For your vaccination appointment, press 7": `key` jumps straight to node `target`."""

    key: str
    target: str
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class PersonalRoot:
    """What a known caller hears before the canonical root menu, which follows unchanged.

    `before` is the id of that canonical menu; None means the first menu the call enters. A flow
    that asks for the language first names its main menu here, so shortcuts are offered in the
    caller's language and after the language choice.
    """

    greeting: str | None = None
    shortcuts: tuple[Shortcut, ...] = ()
    before: str | None = None


class NotBookmarkable(LookupError):
    """There is nothing to bookmark here for this caller (a node no menu option leads to, a withheld
    number, a flow version without personal menus): the caller hears no confirmation, and it is no
    fault to log as one."""


class Personalizer(Protocol):
    def root_for(self, caller: str | None, flow: Flow) -> PersonalRoot | None | Awaitable[PersonalRoot | None]: ...

    def bookmark(self, caller: str, flow: Flow, leaf_id: str) -> None | Awaitable[None]:
        """Toggle the caller's bookmark of the service at `leaf_id`; NotBookmarkable when there is none."""
        ...
