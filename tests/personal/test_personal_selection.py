"""Which shortcuts a caller is offered: break-even, bookmarks, order, limits."""

from __future__ import annotations

import pytest

from ivr_engine.personal.selection import (
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
