from __future__ import annotations

import random

from optimizer_brute import canonical_tree

from ivr_engine.optimizer import (
    Constraints,
    CostParams,
    Service,
    evaluate,
    leaf_paths,
    violations,
)
from ivr_engine.optimizer.search import Rules, improve
from ivr_engine.optimizer.tree import ancestor_ids, services

PARAMS = CostParams()


def instance(n: int, seed: int) -> tuple[list[Service], dict[str, float]]:
    rng = random.Random(seed)
    leaves = [Service(f"s{i:02d}", rng.uniform(1.2, 4.5)) for i in range(n)]
    ranks = list(range(1, n + 1))
    rng.shuffle(ranks)
    weights = {leaf.id: rank**-0.9 for leaf, rank in zip(leaves, ranks)}
    total = sum(weights.values())
    return leaves, {i: w / total for i, w in weights.items()}


def rules(movable: set[str], constraints: Constraints, kept: frozenset[str] = frozenset()) -> Rules:
    return Rules(
        frozenset(movable),
        kept,
        frozenset(),
        constraints.keys,
        constraints.pinned_keys,
        constraints.max_options,
        constraints.max_depth,
    )


def test_search_shortens_a_hand_written_tree_and_keeps_every_service_once() -> None:
    for seed in range(5):
        leaves, p = instance(30, seed)
        tree = canonical_tree(leaves, 4)
        constraints = Constraints(breadth=4, max_depth=4)
        better = improve(tree, p, PARAMS, rules({leaf.id for leaf in leaves}, constraints))
        assert evaluate(better, p, PARAMS).expected_time < evaluate(tree, p, PARAMS).expected_time
        assert sorted(services(better)) == sorted(services(tree))
        assert violations(better, constraints, tree) == []


def test_search_leaves_kept_and_pinned_services_on_their_keys() -> None:
    leaves, p = instance(20, 7)
    tree = canonical_tree(leaves, 4)
    where = leaf_paths(tree)
    fixed, pinned = "s00", "s01"
    constraints = Constraints(
        fixed=frozenset({fixed}), pinned_keys={pinned: where[pinned][-1]}, breadth=4
    )
    movable = {leaf.id for leaf in leaves} - {fixed, pinned}
    # as `layout` does: a fixed service's menus keep their keys too
    kept = frozenset({fixed, *ancestor_ids(tree, where[fixed])[1:]})
    better = improve(tree, p, PARAMS, rules(movable, constraints, kept))
    after = leaf_paths(better)
    assert after[fixed] == where[fixed]
    assert after[pinned][-1] == where[pinned][-1]
    assert evaluate(better, p, PARAMS).expected_time <= evaluate(tree, p, PARAMS).expected_time
    assert violations(better, constraints, tree) == []


def test_a_settled_tree_is_returned_unchanged() -> None:
    leaves, p = instance(12, 3)
    constraints = Constraints(breadth=3)
    once = improve(canonical_tree(leaves, 3), p, PARAMS, rules({leaf.id for leaf in leaves}, constraints))
    twice = improve(once, p, PARAMS, rules({leaf.id for leaf in leaves}, constraints))
    assert evaluate(twice, p, PARAMS).expected_time == evaluate(once, p, PARAMS).expected_time
