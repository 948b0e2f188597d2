from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optimizer_brute import brute_force_cost, brute_force_kept_cost, canonical_tree, flat_tree

from ivr_engine.optimizer import (
    BoundError,
    Constraints,
    CostParams,
    InfeasibleError,
    MenuTree,
    Option,
    Service,
    conditional_lower_bound,
    lower_bound,
    optimize,
    position_costs,
    problem_bound,
    solve_lambda,
)
from ivr_engine.optimizer.global_tree import unconstrained_bound


def test_lambda_two_equal_costs() -> None:
    assert solve_lambda([3.0, 3.0]) == pytest.approx(math.log(2) / 3.0, rel=1e-12)


def test_lambda_fibonacci_costs() -> None:
    # x + x^2 = 1 with x = exp(-lambda): x = 1/phi, lambda = ln(phi)
    assert solve_lambda([1.0, 2.0]) == pytest.approx(
        math.log((1 + math.sqrt(5)) / 2), rel=1e-12
    )


def test_lambda_solves_the_equation_for_large_and_spread_costs() -> None:
    for costs in ([1e6, 2e6, 3e6], [0.01, 500.0], [4.5 + 2.5 * i for i in range(9)]):
        lam = solve_lambda(costs)
        assert math.fsum(math.exp(-lam * c) for c in costs) == pytest.approx(
            1.0, rel=1e-9
        )


def test_one_option_has_no_finite_lambda() -> None:
    with pytest.raises(BoundError, match="cannot distinguish leaves"):
        solve_lambda([4.0])
    with pytest.raises(BoundError, match="need at least 2"):
        lower_bound({"a": 0.5, "b": 0.5}, [4.0])


def test_costs_must_be_positive() -> None:
    with pytest.raises(BoundError, match="finite and > 0"):
        solve_lambda([0.0, 1.0])
    with pytest.raises(BoundError, match="finite and > 0"):
        solve_lambda([1.0, math.inf])


def test_certain_leaf_has_zero_bound_even_with_one_option() -> None:
    assert lower_bound({"a": 1.0, "b": 0.0}, [4.0]) == 0.0


def test_position_costs_take_the_cheapest_clips() -> None:
    # clips 3, 1, 2 and a repeatable group clip of 2.5: cheapest sums 1, 1+2, 1+2+2.5
    assert position_costs(2.0, [3.0, 1.0, 2.0], 2.5, 0.5, 3) == pytest.approx(
        [3.5, 6.0, 9.0]
    )


def test_conditional_bound_vanishes_when_the_caller_determines_the_leaf() -> None:
    joint = {"alice": {"x": 10}, "bob": {"y": 5}}
    assert conditional_lower_bound(joint, [2.0, 3.0]) == 0.0
    mixed = {"alice": {"x": 1, "y": 1}, "bob": {"x": 1, "y": 1}}
    assert conditional_lower_bound(mixed, [2.0, 3.0]) == pytest.approx(
        lower_bound({"x": 1, "y": 1}, [2.0, 3.0])
    )


instances = st.integers(min_value=2, max_value=5).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=n, max_size=n),
        st.lists(st.floats(min_value=0.5, max_value=3.0), min_size=n, max_size=n),
        st.integers(min_value=2, max_value=3),
    )
)


@settings(max_examples=40, deadline=None)
@given(instances)
def test_bound_never_exceeds_the_true_optimum(
    instance: tuple[list[float], list[float], int],
) -> None:
    weights, clips, k = instance
    leaves = [Service(f"s{i}", clip) for i, clip in enumerate(clips)]
    p = {leaf.id: w / sum(weights) for leaf, w in zip(leaves, weights)}
    params = CostParams()
    tree = flat_tree(leaves)
    bound = problem_bound(tree, p, params, Constraints(breadth=k))
    assert bound <= brute_force_cost(leaves, p, params, tree.header, k) + 1e-9
    result = optimize(tree, p, params, Constraints(breadth=k))
    assert result.bound == pytest.approx(bound)
    assert bound <= result.after.expected_time + 1e-9


