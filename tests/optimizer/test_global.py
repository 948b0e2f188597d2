from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from optimizer_brute import brute_force_cost, canonical_tree, flat_tree

from ivr_engine.optimizer import (
    Constraints,
    CostParams,
    InfeasibleError,
    MenuTree,
    Option,
    Service,
    TreeError,
    check_tree,
    evaluate,
    leaf_paths,
    optimize,
    violations,
    walk,
)
from ivr_engine.optimizer.cost import expected_time
from ivr_engine.optimizer.dp import make_unit
from ivr_engine.optimizer.global_tree import _layout_units, _plan, check_constraints, layout

PARAMS = CostParams()


def zipf(ids: list[str], s: float, seed: int) -> dict[str, float]:
    shuffled = list(ids)
    random.Random(seed).shuffle(shuffled)
    return {leaf: 1.0 / (rank + 1) ** s for rank, leaf in enumerate(shuffled)}


def small_instance(
    draw: st.DrawFn, max_n: int
) -> tuple[list[Service], dict[str, float]]:
    n = draw(st.integers(min_value=1, max_value=max_n))
    clips = draw(
        st.lists(st.sampled_from([1.0, 1.5, 2.0, 2.5, 3.0]), min_size=n, max_size=n)
    )
    weights = draw(
        st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=n, max_size=n)
    )
    leaves = [Service(f"s{i}", clip) for i, clip in enumerate(clips)]
    return leaves, {leaf.id: w / sum(weights) for leaf, w in zip(leaves, weights)}


@st.composite
def small_problems(
    draw: st.DrawFn,
) -> tuple[list[Service], dict[str, float], int, int | None]:
    leaves, p = small_instance(draw, 6)
    depth = draw(st.none() | st.integers(min_value=2, max_value=3))
    return leaves, p, draw(st.integers(min_value=2, max_value=4)), depth


@settings(max_examples=80, deadline=None)
@given(small_problems())
def test_matches_brute_force_on_small_trees(
    problem: tuple[list[Service], dict[str, float], int, int | None],
) -> None:
    leaves, p, k, depth = problem
    assume(depth is None or k**depth >= len(leaves))
    tree = flat_tree(leaves)
    found = evaluate(
        layout(tree, p, PARAMS, Constraints(breadth=k, max_depth=depth)), p, PARAMS
    ).expected_time
    # every tree with menus of 2..k options, any grouping and any play order
    exact = brute_force_cost(leaves, p, PARAMS, tree.header, k, max_depth=depth)
    assert found == pytest.approx(exact, rel=1e-12, abs=1e-12)


def test_subset_program_beats_the_interval_program_when_clips_differ() -> None:
    """A case where no consecutive run of the popularity order is optimal: the exact layout is
    strictly cheaper than the interval program's best tree."""
    rng = random.Random(11)
    for _ in range(200):
        leaves = [Service(f"s{i}", rng.choice([1.0, 2.0, 3.0])) for i in range(6)]
        weights = [rng.uniform(0.01, 1.0) for _ in leaves]
        p = {leaf.id: w / sum(weights) for leaf, w in zip(leaves, weights)}
        restricted = brute_force_cost(leaves, p, PARAMS, 1.0, 3, order_preserving=True)
        exact = brute_force_cost(leaves, p, PARAMS, 1.0, 3)
        if exact < restricted * (1 - 1e-6):
            found = evaluate(
                layout(flat_tree(leaves), p, PARAMS, Constraints(breadth=3)), p, PARAMS
            ).expected_time
            assert found == pytest.approx(exact, rel=1e-12)
            return
    pytest.fail("no instance separated the two programs")


def test_equals_brute_force_at_seven_leaves() -> None:
    leaves = [Service(f"s{i}", clip) for i, clip in enumerate([2.0, 3.5, 1.2, 2.0, 4.0, 1.6, 2.4])]
    p = {leaf.id: 1.0 / (i + 1) for i, leaf in enumerate(leaves)}
    total = sum(p.values())
    p = {i: w / total for i, w in p.items()}
    for k in (3, 4):
        tree = flat_tree(leaves)
        result = optimize(tree, p, PARAMS, Constraints(breadth=k))
        assert result.after.expected_time == pytest.approx(
            brute_force_cost(leaves, p, PARAMS, tree.header, k)
        )


