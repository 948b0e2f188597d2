"""Exhaustive search over every menu tree of a few services: the reference optimum."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from functools import cache

from ivr_engine.optimizer import CostParams, MenuTree, Option, Service


def ordered_partitions(
    items: tuple[int, ...], max_blocks: int
) -> Iterator[tuple[tuple[int, ...], ...]]:
    """Every split of `items` into 1..max_blocks non-empty blocks, blocks in every order."""
    if not items:
        yield ()
        return
    first, rest = items[0], items[1:]
    # choose the block holding `first`, then split the remainder; blocks are permuted afterwards
    for size in range(len(rest) + 1):
        for others in itertools.combinations(rest, size):
            block = (first, *others)
            remainder = tuple(i for i in rest if i not in others)
            for tail in ordered_partitions(remainder, max_blocks - 1):
                if len(tail) + 1 <= max_blocks:
                    yield (block, *tail)


def brute_force_cost(
    leaves: Sequence[Service],
    p: Mapping[str, float],
    params: CostParams,
    root_header: float,
    k: int,
    order_preserving: bool = False,
    max_depth: int | None = None,
) -> float:
    """Smallest E[T] of any tree whose menus have 2..k options (root header as given,
    generated menus with the synthetic header and group clip) and no service deeper than
    `max_depth`. With `order_preserving`, only trees whose menus split popularity-sorted services
    into consecutive runs in play order."""
    mass = [p[s.id] for s in leaves]
    clip = [params.option_seconds(s.prompt) for s in leaves]
    group_clip = params.option_seconds(params.group_prompt)

    def splits(items: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], ...]]:
        if order_preserving:
            for cuts in range(1, min(k, len(items))):
                for points in itertools.combinations(range(1, len(items)), cuts):
                    bounds = (0, *points, len(items))
                    yield tuple(items[a:b] for a, b in itertools.pairwise(bounds))
        else:
            for blocks in ordered_partitions(items, k):
                if len(blocks) >= 2:
                    yield from set(itertools.permutations(blocks))

    @cache
    def menu(items: tuple[int, ...], header: float, depth: int) -> float:
        total = sum(mass[i] for i in items)
        best = float("inf")
        for blocks in splits(items):
            if depth == 1 and any(len(block) > 1 for block in blocks):
                continue
            heard_by = total
            cost = (params.level_overhead + header) * total
            for block in blocks:
                if len(block) == 1:
                    cost += clip[block[0]] * heard_by
                else:
                    cost += group_clip * heard_by + menu(block, params.synthetic_header, depth - 1)
                heard_by -= sum(mass[i] for i in block)
            best = min(best, cost)
        return best

    order = tuple(
        sorted(
            range(len(leaves)), key=lambda i: (-mass[i], leaves[i].prompt, leaves[i].id)
        )
    )
    if len(order) == 1:
        return (params.level_overhead + root_header + clip[0]) * mass[0]
    return menu(order, root_header, max_depth or len(order))


def flat_tree(leaves: Sequence[Service], header: float = 1.0) -> MenuTree:
    """A root menu offering `leaves` directly (at most 9)."""
    return MenuTree(
        "root", header, tuple(Option(str(i + 1), leaf) for i, leaf in enumerate(leaves))
    )


def canonical_tree(
    leaves: Sequence[Service], branching: int, header: float = 2.0, prompt: float = 2.0
) -> MenuTree:
    """A balanced tree in the given order, like a hand-written hotline tree."""
    counter = itertools.count(1)

    def build(items: Sequence[Service]) -> list[MenuTree | Service]:
        if len(items) <= branching:
            return list(items)
        size = -(-len(items) // branching)
        children: list[MenuTree | Service] = []
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            if len(chunk) == 1:
                children.append(chunk[0])
            else:
                kids = build(chunk)
                options = tuple(Option(str(i + 1), kid) for i, kid in enumerate(kids))
                children.append(
                    MenuTree(f"menu{next(counter)}", header, options, prompt=prompt)
                )
        return children

    return MenuTree(
        "root",
        header + 1.0,
        tuple(Option(str(i + 1), kid) for i, kid in enumerate(build(leaves))),
    )
