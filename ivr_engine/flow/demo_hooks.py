"""Lookup hooks of the demo hotline (flows/hotline-12320.yaml), over an in-memory DEMO record set.

This is a stand-in data source so the demo flow runs end to end; a real deployment points the
lookup node at its immunization information system (`hook: its.module:function` or `url:`).
The ID numbers below use the region code 999999, which no real resident ID has.

A hook is called with one mapping, the lookup's `params` (parameter name -> the call variable's
text; see ivr_engine.runtime.lookup), and returns the result text that selects the lookup's branch.
"""

from __future__ import annotations

from collections.abc import Mapping

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"


def id_check_character(first17: str) -> str:
    """The 18th character of a resident ID number (GB 11643, ISO 7064 MOD 11-2)."""
    return _CHECK_CHARACTERS[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _demo_id(first17: str) -> str:
    return first17 + id_check_character(first17)


# DEMO DATA: id number -> appointment status ("booked", "due", "complete").
DEMO_APPOINTMENTS: dict[str, str] = {
    _demo_id("99999920240315001"): "booked",  # a toddler with the next dose booked
    _demo_id("99999920230901002"): "due",  # a dose due, not booked
    _demo_id("99999919880612003"): "complete",  # an adult with nothing due
    _demo_id("99999919950228004"): "booked",
}


def normalize_id_number(keys: str) -> str | None:
    """The ID number a caller keyed in (`*` stands for the final X), or None if it is not valid."""
    number = keys.strip().replace("*", "X").upper()
    if len(number) != 18 or not number[:17].isdigit():
        return None
    return number if id_check_character(number[:17]) == number[17] else None


def vaccination_appointment(params: Mapping[str, str]) -> str:
    """`booked`, `due` or `complete` for a known `id_number`; `not_found` for an unknown or invalid one."""
    number = normalize_id_number(params.get("id_number", ""))
    if number is None:
        return "not_found"
    return DEMO_APPOINTMENTS.get(number, "not_found")