def test_zipf_sixty_leaves_is_within_eight_percent_of_the_bound() -> None:
    leaves = [Service(f"svc{i:02d}", 2.0) for i in range(60)]
    p = zipf([leaf.id for leaf in leaves], 1.0, seed=3)
    result = optimize(canonical_tree(leaves, 4), p, PARAMS)
    assert result.applied
    assert result.ratio <= 1.08
    assert result.after.expected_time < result.before.expected_time
    assert result.after.within_two_levels > result.before.within_two_levels


@st.composite
def trees(draw: st.DrawFn) -> tuple[MenuTree, dict[str, float]]:
    n = draw(st.integers(min_value=2, max_value=24))
    clips = draw(
        st.lists(st.floats(min_value=0.8, max_value=3.5), min_size=n, max_size=n)
    )
    leaves = [Service(f"s{i}", clip) for i, clip in enumerate(clips)]
    tree = canonical_tree(leaves, draw(st.integers(min_value=2, max_value=5)))
    weights = draw(
        st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=n, max_size=n)
    )
    assume(sum(weights) > 0)
    return tree, {leaf.id: w for leaf, w in zip(leaves, weights)}


@settings(max_examples=40, deadline=None)
@given(
    trees(),
    st.integers(min_value=2, max_value=9),
    st.none() | st.integers(min_value=2, max_value=4),
)
def test_never_drops_or_duplicates_a_service(
    problem: tuple[MenuTree, dict[str, float]], breadth: int, max_depth: int | None
) -> None:
    tree, p = problem
    constraints = Constraints(breadth=breadth, max_depth=max_depth)
    try:
        result = optimize(tree, p, PARAMS, constraints)
    except InfeasibleError:
        assert max_depth is not None and breadth**max_depth < len(leaf_paths(tree))
        return
    check_tree(result.tree)  # ids unique: nothing duplicated
    assert sorted(leaf_paths(result.tree)) == sorted(leaf_paths(tree))
    assert violations(result.tree, constraints, tree) == []
    if not violations(tree, constraints, tree):
        # a current tree that breaks the constraints (too wide, too deep) must change anyway
        assert result.after.expected_time <= result.before.expected_time + 1e-9
    assert result.bound <= result.after.expected_time + 1e-9


@st.composite
def constrained(draw: st.DrawFn) -> tuple[MenuTree, dict[str, float], Constraints]:
    tree, p = draw(trees())
    node_ids = [node.id for _, node in walk(tree) if node is not tree]
    leaf_ids = sorted(leaf_paths(tree))
    fixed = draw(st.sets(st.sampled_from(node_ids), max_size=3))
    pinned_ids = draw(st.lists(st.sampled_from(leaf_ids), max_size=3, unique=True))
    keys = draw(
        st.lists(
            st.sampled_from("123456789"),
            min_size=len(pinned_ids),
            max_size=len(pinned_ids),
            unique=True,
        )
    )
    group = draw(st.sets(st.sampled_from(leaf_ids), max_size=3))
    constraints = Constraints(
        pinned_keys=dict(zip(pinned_ids, keys)),
        together=(frozenset(group),) if len(group) >= 2 else (),
        fixed=frozenset(fixed),
        max_depth=draw(st.none() | st.integers(min_value=2, max_value=5)),
        breadth=draw(st.none() | st.integers(min_value=3, max_value=9)),
    )
    try:
        check_constraints(tree, constraints)
    except TreeError:
        assume(False)
    return tree, p, constraints


