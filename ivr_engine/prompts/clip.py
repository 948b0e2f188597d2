"""A prompt resolved for one language: the unit a channel plays and the cost model measures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Clip:
    prompt_id: str
    language: str
    text: str
    # Asterisk sound name, no extension, relative to the sounds directory: "ivr/en/menu.root".
    sound: str
    # Seconds: measured from the built audio when it exists, else estimated from the text.
    duration: float
    measured: bool = False
