from __future__ import annotations

import pytest

from ivr_engine.optimizer import (
    CostParams,
    MenuTree,
    Option,
    Service,
    TreeError,
    evaluate,
)

PARAMS = CostParams(reaction=1.0, keypress=0.3, system_delay=0.7, option_gap=0.5)


def tiny_tree() -> MenuTree:
    inner = MenuTree(
        "m",
        0.5,
        (Option("1", Service("B", 1.0)), Option("2", Service("C", 3.0))),
        prompt=1.5,
    )
    return MenuTree("root", 1.0, (Option("1", Service("A", 2.0)), Option("2", inner)))


def test_times_by_hand() -> None:
    # a = 2.0 overhead + header; each heard clip adds its seconds + 0.5 pause
    # A: 2 + 1 + 2.5 = 5.5
    # to m: 2 + 1 + 2.5 + 2.0 = 7.5; inside m: 2 + 0.5 = 2.5; B: +1.5 -> 11.5; C: +1.5 +3.5 -> 15.0
    metrics = evaluate(tiny_tree(), {"A": 0.5, "B": 0.3, "C": 0.2}, PARAMS)
    assert metrics.leaf_time == pytest.approx({"A": 5.5, "B": 11.5, "C": 15.0})
    assert metrics.expected_time == pytest.approx(0.5 * 5.5 + 0.3 * 11.5 + 0.2 * 15.0)
    assert metrics.p95_time == pytest.approx(15.0)
    assert metrics.expected_keypresses == pytest.approx(1.5)
    assert metrics.within_two_levels == pytest.approx(1.0)
    assert dict(metrics.leaf_depth) == {"A": 1, "B": 2, "C": 2}
    # whole root: 3 + 2.5 + 2.0 = 7.5; whole m: 2.5 + 1.5 + 3.5 = 7.5
    assert metrics.expected_time_full_listen == pytest.approx(0.5 * 7.5 + 0.5 * 15.0)


def test_counts_are_normalised_and_missing_leaves_count_zero() -> None:
    by_counts = evaluate(tiny_tree(), {"A": 50, "B": 30, "C": 20}, PARAMS)
    assert by_counts.expected_time == pytest.approx(0.5 * 5.5 + 0.3 * 11.5 + 0.2 * 15.0)
    only_a = evaluate(tiny_tree(), {"A": 7}, PARAMS)
    assert only_a.expected_time == pytest.approx(5.5)
    assert only_a.p95_time == pytest.approx(5.5)


def test_p95_is_the_weighted_quantile() -> None:
    metrics = evaluate(tiny_tree(), {"A": 0.96, "B": 0.02, "C": 0.02}, PARAMS)
    assert metrics.p95_time == pytest.approx(5.5)
    metrics = evaluate(tiny_tree(), {"A": 0.90, "B": 0.04, "C": 0.06}, PARAMS)
    assert metrics.p95_time == pytest.approx(15.0)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"Z": 1.0}, "'Z' is not a service"),
        ({"A": -1.0}, "must be finite and >= 0"),
        ({"A": float("nan")}, "must be finite and >= 0"),
        ({"A": 0.0}, "all weights are zero"),
    ],
)
def test_bad_probabilities_are_named(weights: dict[str, float], message: str) -> None:
    with pytest.raises(TreeError, match=message):
        evaluate(tiny_tree(), weights, PARAMS)


def test_bad_tree_values_are_named() -> None:
    with pytest.raises(TreeError, match="key must be one digit 1-9"):
        Option("0", Service("A", 1.0))
    with pytest.raises(TreeError, match="uses a key twice"):
        MenuTree(
            "m", 0.0, (Option("1", Service("A", 1.0)), Option("1", Service("B", 1.0)))
        )
    with pytest.raises(TreeError, match="prompt must be a finite number"):
        Service("A", -1.0)
    with pytest.raises(TreeError, match="option_gap"):
        CostParams(option_gap=float("inf"))