@settings(max_examples=80, deadline=None)
@given(constrained(), st.none() | st.integers(min_value=0, max_value=5))
def test_always_respects_constraints(
    problem: tuple[MenuTree, dict[str, float], Constraints], max_churn: int | None
) -> None:
    tree, p, constraints = problem
    try:
        result = optimize(tree, p, PARAMS, constraints, max_churn=max_churn)
    except InfeasibleError:
        return
    assert violations(result.tree, constraints, tree) == []
    assert sorted(leaf_paths(result.tree)) == sorted(leaf_paths(tree))
    if max_churn is not None and not violations(tree, constraints, tree):
        assert len(result.changed_paths) <= max_churn


def hotline() -> tuple[MenuTree, dict[str, float]]:
    leaves = [Service(f"svc{i:02d}", 2.0) for i in range(30)]
    return canonical_tree(leaves, 4), zipf([leaf.id for leaf in leaves], 1.0, seed=11)


def test_fixed_service_pinned_key_and_group() -> None:
    tree, p = hotline()
    where = leaf_paths(tree)
    popular = max(p, key=p.__getitem__)
    rare = sorted(p, key=p.__getitem__)[:3]
    constraints = Constraints(
        pinned_keys={popular: "9"},
        fixed=frozenset({"svc05"}),
        together=(frozenset(rare),),
    )
    result = optimize(tree, p, PARAMS, constraints)
    new = leaf_paths(result.tree)
    assert new["svc05"] == where["svc05"]
    assert new[popular][-1] == "9"
    assert len({new[i][:-1] for i in rare}) == 1
    assert violations(result.tree, constraints, tree) == []


def test_fixed_menu_keeps_its_subtree() -> None:
    tree, p = hotline()
    menu = next(
        node
        for _, node in walk(tree)
        if isinstance(node, MenuTree) and node is not tree
    )
    result = optimize(tree, p, PARAMS, Constraints(fixed=frozenset({menu.id})))
    kept = next(node for _, node in walk(result.tree) if node.id == menu.id)
    assert kept == menu


def test_max_churn_limits_changed_paths() -> None:
    tree, p = hotline()
    free = optimize(tree, p, PARAMS)
    limited = optimize(tree, p, PARAMS, max_churn=4)
    assert len(free.changed_paths) > 4
    assert 0 < len(limited.changed_paths) <= 4
    assert (
        free.after.expected_time
        <= limited.after.expected_time
        < limited.before.expected_time
    )


def test_min_saving_keeps_the_current_tree() -> None:
    tree, p = hotline()
    result = optimize(tree, p, PARAMS, min_saving=0.99)
    assert not result.applied
    assert result.tree is tree
    assert result.changed_paths == {} and result.changed_menus == ()
    assert 0 < result.saving < 0.99
    again = optimize(optimize(tree, p, PARAMS).tree, p, PARAMS, min_saving=0.01)
    assert not again.applied  # a tree already optimised for p has nothing left to gain


def test_changed_menus_names_new_and_rearranged_menus() -> None:
    tree, p = hotline()
    result = optimize(tree, p, PARAMS)
    menus = {node.id for _, node in walk(result.tree) if isinstance(node, MenuTree)}
    assert tree.id in result.changed_menus
    assert set(result.changed_menus) <= menus
    assert all(m in result.changed_menus for m in menus if m.startswith("auto-"))


def test_infeasible_depth_is_a_clear_error() -> None:
    leaves = [Service(f"s{i}", 2.0) for i in range(12)]
    with pytest.raises(InfeasibleError, match="max_depth 1"):
        optimize(
            canonical_tree(leaves, 3),
            {leaf.id: 1.0 for leaf in leaves},
            PARAMS,
            Constraints(max_depth=1, breadth=9),
        )


