"""Which services to offer a caller in front of the canonical root menu, and in what order.

Shortcuts are played before the root menu, so each one costs every caller who does not take it
the seconds of its clip, and the greeting costs everyone once. A caller who takes shortcut j pays
one menu level: the fixed part `a`, the greeting, and the shortcut clips up to j. Everyone else
pays the greeting and all shortcut clips on top of the canonical time. With q the probability that
this caller's next call is for the service, one shortcut pays off exactly when

    q > (greeting + clip + gap) / (T_canonical - a)

(the break-even of docs/menus.md and shared/menu-cost-model.md). For several shortcuts the same
expected time is computed for the whole list. Bookmarks are the caller's own choice and are always
offered; of the predictions, the set that lowers the expected time most is added (every set is
tried: a caller has a handful of candidates and at most three slots).

Order: what a list changes in the expected time is greeting + all clips + sum_j q_j (a - T_j)
minus, for every pair, q of the earlier shortcut times the clip c of the later one. So the list is
quickest with the highest q per second of clip first (Smith's rule: moving j ahead of its
neighbour i gains q_j c_i - q_i c_j, positive exactly when q_j / c_j > q_i / c_i). With clips of
one length that is the most likely first.
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


# Sets are drawn from the caller's eight most likely predictions, which bounds a lookup's work (93
# sets with three slots); a ninth is less likely than each of them.
POOL = 8


def _best_first(shortcuts: Sequence[Candidate]) -> list[Candidate]:
    return sorted(shortcuts, key=lambda c: (-c.q / c.clip if c.clip > 0 else -math.inf, -c.q, c.service))


def choose(candidates: Sequence[Candidate], timing: Timing, limit: int) -> list[Candidate]:
    """The shortcuts to offer, best first: bookmarks, and the predictions that lower the expected
    time most with them (none if no set does)."""
    if limit <= 0:
        return []
    marks = sorted((c for c in candidates if c.bookmarked), key=lambda c: (-c.q, c.service))[:limit]
    pool = sorted((c for c in candidates if not c.bookmarked), key=lambda c: (-c.q, c.service))[:POOL]
    # Every set taken in best-first order is a subsequence of this line, so each set is costed once,
    # with the change of the module docstring added one shortcut at a time. A plain stack, not a
    # nested recursive function: that would be a reference cycle per lookup, left to the collector,
    # whose extra passes doubled the lookup's p99 (bench/menu.py).
    line = _best_first([*marks, *pool])
    best: tuple[Candidate, ...] = ()
    best_cost = 0.0 if not marks else math.inf
    stack: list[tuple[int, tuple[Candidate, ...], float, float, int]] = [(0, (), 0.0, 0.0, limit - len(marks))]
    while stack:
        i, chosen, taken, cost, slots = stack.pop()
        if i == len(line):
            if chosen and timing.greeting + cost < best_cost - 1e-12:
                best, best_cost = chosen, timing.greeting + cost
            continue
        c = line[i]
        if c.bookmarked or slots > 0:
            added = cost + c.clip * (1.0 - taken) + c.q * (timing.level - c.canonical)
            stack.append((i + 1, (*chosen, c), taken + c.q, added, slots - (not c.bookmarked)))
        if not c.bookmarked:
            stack.append((i + 1, chosen, taken, cost, slots))
    return list(best)
