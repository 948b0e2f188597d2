"""Whether a caller id names a caller.

A channel reports, as the number of a caller who withheld it, SIP's `anonymous` (RFC 3323's
sip:anonymous@anonymous.invalid reaches AGI as "anonymous", seen on a real call) or the words
carriers and PBXs put there instead. Keyed like a number, such a word would make every withheld
caller one caller, sharing one history and one set of bookmarks and hearing each other's
personal menus.
"""

from __future__ import annotations

from typing import TypeGuard

WITHHELD = frozenset({"anonymous", "restricted", "private", "unavailable", "unknown", "withheld"})


def identifies(number: str | None) -> TypeGuard[str]:
    """Whether `number` tells one caller from another: not empty, not a withheld number's word."""
    word = number.strip().lower() if number is not None else ""
    return word != "" and word not in WITHHELD