@pytest.mark.parametrize(
    ("constraints", "message"),
    [
        (Constraints(fixed=frozenset({"nope"})), "'nope', which is not a node"),
        (Constraints(pinned_keys={"svc00": "3", "svc01": "3"}), "both pinned to key 3"),
        (
            Constraints(
                together=(frozenset({"svc00", "svc01", "svc02", "svc03"}),), breadth=3
            ),
            "more services than",
        ),
        (Constraints(together=(frozenset({"svc00", "menu1"}),)), "names a menu"),
    ],
)
def test_contradictory_constraints_are_named(
    constraints: Constraints, message: str
) -> None:
    tree, p = hotline()
    with pytest.raises(TreeError, match=message):
        optimize(tree, p, PARAMS, constraints)


def leaf_menu(tree: MenuTree) -> MenuTree:
    """A submenu that offers only services."""
    return next(
        node
        for _, node in walk(tree)
        if isinstance(node, MenuTree) and node is not tree and all(isinstance(o.child, Service) for o in node.options)
    )


def test_a_group_has_its_menu_to_itself() -> None:
    # the two most called services: worth a key each at the root, but grouped they share a menu
    # that no other service joins, so that a flow can say so with keep_together on it
    tree, p = hotline()
    top = frozenset(sorted(p, key=p.__getitem__)[-2:])
    result = optimize(tree, p, PARAMS, Constraints(together=(top,)))
    parent = next(
        node for _, node in walk(result.tree) if isinstance(node, MenuTree) and top & {o.child.id for o in node.options}
    )
    assert {o.child.id for o in parent.options if isinstance(o.child, Service)} == top
    assert violations(result.tree, Constraints(together=(top,)), tree) == []


def test_a_fixed_member_holds_its_group_in_place() -> None:
    # a pinned service in a keep-together menu: the group stays where the pin holds it, as one unit
    tree, p = hotline()
    menu = leaf_menu(tree)
    group = frozenset(o.child.id for o in menu.options)
    first = menu.options[0].child.id
    constraints = Constraints(together=(group,), fixed=frozenset({first}))
    result = optimize(tree, p, PARAMS, constraints)
    before, after = leaf_paths(tree), leaf_paths(result.tree)
    assert {i: after[i] for i in group} == {i: before[i] for i in group}
    assert violations(result.tree, constraints, tree) == []
    # a member elsewhere could not join the menu its fixed members hold
    stranger = next(i for i in before if before[i][:-1] != before[first][:-1])
    split = Constraints(together=(frozenset({first, stranger}),), fixed=frozenset({first}))
    with pytest.raises(TreeError, match="they hold the group in their menu: all its members must be there"):
        optimize(tree, p, PARAMS, split)


def test_a_cap_the_current_tree_cannot_keep_is_exceeded_and_says_why() -> None:
    tree, p = hotline()  # 30 services, three levels deep
    constraints = Constraints(max_depth=2, breadth=9)
    result = optimize(tree, p, PARAMS, constraints, max_churn=0)
    assert result.applied and len(result.changed_paths) > 0
    assert result.churn_forced_by == ("a service sits 3 levels deep, max_depth is 2",)
    assert max(len(path) for path in leaf_paths(result.tree).values()) == 2
    # mended whatever the saving, and said so
    modest = optimize(tree, p, PARAMS, constraints, max_churn=0, min_saving=0.99)
    assert modest.applied and modest.mends == ("a service sits 3 levels deep, max_depth is 2",)
    assert optimize(tree, p, PARAMS, constraints).mends == ()  # it saves enough anyway


def test_an_over_wide_menu_under_a_cap_sheds_only_its_least_called_options() -> None:
    # six options, breadth 4: the three least called leave for one new submenu (no other menu
    # has room), the rest keep their keys; before, every service below the menu could move
    leaves = [Service(f"s{i}", 2.0) for i in range(6)]
    p = {"s0": 0.05, "s1": 0.3, "s2": 0.02, "s3": 0.25, "s4": 0.3, "s5": 0.08}
    tree = flat_tree(leaves)
    constraints = Constraints(breadth=4)
    result = optimize(tree, p, PARAMS, constraints, max_churn=0)
    assert set(result.changed_paths) == {"s0", "s2", "s5"}
    assert result.churn_forced_by == ("menu 'root' has 6 options, breadth is 4",)
    assert violations(result.tree, constraints, tree) == []


