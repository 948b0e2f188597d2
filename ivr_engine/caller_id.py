"""Whether a caller id names a caller, and one caller's number written alike however it arrives.

A channel reports, as the number of a caller who withheld it, SIP's `anonymous` (RFC 3323's
sip:anonymous@anonymous.invalid reaches AGI as "anonymous", seen on a real call) or the words
carriers and PBXs put there instead. Keyed like a number, such a word would make every withheld
caller one caller, sharing one history and one set of bookmarks and hearing each other's
personal menus.

One caller's number reaches Asterisk in several forms: a carrier presents `+8613800000000`, another
`008613800000000`, a national trunk `13800000000` or `075588886666`. Keyed as written, each form
would be another caller. A site that sets its `NumberPlan` (settings `stats.caller_country_code`
and the prefixes) has every number keyed in its E.164 form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

WITHHELD = frozenset({"anonymous", "restricted", "private", "unavailable", "unknown", "withheld"})


def identifies(number: str | None) -> TypeGuard[str]:
    """Whether `number` tells one caller from another: not empty, not a withheld number's word."""
    word = number.strip().lower() if number is not None else ""
    return word != "" and word not in WITHHELD


# Written for people: spaces, dashes, dots, slashes and brackets are not part of the number.
_SEPARATORS = re.compile(r"[\s\-./()]")
# Shorter digit strings are extensions or service codes, not subscriber numbers: left as they are.
MIN_SUBSCRIBER_DIGITS = 7


@dataclass(frozen=True, slots=True)
class NumberPlan:
    """The site's numbering: its country code and the prefixes a national and an international
    number are dialled with (China: 86, 0, 00; North America: 1, 1, 011)."""

    country_code: str
    national_prefix: str = "0"
    international_prefix: str = "00"

    def __post_init__(self) -> None:
        for name in ("country_code", "national_prefix", "international_prefix"):
            value = getattr(self, name)
            if not (value.isdigit() or (value == "" and name != "country_code")):
                raise ValueError(f"caller number plan: {name} must be digits, not {value!r}")

    def normalise(self, number: str) -> str:
        """The number in E.164 (`+8613800000000`); what is not a subscriber's number in any form
        the plan knows (a SIP user's name, an extension, `*` or `#`) comes back as written."""
        written = number.strip()
        compact = _SEPARATORS.sub("", written)
        if compact.startswith("+"):
            return compact if compact[1:].isdigit() else written
        if not compact.isdigit() or len(compact) < MIN_SUBSCRIBER_DIGITS:
            return written
        international, national = self.international_prefix, self.national_prefix
        # the longer prefix first: China's international 00 begins with its national 0
        if international and compact.startswith(international):
            return "+" + compact[len(international) :]
        if national and compact.startswith(national):
            return "+" + self.country_code + compact[len(national) :]
        return "+" + self.country_code + compact
