"""Which services to offer a caller in front of the canonical root menu, and in what order.

Shortcuts are played before the root menu, so each one costs every caller who does not take it
the seconds of its clip, and the greeting costs everyone once. A caller who takes shortcut j pays
one menu level: the fixed part `a`, the greeting, and the shortcut clips up to j. Everyone else
pays the greeting and all shortcut clips on top of the canonical time. With q the probability that
this caller's next call is for the service, one shortcut pays off exactly when

    q > (greeting + clip + gap) / (T_canonical - a)

(the break-even of docs/menus.md and shared/menu-cost-model.md). For several shortcuts the same
expected time is computed for the whole list. Bookmarks are the caller's own choice and are always
offered; predictions are added, most likely first, only while they lower the expected time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    service: str  # node id the shortcut jumps to
    q: float  # probability that the caller's next call is for this service
    canonical: float  # seconds from entering the canonical root menu to the service, barging in
    clip: float  # seconds of the shortcut's own prompt, gap included
    bookmarked: bool = False


@dataclass(frozen=True, slots=True)
class Timing:
    level: float  # `a`: reaction + keypress + system delay of one menu level
    greeting: float  # seconds of the greeting clip (0 without a greeting)


def hit_seconds(shortcuts: Sequence[Candidate], position: int, timing: Timing) -> float:
    """Seconds to the service of `shortcuts[position]` for a caller who takes it."""
    return timing.level + timing.greeting + math.fsum(c.clip for c in shortcuts[: position + 1])


def overhead(shortcuts: Sequence[Candidate], timing: Timing) -> float:
    """Seconds the personal part adds for a caller who goes on into the canonical menu."""
    return timing.greeting + math.fsum(c.clip for c in shortcuts) if shortcuts else 0.0


def expected_change(shortcuts: Sequence[Candidate], timing: Timing) -> float:
    """E[T with these shortcuts] - E[T canonical] under the caller's q; negative means a saving."""
    taken = math.fsum(c.q for c in shortcuts)
    gain = math.fsum(c.q * (hit_seconds(shortcuts, j, timing) - c.canonical) for j, c in enumerate(shortcuts))
    return gain + (1.0 - taken) * overhead(shortcuts, timing)


def break_even(candidate: Candidate, timing: Timing) -> float:
    """The smallest q at which this service alone is worth a shortcut (inf if it never is)."""
    saved = candidate.canonical - timing.level
    return (timing.greeting + candidate.clip) / saved if saved > 0 else math.inf


def _best_first(shortcuts: list[Candidate]) -> list[Candidate]:
    return sorted(shortcuts, key=lambda c: (-c.q, c.service))


def choose(candidates: Sequence[Candidate], timing: Timing, limit: int) -> list[Candidate]:
    """The shortcuts to offer, best first: bookmarks, then predictions while they pay off."""
    if limit <= 0:
        return []
    chosen = _best_first([c for c in candidates if c.bookmarked])[:limit]
    cost = expected_change(chosen, timing)
    for candidate in _best_first([c for c in candidates if not c.bookmarked]):
        if len(chosen) >= limit:
            break
        trial = _best_first([*chosen, candidate])
        trial_cost = expected_change(trial, timing)
        if trial_cost < cost:
            chosen, cost = trial, trial_cost
    return chosen
