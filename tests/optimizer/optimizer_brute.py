"""Exhaustive search over every menu tree of a few services: the reference optimum."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache

from ivr_engine.optimizer import DIGIT_KEYS, CostParams, MenuTree, Option, Service, walk
from ivr_engine.optimizer.tree import ancestor_ids, paths, services


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
    menu = _menu_program(mass, clip, params, k, params.synthetic_header, params.group_prompt, order_preserving)
    order = tuple(
        sorted(
            range(len(leaves)), key=lambda i: (-mass[i], leaves[i].prompt, leaves[i].id)
        )
    )
    if len(order) == 1:
        return (params.level_overhead + root_header + clip[0]) * mass[0]
    return menu(order, root_header, max_depth or len(order))


def _menu_program(
    mass: Sequence[float],
    clip: Sequence[float],
    params: CostParams,
    k: int,
    sub_header: float,
    sub_prompt: float,
    order_preserving: bool = False,
) -> Callable[[tuple[int, ...], float, int], float]:
    """menu(items, header, depth): the cheapest menu over services `items` (indices), in
    caller-seconds from its header on, no service deeper than `depth`, its submenus costing
    `sub_header` and `sub_prompt` (their option clip)."""
    group_clip = params.option_seconds(sub_prompt)

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
                    cost += group_clip * heard_by + menu(block, sub_header, depth - 1)
                heard_by -= sum(mass[i] for i in block)
            best = min(best, cost)
        return best

    return menu


def brute_force_kept_cost(
    current: MenuTree, p: Mapping[str, float], params: CostParams, fixed: frozenset[str], k: int
) -> float:
    """Smallest E[T] of any tree that keeps the `fixed` services at their key paths (and so the
    menus above them, with the root's header), every other service free to sit on a free key of
    a kept menu or anywhere below it in rebuilt menus of 2..k options. A kept submenu is
    charged the cheaper of its own and the generated header and clip, whichever its content, and
    every rebuilt menu the cheapest header and clip of any menu (it might be an old topic menu).
    Pins, keep-together groups and max_depth are not enforced: no allowed tree is cheaper."""
    leaves = sorted(services(current).values(), key=lambda s: s.id)
    index = {s.id: i for i, s in enumerate(leaves)}
    mass = [p[s.id] for s in leaves]
    clip = [params.option_seconds(s.prompt) for s in leaves]
    menus = [m for _, m in walk(current) if isinstance(m, MenuTree) and m is not current]
    sub_header = min([params.synthetic_header, *(m.header for m in menus)])
    sub_prompt = min([params.group_prompt, *(m.prompt for m in menus)])
    generated = _menu_program(mass, clip, params, k, sub_header, sub_prompt)
    where = paths(current)
    kept = {current.id} | {a for f in fixed for a in ancestor_ids(current, where[f])}
    free = frozenset(index[s.id] for s in leaves if s.id not in fixed)

    @cache
    def kept_menu(menu: MenuTree, items: frozenset[int], root: bool) -> float:
        held = [o for o in menu.options if o.child.id in kept or o.child.id in fixed]
        subs = [o for o in held if isinstance(o.child, MenuTree)]
        free_keys = [key for key in DIGIT_KEYS if key not in {o.key for o in held}]
        room = max(0, k - len(held))
        header = menu.header if root else min(menu.header, params.synthetic_header)
        best = float("inf")
        for choice in itertools.product(range(len(subs) + 1), repeat=len(items)):
            here = tuple(i for i, c in zip(sorted(items), choice) if c == 0)
            given = [frozenset(i for i, c in zip(sorted(items), choice) if c == n + 1) for n in range(len(subs))]
            inner = {o.key: kept_menu(o.child, g, False) for o, g in zip(subs, given)}  # type: ignore[arg-type]
            below = {o.key: sum(mass[i] for i in g) + _fixed_mass(o.child, fixed, p) for o, g in zip(subs, given)}
            for blocks in _arrangements(here, room):
                for keys in itertools.combinations(free_keys, len(blocks)):
                    options: list[tuple[str, float, float, float]] = []  # key, clip, mass, inside
                    for o in held:
                        if isinstance(o.child, MenuTree):
                            seconds = params.option_seconds(min(o.child.prompt, params.group_prompt))
                            options.append((o.key, seconds, below[o.key], inner[o.key]))
                        else:
                            options.append((o.key, params.option_seconds(o.child.prompt), p[o.child.id], 0.0))
                    for key, block in zip(keys, blocks):
                        block_mass = sum(mass[i] for i in block)
                        if len(block) == 1:
                            options.append((key, clip[block[0]], block_mass, 0.0))
                        else:
                            inside = generated(block, sub_header, len(block))
                            options.append((key, params.option_seconds(sub_prompt), block_mass, inside))
                    heard = sum(o[2] for o in options)
                    cost = (params.level_overhead + header) * heard
                    for _, seconds, option_mass, inside in sorted(options):
                        cost += seconds * heard + inside
                        heard -= option_mass
                    best = min(best, cost)
        return best

    return kept_menu(current, free, True)


def _arrangements(items: tuple[int, ...], room: int) -> Iterator[tuple[tuple[int, ...], ...]]:
    """Every split of `items` into at most `room` blocks, in every order (none for no items)."""
    if not items:
        yield ()
        return
    for blocks in ordered_partitions(items, room):
        yield from set(itertools.permutations(blocks))


def _fixed_mass(menu: MenuTree | Service, fixed: frozenset[str], p: Mapping[str, float]) -> float:
    return sum(p[i] for i in services(menu) if i in fixed) if isinstance(menu, MenuTree) else 0.0


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
