from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optimizer_brute import brute_force_cost, flat_tree

from ivr_engine.optimizer import (
    BoundError,
    Constraints,
    CostParams,
    Service,
    conditional_lower_bound,
    lower_bound,
    optimize,
    position_costs,
    problem_bound,
    solve_lambda,
)


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