@st.composite
def kept_instances(draw: st.DrawFn) -> tuple[MenuTree, dict[str, float], frozenset[str], int]:
    """A hand-written tree of 3-6 services with one or two of them fixed in place."""
    n = draw(st.integers(min_value=3, max_value=6))
    clips = draw(st.lists(st.sampled_from([0.8, 1.5, 2.5, 4.0]), min_size=n, max_size=n))
    weights = draw(st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=n, max_size=n))
    leaves = [Service(f"s{i}", clip) for i, clip in enumerate(clips)]
    tree = canonical_tree(leaves, draw(st.integers(min_value=2, max_value=3)), header=draw(st.sampled_from([0.5, 2.0])))
    fixed = frozenset(draw(st.lists(st.sampled_from([s.id for s in leaves]), min_size=1, max_size=2)))
    p = {leaf.id: w / sum(weights) for leaf, w in zip(leaves, weights)}
    return tree, p, fixed, draw(st.integers(min_value=2, max_value=3))


@settings(max_examples=60, deadline=None)
@given(kept_instances())
def test_bound_never_exceeds_the_best_tree_that_keeps_the_fixed_services(
    instance: tuple[MenuTree, dict[str, float], frozenset[str], int],
) -> None:
    tree, p, fixed, k = instance
    params = CostParams()
    constraints = Constraints(fixed=fixed, breadth=k)
    best = brute_force_kept_cost(tree, p, params, fixed, k)
    bound = problem_bound(tree, p, params, constraints)
    assert unconstrained_bound(tree, p, params, constraints) <= bound <= best + 1e-9
    if math.isinf(best):  # the fixed services leave a menu no room for the rest
        with pytest.raises(InfeasibleError):
            optimize(tree, p, params, constraints)
        return
    # the reference optimum is no worse than what the optimizer finds under the same constraints
    assert best <= optimize(tree, p, params, constraints).after.expected_time + 1e-9


def test_kept_reference_equals_the_free_reference_without_fixed_services() -> None:
    leaves = [Service(f"s{i}", clip) for i, clip in enumerate([1.0, 2.5, 1.5, 3.0, 2.0])]
    p = {leaf.id: w for leaf, w in zip(leaves, [0.4, 0.25, 0.15, 0.12, 0.08])}
    # topic menus as long as generated ones, so the two references charge submenus alike
    params = CostParams()
    tree = canonical_tree(leaves, 2, header=params.synthetic_header, prompt=params.group_prompt)
    assert brute_force_kept_cost(tree, p, params, frozenset(), 3) == pytest.approx(
        brute_force_cost(leaves, p, params, tree.header, 3)
    )


def test_kept_topics_that_fill_the_root_raise_the_bound() -> None:
    # The root keeps three topic menus (each holds a fixed service) on keys 1-3 of its four: the
    # popular free services can share only one position at the root, which H(p)/lambda ignores.
    fixed = [Service(f"fixed{i}", 2.0) for i in range(3)]
    free = [Service(f"s{i}", 1.5) for i in range(5)]
    topics = tuple(
        Option(str(i + 1), MenuTree(f"topic{i}", 1.0, (Option("1", f),), prompt=2.0)) for i, f in enumerate(fixed)
    )
    tree = MenuTree("root", 1.0, (*topics, Option("4", MenuTree("rest", 1.0, tuple(
        Option(str(i + 1), s) for i, s in enumerate(free)
    ), prompt=2.0))))
    p = {s.id: 0.01 for s in fixed} | {s.id: w for s, w in zip(free, [0.4, 0.25, 0.15, 0.1, 0.07])}
    constraints = Constraints(fixed=frozenset(f.id for f in fixed), breadth=4)
    params = CostParams()
    bound = problem_bound(tree, p, params, constraints)
    assert bound > 1.15 * unconstrained_bound(tree, p, params, constraints)
    assert bound <= brute_force_kept_cost(tree, p, params, constraints.fixed, 4) + 1e-9


def test_a_frozen_root_is_its_own_bound() -> None:
    leaves = [Service(f"s{i}", clip) for i, clip in enumerate([1.0, 2.0, 3.0])]
    tree = flat_tree(leaves)
    p = {"s0": 0.2, "s1": 0.3, "s2": 0.5}
    params = CostParams()
    frozen = Constraints(fixed=frozenset({"root"}))
    assert problem_bound(tree, p, params, frozen) == pytest.approx(optimize(tree, p, params, frozen).after.expected_time)
