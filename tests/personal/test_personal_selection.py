"""Which shortcuts a caller is offered: break-even, bookmarks, order, limits."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr_engine.personal.selection import (
    POOL,
    Candidate,
    Timing,
    break_even,
    choose,
    expected_change,
    hit_seconds,
)

TIMING = Timing(level=2.0, greeting=1.5)


def candidate(service: str, q: float, canonical: float = 20.0, clip: float = 3.0, bookmarked: bool = False) -> Candidate:
    return Candidate(service, q, canonical, clip, bookmarked)


def test_break_even_is_greeting_and_clip_over_the_time_saved() -> None:
    c = candidate("flu", 0.5, canonical=20.0, clip=3.0)
    assert break_even(c, TIMING) == pytest.approx((1.5 + 3.0) / (20.0 - 2.0))


@pytest.mark.parametrize("margin, offered", [(-0.01, False), (0.01, True)])
def test_a_prediction_is_offered_exactly_past_break_even(margin: float, offered: bool) -> None:
    q = break_even(candidate("flu", 0.0), TIMING) + margin
    assert bool(choose([candidate("flu", q)], TIMING, limit=3)) is offered


def test_the_break_even_expected_change_is_zero() -> None:
    c = candidate("flu", break_even(candidate("flu", 0.0), TIMING))
    assert expected_change([c], TIMING) == pytest.approx(0.0, abs=1e-12)


def test_a_service_already_fast_canonically_is_never_worth_a_shortcut() -> None:
    quick = candidate("crisis", 0.99, canonical=TIMING.level + 1.0)
    assert choose([quick], TIMING, limit=3) == []


def test_bookmarks_are_offered_even_below_break_even() -> None:
    rare = candidate("policy", 0.01, bookmarked=True)
    assert choose([rare], TIMING, limit=3) == [rare]


def test_best_first_and_at_most_the_limit() -> None:
    cands = [candidate(s, q) for s, q in [("a", 0.2), ("b", 0.45), ("c", 0.3), ("d", 0.25)]]
    chosen = choose(cands, TIMING, limit=2)
    assert [c.service for c in chosen] == ["b", "c"]
    assert choose(cands, TIMING, limit=0) == []


def test_a_second_prediction_must_still_lower_the_expected_time() -> None:
    strong, weak = candidate("a", 0.6), candidate("b", 0.12)
    # alone, b would pass break-even (0.25 x 0.12 ...) only if it saves more than it costs the others
    alone = expected_change([strong], TIMING)
    both = expected_change([strong, weak], TIMING)
    chosen = choose([strong, weak], TIMING, limit=3)
    assert chosen == ([strong, weak] if both < alone else [strong])


def test_bookmarks_fill_the_slots_before_predictions() -> None:
    marks = [candidate(s, 0.01, bookmarked=True) for s in "xyz"]
    chosen = choose([candidate("hot", 0.9), *marks], TIMING, limit=3)
    assert {c.service for c in chosen} == set("xyz")


def test_hit_time_counts_the_clips_up_to_the_callers_own() -> None:
    shortcuts = [candidate("a", 0.5, clip=3.0), candidate("b", 0.3, clip=4.0)]
    assert hit_seconds(shortcuts, 1, TIMING) == pytest.approx(2.0 + 1.5 + 3.0 + 4.0)


def test_a_prediction_not_worth_it_alone_is_offered_when_it_pays_beside_another() -> None:
    # food alone costs the others more than it saves (its canonical path is short), but behind the
    # greeting that vaccine's shortcut already costs, its own clip is all it adds
    vaccine = candidate("vaccine", 0.27, canonical=24.0, clip=3.8)
    food = candidate("food", 0.29, canonical=13.6, clip=3.2)
    assert expected_change([food], TIMING) > 0 > expected_change([vaccine], TIMING)
    chosen = choose([vaccine, food], TIMING, limit=3)
    assert chosen == [food, vaccine]
    assert expected_change(chosen, TIMING) < expected_change([vaccine], TIMING)


def test_a_shorter_clip_goes_first_when_it_saves_more_per_second() -> None:
    long = candidate("maternity", 0.30, canonical=30.0, clip=5.0)
    short = candidate("flu", 0.25, canonical=30.0, clip=2.0)
    chosen = choose([long, short], TIMING, limit=3)
    assert chosen == [short, long]
    assert expected_change([short, long], TIMING) < expected_change([long, short], TIMING)


@st.composite
def callers(draw: st.DrawFn) -> list[Candidate]:
    count = draw(st.integers(1, POOL))
    weights = draw(st.lists(st.floats(0.01, 1.0), min_size=count + 1, max_size=count + 1))
    total = sum(weights)  # the last weight is the caller's calls for services with no candidate
    return [
        Candidate(
            f"s{i}",
            weights[i] / total,
            draw(st.floats(3.0, 40.0)),
            draw(st.floats(1.0, 5.0)),
            draw(st.booleans()) and draw(st.booleans()),
        )
        for i in range(count)
    ]


@settings(max_examples=300, deadline=None)
@given(callers(), st.integers(1, 3))
def test_choose_finds_the_quickest_list_of_all(cands: list[Candidate], limit: int) -> None:
    """Against every subset in every order that keeps the bookmarks (or the most likely of them)."""
    marks = sorted((c for c in cands if c.bookmarked), key=lambda c: (-c.q, c.service))[:limit]
    others = [c for c in cands if not c.bookmarked]
    best = math.inf
    for size in range(limit - len(marks) + 1):
        for extra in itertools.combinations(others, size):
            for order in itertools.permutations([*marks, *extra]):
                best = min(best, expected_change(list(order), TIMING))
    chosen = choose(cands, TIMING, limit)
    assert len(chosen) <= limit and set(marks) <= set(chosen)
    assert expected_change(chosen, TIMING) == pytest.approx(best, abs=1e-9)
