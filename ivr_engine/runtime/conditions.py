"""Evaluating a condition node's `when` at a moment of the call, in the flow's timezone."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ivr_engine.flow.model import Flow, When


@dataclass(frozen=True, slots=True)
class Facts:
    """What a condition may look at: the local time, the caller's tier and language, variables."""

    local: dt.datetime
    tier: str | None
    language: str
    variables: Mapping[str, str]


def local_time(flow: Flow, moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(ZoneInfo(flow.timezone))


def holds(when: When, facts: Facts, holidays: Mapping[str, frozenset[dt.date]]) -> bool:
    """Every field of `when` that is set holds (an empty `when` always holds)."""
    today = facts.local.date()
    checks = (
        not when.time or any(r.contains(facts.local.time()) for r in when.time),
        not when.weekdays or facts.local.weekday() in when.weekdays,
        when.holiday is None or today in holidays.get(when.holiday, frozenset()),
        when.not_holiday is None or today not in holidays.get(when.not_holiday, frozenset()),
        not when.tier or (facts.tier or "").casefold() in {t.casefold() for t in when.tier},
        not when.language or facts.language in when.language,
        all(re.fullmatch(pattern, facts.variables.get(name, "")) for name, pattern in when.variables),
    )
    return all(checks)
