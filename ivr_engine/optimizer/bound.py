"""The limit no menu tree can beat: E[T] >= H(p) / lambda.

With per-position option costs c_1 <= ... <= c_k, lambda > 0 solves sum_i exp(-lambda c_i) = 1.
Any tree satisfies the Kraft-type inequality sum_leaves exp(-lambda T'(leaf)) <= 1 for
T'(leaf) = sum of c_position along its path, so Gibbs' inequality gives E[T'] >= H(p) / lambda
(H in nats). The bound holds for the real cost T as long as T(leaf) >= T'(leaf) for every tree,
which is what `position_costs` guarantees.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ivr_engine.optimizer.tree import TreeError


class BoundError(ValueError):
    """The bound is undefined for these option costs."""


def entropy(probabilities: Iterable[float]) -> float:
    """Shannon entropy in nats of weights (normalised here)."""
    weights = [w for w in probabilities if w > 0.0]
    total = math.fsum(weights)
    if total <= 0.0:
        raise TreeError("entropy of an all-zero distribution")
    return -math.fsum(w / total * math.log(w / total) for w in weights)


def conditional_entropy(joint: Mapping[str, Mapping[str, float]]) -> float:
    """H(leaf | caller) in nats from caller -> leaf -> weight (counts or probabilities)."""
    totals = {caller: math.fsum(row.values()) for caller, row in joint.items()}
    grand = math.fsum(totals.values())
    if grand <= 0.0:
        raise TreeError("conditional entropy of an all-zero distribution")
    return math.fsum(
        totals[caller] / grand * entropy(row.values())
        for caller, row in joint.items()
        if totals[caller] > 0.0
    )


def _log_kraft_sum(costs: Sequence[float], lam: float) -> float:
    # log-sum-exp around the cheapest cost so large lambda*c never underflows to log(0)
    c0 = costs[0]
    return -lam * c0 + math.log(math.fsum(math.exp(-lam * (c - c0)) for c in costs))


def solve_lambda(costs: Sequence[float]) -> float:
    """The root lambda > 0 of sum_i exp(-lambda c_i) = 1, for sorted or unsorted costs."""
    ordered = sorted(costs)
    if len(ordered) < 2:
        # exp(-lambda c) = 1 forces lambda = 0: a one-option menu never separates two leaves,
        # so no finite tree (and no finite bound) exists.
        raise BoundError(
            f"a menu with {len(ordered)} option(s) cannot distinguish leaves; need at least 2"
        )
    if not all(math.isfinite(c) and c > 0.0 for c in ordered):
        raise BoundError(
            f"option costs must be finite and > 0 seconds, got {list(costs)}"
        )
    k = len(ordered)
    # sum <= k exp(-lambda c_min) and >= k exp(-lambda c_max) bracket the root exactly
    lo, hi = math.log(k) / ordered[-1], math.log(k) / ordered[0]
    # g is convex and decreasing in lambda: bisection never leaves the bracket
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _log_kraft_sum(ordered, mid) > 0.0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * hi:
            break
    return 0.5 * (lo + hi)


def position_costs(
    level_cost: float,
    prompts: Iterable[float],
    repeatable_prompt: float,
    option_gap: float,
    k: int,
) -> list[float]:
    """Cheapest possible cost c_i of choosing the option at position i, for i = 1..k.

    `level_cost` must be the smallest fixed cost any menu level can have. The i options heard
    before acting are i distinct children, so their clips are i distinct members of the multiset
    {each service's clip once} + {`repeatable_prompt` as often as needed} (the smallest clip any
    generated or kept menu can have). The sum of the i smallest members is therefore <= what any
    real menu charges at position i, whatever order its options are in, which keeps
    T(leaf) >= sum of c_position and the bound valid.
    """
    smallest = heapq.nsmallest(k, list(prompts) + [repeatable_prompt] * k)
    costs: list[float] = []
    heard = 0.0
    for clip in smallest:
        heard += clip + option_gap
        costs.append(level_cost + heard)
    return costs


def services_bound(
    probabilities: Mapping[str, float],
    service_prompts: Mapping[str, float],
    level_cost: float,
    repeatable_prompt: float,
    option_gap: float,
    k: int,
) -> float:
    """Lower bound on E[T] over every tree of these services, aware of each service's own clip.

    Two valid bounds, the larger returned. (1) H / lambda with `position_costs`. (2) At the last
    level a caller hears their own service's clip d plus i-1 other distinct clips; charging the
    chosen option the smallest clip x at every level (c'_i = a + x + gap + (i-1) smallest clips)
    and adding d - x back at the last level gives E[T] >= H / lambda' + E[d] - x. (2) wins when
    popular services have long clips. (3) is the one-level floor a + E[d] + gap.
    """
    p = {leaf: w for leaf, w in probabilities.items() if w > 0.0}
    total = math.fsum(p.values())
    h = entropy(p.values())
    clips = list(service_prompts.values())
    plain = entropy_bound(
        h, position_costs(level_cost, clips, repeatable_prompt, option_gap, k)
    )
    smallest = min([repeatable_prompt, *clips])
    others = position_costs(
        level_cost + smallest + option_gap, clips, repeatable_prompt, option_gap, k - 1
    )
    own = math.fsum(w / total * service_prompts[leaf] for leaf, w in p.items())
    # (3) every service is at least one level deep and its own clip is heard there
    floor = level_cost + own + option_gap
    if h <= 0.0:
        return max(plain, floor)
    return max(
        plain,
        floor,
        entropy_bound(h, [level_cost + smallest + option_gap, *others])
        + own
        - smallest,
    )


def entropy_bound(entropy_nats: float, option_costs: Sequence[float]) -> float:
    if entropy_nats <= 0.0:
        return 0.0  # one certain leaf: nothing to distinguish, any lambda works
    return entropy_nats / solve_lambda(option_costs)


def lower_bound(
    probabilities: Mapping[str, float], option_costs: Sequence[float]
) -> float:
    """H(p) / lambda in seconds: no tree over these leaves has a smaller E[T]."""
    return entropy_bound(entropy(probabilities.values()), option_costs)


def conditional_lower_bound(
    joint: Mapping[str, Mapping[str, float]], option_costs: Sequence[float]
) -> float:
    """H(leaf | caller) / lambda: the limit even with a perfect per-caller menu."""
    return entropy_bound(conditional_entropy(joint), option_costs)


# --- the menus the constraints keep --------------------------------------------------------------


@dataclass(frozen=True)
class KeptSlot:
    """A child the constraints keep at its key: a kept submenu, or a fixed service or menu."""

    key: str
    seconds: float  # its option clip plus the pause, at least
    menu: KeptLevel | None = None  # a kept submenu, which free options may still join
    inside: tuple[float, ...] = ()  # else: seconds from choosing it to each called service below


@dataclass(frozen=True)
class KeptLevel:
    """A menu whose key path the constraints keep (the root, an ancestor of a fixed node)."""

    level_cost: float  # reaction, keypress, delay and its header, at least
    slots: tuple[KeptSlot, ...]
    free_keys: str  # digits free options may take here
    room: int  # how many free options it may take


def kept_bound(
    probabilities: Mapping[str, float],
    root: KeptLevel,
    free_seconds: Sequence[float],
    free_position_costs: Sequence[float],
) -> float:
    """Lower bound on E[T] over every tree that keeps `root`'s kept menus and children in place.

    Gibbs' inequality holds for any lambda > 0: lambda E[T] >= H(p) - ln K, where K bounds
    sum over called services of exp(-lambda T) for every allowed tree. For lambda >= lambda_0 of
    `free_position_costs` (the cheapest positions any rebuilt menu can have) a free option of a
    kept menu contributes at most exp(-lambda * cost of choosing it): a free submenu's own Kraft
    sum is <= 1 there. Kept menus play their kept children at their keys, so the positions of
    everything after them are known; free options take the cheapest clips (`free_seconds`, sorted,
    gap included: distinct free children, so the i first of them cost at least the i smallest),
    on any free keys. K is the largest sum over those choices; the bound is the best lambda's.
    Unlike H(p)/lambda, this charges what the constraints hold in place: a root whose kept topics
    fill four of its five keys leaves one position for the popular services.
    """
    h = entropy(probabilities.values())
    lam0 = solve_lambda(free_position_costs)

    def bound(lam: float) -> float:
        return (h - math.log(_kept_kraft(root, lam, free_seconds))) / lam

    # the bound falls to the cheapest service's time as lambda grows; its peak lies near lambda_0
    grid = [lam0 * (1.0 + i / 16.0) for i in range(65)]
    values = [bound(lam) for lam in grid]
    best = max(range(len(grid)), key=values.__getitem__)
    lo, hi = grid[max(0, best - 1)], grid[min(len(grid) - 1, best + 1)]
    found = values[best]
    for _ in range(40):  # golden-section refinement around the best grid point
        a = hi - (hi - lo) / _PHI
        b = lo + (hi - lo) / _PHI
        fa, fb = bound(a), bound(b)
        found = max(found, fa, fb)
        lo, hi = (lo, b) if fa >= fb else (a, hi)
    return found


_PHI = (1.0 + math.sqrt(5.0)) / 2.0


def _kept_kraft(level: KeptLevel, lam: float, free_seconds: Sequence[float]) -> float:
    """Largest sum of exp(-lambda T) over the services below `level`, T from entering it."""
    kept = {slot.key: slot for slot in level.slots}
    below = {
        slot.key: _kept_kraft(slot.menu, lam, free_seconds)
        if slot.menu is not None
        else math.fsum(math.exp(-lam * t) for t in slot.inside)
        for slot in level.slots
    }
    most = min(level.room, len(level.free_keys), len(free_seconds))
    best = 0.0
    for used in range(most + 1):
        for keys in itertools.combinations(level.free_keys, used):
            heard, opened, total = level.level_cost, 0, 0.0
            for key in sorted([*kept, *keys]):
                slot = kept.get(key)
                if slot is None:
                    heard += free_seconds[opened]
                    opened += 1
                    total += math.exp(-lam * heard)
                else:
                    heard += slot.seconds
                    total += math.exp(-lam * heard) * below[key]
            best = max(best, total)
    return best
