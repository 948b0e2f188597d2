"""Local improvement of a laid-out tree.

The interval program keeps every submenu's services a consecutive run of the popularity order.
The best tree of a given shape may interleave: a submenu at key 1 can hold services that are less
popular than a plain service at key 2 (its deeper options cost more). Given the shape, handing
the cheapest slots to the most popular services fixes that; re-sorting options by Smith's rule
then changes slot costs, so the two steps repeat while the expected time drops.
"""

from __future__ import annotations

from collections.abc import Mapping

from ivr_engine.optimizer.cost import CostParams, expected_time, leaf_times
from ivr_engine.optimizer.dp import Entry, arrange, synthetic_id
from ivr_engine.optimizer.tree import MenuTree, Node, Service, walk


def polish(
    tree: MenuTree,
    p: Mapping[str, float],
    params: CostParams,
    movable: frozenset[str],
    kept_keys: frozenset[str],
    frozen: frozenset[str],
    keys: str,
    pinned: Mapping[str, str],
    rounds: int = 8,
) -> MenuTree:
    """Reassign `movable` services to the slots of `tree`'s shape; nodes in `kept_keys` keep
    their key, `frozen` menus stay exactly as they are."""
    best, best_cost = tree, expected_time(tree, p, params)
    prompts = {node.id: node for _, node in walk(tree) if isinstance(node, Service)}
    for _ in range(rounds):
        times, _, _ = leaf_times(best, params)
        holders = sorted(movable, key=lambda i: (times[i], i))
        wanted = sorted(movable, key=lambda i: (-p[i], prompts[i].prompt, i))
        swap = {old: prompts[new] for old, new in zip(holders, wanted)}
        candidate = _rebuild(best, swap, p, params, kept_keys, frozen, keys, pinned)
        cost = expected_time(candidate, p, params)
        if cost >= best_cost - 1e-12:
            break
        best, best_cost = candidate, cost
    return best


def _rebuild(
    menu: MenuTree,
    swap: Mapping[str, Service],
    p: Mapping[str, float],
    params: CostParams,
    kept_keys: frozenset[str],
    frozen: frozenset[str],
    keys: str,
    pinned: Mapping[str, str],
) -> MenuTree:
    entries: list[Entry] = []
    for option in menu.options:
        child: Node = option.child
        if isinstance(child, Service):
            child = swap.get(child.id, child)
        elif child.id not in frozen:
            child = _rebuild(child, swap, p, params, kept_keys, frozen, keys, pinned)
        mass = sum(p[i] for i in _leaf_ids(child))
        entries.append(
            Entry(
                child,
                mass,
                params.option_seconds(child.prompt),
                option.key if child.id in kept_keys else None,
            )
        )
    menu_id = menu.id
    if menu.synthetic and menu.id.startswith("auto-"):
        menu_id = synthetic_id("auto", [i for e in entries for i in _leaf_ids(e.node)])
    return MenuTree(
        menu_id,
        menu.header,
        arrange(entries, keys, dict(pinned)),
        menu.prompt,
        menu.synthetic,
        menu.topic,
    )


def _leaf_ids(node: Node) -> list[str]:
    if isinstance(node, Service):
        return [node.id]
    return [n.id for _, n in walk(node) if isinstance(n, Service)]
