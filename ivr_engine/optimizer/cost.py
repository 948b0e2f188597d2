"""Caller-seconds spent in a menu tree (see docs in shared/menu-cost-model.md).

Each level costs a fixed part (menu header, reaction, keypress, system delay) plus the option
clips heard up to and including the caller's own: callers barge in as soon as they hear it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ivr_engine.optimizer.tree import MenuTree, Service, TreeError


@dataclass(frozen=True)
class CostParams:
    reaction: float = 1.0  # from the end of one's own option clip to the keypress
    keypress: float = 0.3
    system_delay: float = 0.7  # from the keypress to the next menu's first sound
    option_gap: float = 0.5  # pause after every option clip
    synthetic_header: float = 1.5  # header of a generated "more options" menu
    group_prompt: float = (
        2.0  # option clip of a generated menu ("for more options press N")
    )
    and_more: float = 0.8  # what "and more" adds to the clip of a topic menu that took in other services

    def __post_init__(self) -> None:
        for name in (
            "reaction",
            "keypress",
            "system_delay",
            "option_gap",
            "synthetic_header",
            "group_prompt",
            "and_more",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise TreeError(
                    f"cost params: {name} must be a finite number of seconds >= 0, got {value!r}"
                )

    @property
    def level_overhead(self) -> float:
        """The part of `a` every level costs on top of the menu's own header."""
        return self.reaction + self.keypress + self.system_delay

    def option_seconds(self, prompt: float) -> float:
        return prompt + self.option_gap

    @property
    def generated_menu(self) -> tuple[float, float]:
        """(header, option clip) of a generated "more options" menu."""
        return self.synthetic_header, self.group_prompt


@dataclass(frozen=True)
class TreeMetrics:
    expected_time: float  # E[T], seconds, callers barging in at their option
    p95_time: float  # smallest t with P(T <= t) >= 0.95
    expected_keypresses: float
    within_two_levels: (
        float  # share of calls whose service is at most two keypresses deep
    )
    expected_time_full_listen: float  # E[T] for callers who hear every menu to its end
    leaf_time: Mapping[str, float]
    leaf_depth: Mapping[str, int]


def normalize(
    probabilities: Mapping[str, float], leaf_ids: Iterable[str]
) -> dict[str, float]:
    """Probabilities (or raw hit counts) over exactly `leaf_ids`; absent leaves get 0."""
    ids = list(leaf_ids)
    known = set(ids)
    for leaf_id, weight in probabilities.items():
        if leaf_id not in known:
            raise TreeError(f"probabilities: {leaf_id!r} is not a service of the tree")
        if not (math.isfinite(weight) and weight >= 0.0):
            raise TreeError(
                f"probabilities: weight of {leaf_id!r} must be finite and >= 0, got {weight!r}"
            )
    total = math.fsum(probabilities.values())
    if total <= 0.0:
        raise TreeError("probabilities: all weights are zero")
    return {leaf_id: probabilities.get(leaf_id, 0.0) / total for leaf_id in ids}


def weighted_quantile(
    values: Mapping[str, float], weights: Mapping[str, float], q: float
) -> float:
    """Smallest value v with total weight of values <= v at least q."""
    cumulative = 0.0
    order = sorted(values, key=values.__getitem__)
    for leaf_id in order:
        cumulative += weights[leaf_id]
        if cumulative >= q - 1e-12:
            return values[leaf_id]
    return values[order[-1]]


def leaf_times(
    tree: MenuTree, params: CostParams
) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    """Per service: T with barge-in, T listening to whole menus, and depth."""
    barge: dict[str, float] = {}
    full: dict[str, float] = {}
    depth: dict[str, int] = {}
    stack: list[tuple[MenuTree, float, float, int]] = [(tree, 0.0, 0.0, 1)]
    while stack:
        menu, before, before_full, level = stack.pop()
        start = before + params.level_overhead + menu.header
        whole = before_full + params.level_overhead + menu.header
        whole += sum(
            params.option_seconds(option.child.prompt) for option in menu.options
        )
        heard = 0.0
        for option in menu.options:
            heard += params.option_seconds(option.child.prompt)
            child = option.child
            if isinstance(child, Service):
                barge[child.id] = start + heard
                full[child.id] = whole
                depth[child.id] = level
            else:
                stack.append((child, start + heard, whole, level + 1))
    return barge, full, depth


def inside(menu: MenuTree, p: Mapping[str, float], params: CostParams) -> tuple[float, float]:
    """(share of callers whose service is below `menu`, their caller-seconds from its header on)."""
    times, _, _ = leaf_times(menu, params)
    return math.fsum(p[i] for i in times), math.fsum(p[i] * t for i, t in times.items())


def evaluate(
    tree: MenuTree, probabilities: Mapping[str, float], params: CostParams
) -> TreeMetrics:
    barge, full, depth = leaf_times(tree, params)
    p = normalize(probabilities, barge)
    return TreeMetrics(
        expected_time=math.fsum(p[i] * barge[i] for i in barge),
        p95_time=weighted_quantile(barge, p, 0.95),
        expected_keypresses=math.fsum(p[i] * depth[i] for i in barge),
        within_two_levels=math.fsum(p[i] for i in barge if depth[i] <= 2),
        expected_time_full_listen=math.fsum(p[i] * full[i] for i in barge),
        leaf_time=barge,
        leaf_depth=depth,
    )


def expected_time(
    tree: MenuTree, probabilities: Mapping[str, float], params: CostParams
) -> float:
    barge, _, _ = leaf_times(tree, params)
    p = normalize(probabilities, barge)
    return math.fsum(p[i] * barge[i] for i in barge)