def test_what_held_a_saving_back() -> None:
    tree, p = hotline()
    capped = optimize(tree, p, PARAMS, max_churn=0, min_saving=0.01)
    assert not capped.applied and capped.held_back_by == "max_churn" and capped.churn_forced_by == ()
    assert capped.saving == 0.0 and capped.uncapped_saving is not None and capped.uncapped_saving > 0.01
    modest = optimize(tree, p, PARAMS, min_saving=0.99)
    assert not modest.applied and modest.held_back_by == "min_saving"


def test_infeasible_breadth_without_max_depth_names_what_fills_the_root() -> None:
    leaves = [Service(f"s{i}", 2.0) for i in range(6)]
    tree = canonical_tree(leaves, 3)
    held = frozenset(o.child.id for o in tree.options[:2])
    with pytest.raises(InfeasibleError) as caught:
        optimize(tree, {leaf.id: 1.0 for leaf in leaves}, PARAMS, Constraints(fixed=held, breadth=2))
    message = str(caught.value)
    assert "None" not in message and "max_depth" not in message
    assert message.endswith("which fills its 2 options")



def test_where_a_free_group_sat_does_not_matter_to_the_program() -> None:
    # nothing holds the group at the root, so the program (before any search) lays out the same
    # tree whether the group starts there or in a submenu: its old menu stays open to the others
    leaves = [Service(f"svc{i:02d}", 2.0) for i in range(8)]
    p = zipf([leaf.id for leaf in leaves], 1.0, seed=3)
    rare = sorted(p, key=p.__getitem__)[:2]
    constraints = Constraints(together=(frozenset(rare),), breadth=3)
    units = [make_unit([s for s in leaves if s.id in rare], p, PARAMS, {}, group=True)]
    units += sorted(
        (make_unit([s], p, PARAMS, {}, group=False) for s in leaves if s.id not in rare),
        key=lambda unit: -unit.mass,
    )
    at_root = flat_tree(leaves)
    others = tuple(o for o in at_root.options if o.child.id not in rare)
    below = MenuTree(
        "root",
        at_root.header,
        (*others, Option("9", MenuTree("grouped", 1.0, tuple(o for o in at_root.options if o.child.id in rare)))),
    )
    laid = [
        _layout_units(tree, units, _plan(tree, constraints), p, PARAMS, constraints) for tree in (at_root, below)
    ]
    assert expected_time(laid[0], p, PARAMS) == pytest.approx(expected_time(laid[1], p, PARAMS))


def test_a_member_of_a_group_held_in_place_pinned_to_another_key_is_refused() -> None:
    # Found by test_always_respects_constraints: a fixed member holds its group in place, every
    # member at its key, so a pin to another key cannot be kept; the optimizer had dropped the pin.
    tree, p = hotline()
    menu = leaf_menu(tree)
    fixed, pinned = menu.options[0], menu.options[1]
    constraints = Constraints(
        pinned_keys={pinned.child.id: fixed.key},
        together=(frozenset({fixed.child.id, pinned.child.id}),),
        fixed=frozenset({fixed.child.id}),
    )
    with pytest.raises(TreeError, match=f"{pinned.child.id!r} is pinned to key {fixed.key}, but its keep-together group"):
        optimize(tree, p, PARAMS, constraints)
    # a key free in that menu cannot be kept either: the group does not move, nor do its members
    free = next(k for k in "987654321" if k not in {o.key for o in menu.options})
    elsewhere = dataclasses.replace(constraints, pinned_keys={pinned.child.id: free})
    with pytest.raises(TreeError, match=f"{pinned.child.id!r} is pinned to key {free}, but its keep-together group"):
        optimize(tree, p, PARAMS, elsewhere)
    # pinned where it is, it stays there with its group
    kept = dataclasses.replace(constraints, pinned_keys={pinned.child.id: pinned.key})
    assert violations(optimize(tree, p, PARAMS, kept).tree, kept, tree) == []
