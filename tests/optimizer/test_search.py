from __future__ import annotations

import random

import pytest
from optimizer_brute import canonical_tree

from ivr_engine.optimizer import (
    Constraints,
    CostParams,
    MenuTree,
    Option,
    Service,
    evaluate,
    leaf_paths,
    violations,
    walk,
)
from ivr_engine.optimizer.cost import normalize
from ivr_engine.optimizer.labels import Labels, keeps_label
from ivr_engine.optimizer.search import Draft, Rules, improve, iterate
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


def rules(
    movable: set[str], constraints: Constraints, kept: frozenset[str] = frozenset(), labels: Labels | None = None
) -> Rules:
    return Rules(
        frozenset(movable),
        kept,
        frozenset(),
        constraints.keys,
        constraints.pinned_keys,
        constraints.max_options,
        constraints.max_depth,
        labels,
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


# Generated menus cost much more than the topic menus of `topic_instance`, as in Mandarin, and
# "and more" is long enough that a topic menu off its topic plays them: the steep landscape where
# single moves get stuck (with a short "and more" the search settles where kicks gain nothing).
TOPIC_PARAMS = CostParams(synthetic_header=1.5, group_prompt=3.5, and_more=5.0)


def topic_instance(seed: int) -> tuple[MenuTree, dict[str, float], Constraints, Rules]:
    """40 services under topic menus, two held in place (so their menus stay, as with pins)."""
    leaves, p = instance(40, seed)
    tree = canonical_tree(leaves, 4, header=0.6, prompt=1.3)
    held = frozenset({"s00", "s20"})
    constraints = Constraints(fixed=held, breadth=5, max_depth=4)
    where = leaf_paths(tree)
    kept = frozenset(held | {a for i in held for a in ancestor_ids(tree, where[i])[1:]})
    p = normalize(p, where)
    labels = Labels(tree, TOPIC_PARAMS, p)
    return tree, p, constraints, rules(set(p) - held, constraints, kept, labels)


def test_kicks_find_cheaper_trees_than_single_moves() -> None:
    gains = 0
    for seed in range(1, 9):
        tree, p, constraints, topic_rules = topic_instance(seed)
        settled = improve(tree, p, TOPIC_PARAMS, topic_rules)
        kicked = iterate(settled, p, TOPIC_PARAMS, topic_rules, kicks=6)
        before = Draft(settled, p, TOPIC_PARAMS, topic_rules).total()
        after = Draft(kicked, p, TOPIC_PARAMS, topic_rules).total()
        assert after <= before
        gains += after < before - 1e-9
        assert sorted(services(kicked)) == sorted(services(tree))
        assert violations(kicked, constraints, tree) == []
        if seed == 1:  # seeded: the same input is always laid out the same
            assert iterate(settled, p, TOPIC_PARAMS, topic_rules, kicks=6) == kicked
    assert gains >= 2


def test_a_menu_off_its_topic_gets_its_own_services_back() -> None:
    tree, p, _, topic_rules = topic_instance(2)
    draft = Draft(tree, p, TOPIC_PARAMS, topic_rules)
    labels = topic_rules.labels
    assert labels is not None
    menu = next(m for m in sorted(draft.menus) if m in labels.known and len(draft.held(m)) >= 4)
    topic = labels.known[menu].services
    outsiders = sorted(i for i in p if i not in topic and i in topic_rules.movable)
    for own, stranger in zip(sorted(i for i in topic if i in topic_rules.movable), outsiders):
        draft.swap(own, stranger)
    assert menu in draft.off_topic()
    draft.restore_topic(menu)
    assert menu not in draft.off_topic()
    assert keeps_label(topic, draft.held(menu))


def topic_tree() -> tuple[MenuTree, dict[str, float]]:
    """Root of two topics (short texts, as hand-written menus have): `rare` holds two rarely
    called services, `popular` the most called one. Every menu is full (breadth 2)."""
    rare = MenuTree("rare", 0.6, (Option("1", Service("a", 2.0)), Option("2", Service("b", 2.0))), prompt=1.0)
    popular = MenuTree("popular", 0.6, (Option("1", Service("x", 2.0)), Option("2", Service("y", 2.0))), prompt=1.0)
    return MenuTree("root", 1.0, (Option("1", rare), Option("2", popular))), {"a": 0.05, "b": 0.05, "x": 0.8, "y": 0.1}


def test_search_moves_a_whole_topic_menu_under_another() -> None:
    tree, p = topic_tree()
    constraints = Constraints(breadth=2, max_depth=3)
    labels = Labels(tree, CostParams(synthetic_header=1.5, group_prompt=3.5), p)
    params = labels.params
    better = improve(tree, p, params, rules({"a", "b", "x", "y"}, constraints, labels=labels))
    # x takes the root's first key and the rare topic goes under the other one, whole and on
    # its topic; swapping services one at a time would have mixed the topics
    paths = leaf_paths(better)
    assert paths["x"] == ("1",)
    rare = next(n for _, n in walk(better) if isinstance(n, MenuTree) and n.id == "rare")
    assert sorted(services(rare)) == ["a", "b"] and len(paths["a"]) == 3
    assert evaluate(better, p, params).expected_time < evaluate(tree, p, params).expected_time
    assert violations(better, constraints, tree) == []


def test_a_menu_never_moves_below_max_depth_or_into_itself() -> None:
    tree, p = topic_tree()
    constraints = Constraints(breadth=2, max_depth=2)
    labels = Labels(tree, CostParams(synthetic_header=1.5, group_prompt=3.5), p)
    draft = Draft(tree, p, labels.params, rules({"a", "b", "x", "y"}, constraints, labels=labels))
    assert not draft.fits("rare", "popular")  # its services would sit three levels deep
    assert not draft.fits("popular", "popular")
    better = improve(tree, p, labels.params, rules({"a", "b", "x", "y"}, constraints, labels=labels))
    assert max(len(path) for path in leaf_paths(better).values()) <= 2
    assert violations(better, constraints, tree) == []


def test_moving_menus_keeps_costs_and_levels_exact() -> None:
    leaves, p = instance(24, 3)
    tree = canonical_tree(leaves, 3)
    constraints = Constraints(breadth=4, max_depth=6)
    draft = Draft(tree, p, PARAMS, rules({leaf.id for leaf in leaves}, constraints))
    rng = random.Random(5)
    moved = 0
    for _ in range(300):
        menu = rng.choice(draft.movable_menus())
        other = rng.choice([*draft.movable_menus(), *draft.movable_services(), *sorted(draft.menus)])
        if other in draft.menus and rng.random() < 0.5:
            if other != draft.parent[menu] and draft.has_room(other) and draft.fits(menu, other):
                if draft.can_leave(draft.parent[menu]):
                    draft.relocate(menu, other)
                    moved += 1
        elif other != menu and other in draft.parent and draft.parent[other] != draft.parent[menu]:
            if draft.fits(menu, draft.parent[other]) and draft.fits(other, draft.parent[menu]):
                draft.swap(menu, other)
                moved += 1
        built = draft.tree()
        assert draft.total() == pytest.approx(evaluate(built, p, PARAMS).expected_time, rel=1e-12)
        fresh = Draft(built, p, PARAMS, draft.rules)
        assert {m: fresh.menus[m].level for m in fresh.menus} == {m: draft.menus[m].level for m in draft.menus}
        assert sorted(services(built)) == sorted(services(tree))
        assert violations(built, constraints, tree) == []
    assert moved > 50


def test_a_topic_menu_left_with_one_option_gives_way_to_it() -> None:
    lone = MenuTree("lone", 0.6, (Option("1", Service("c", 2.0)),), prompt=1.0)
    pair = MenuTree("pair", 0.6, (Option("1", Service("a", 2.0)), Option("2", Service("b", 2.0))), prompt=1.0)
    tree = MenuTree("root", 1.0, (Option("1", pair), Option("2", lone)))
    p = {"a": 0.5, "b": 0.3, "c": 0.2}
    draft = Draft(tree, p, PARAMS, rules({"a", "b", "c"}, Constraints(breadth=2)))
    draft.collapse()
    built = draft.tree()
    assert [o.child.id for o in built.options] == ["pair", "c"]
    assert draft.total() == pytest.approx(evaluate(built, p, PARAMS).expected_time, rel=1e-12)
    better = improve(tree, p, PARAMS, rules({"a", "b", "c"}, Constraints(breadth=2)))
    assert all(len(n.options) >= 2 for _, n in walk(better) if isinstance(n, MenuTree))
