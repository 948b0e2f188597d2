"""End to end through the real runtime on the console channel: the hotline, its prompts, and
personal menus learning from the calls as they end."""

from __future__ import annotations

from pathlib import Path

from personal_support import CALLER, Clock, console_call, hotline, personal_menus

ADULT_FLU = "2 2 2 1"  # English, vaccination, adult vaccines, seasonal influenza


async def test_a_repeat_caller_gets_there_with_fewer_keys_and_seconds(tmp_path: Path) -> None:
    clock = Clock()
    menus = personal_menus(clock)
    calls = [
        await console_call(ADULT_FLU, personalizer=menus, observer=menus, at=clock.advance(3), tmp=tmp_path)
        for _ in range(2)
    ]
    first = calls[0]
    assert first.result.leaf == "vax.adults.flu"
    assert not first.result.personalized and "personal.greeting" not in first.prompts

    repeat = await console_call("2 6", personalizer=menus, observer=menus, at=clock.advance(3), tmp=tmp_path)
    assert repeat.result.personalized
    assert repeat.result.leaf == "vax.adults.flu"
    leaf = next(v for v in repeat.result.visits if v.node_id == "vax.adults.flu")
    assert leaf.via_shortcut
    assert repeat.prompts[repeat.prompts.index("personal.greeting") + 1] == "shortcut.vax.adults.flu.6"
    assert len(repeat.menu_keys) < len(first.menu_keys)
    assert repeat.result.seconds_to_leaf is not None and first.result.seconds_to_leaf is not None
    assert repeat.result.seconds_to_leaf < first.result.seconds_to_leaf


async def test_a_new_caller_gets_the_canonical_menu_and_canonical_keys_still_work(tmp_path: Path) -> None:
    clock = Clock()
    menus = personal_menus(clock)
    for _ in range(2):
        await console_call(ADULT_FLU, personalizer=menus, observer=menus, at=clock.advance(3), tmp=tmp_path)

    new = await console_call(
        ADULT_FLU, personalizer=menus, observer=menus, caller="13911112222", at=clock.advance(1), tmp=tmp_path
    )
    assert not new.result.personalized
    assert not any(p.startswith(("personal.", "shortcut.")) for p in new.prompts)

    canonical = await console_call("2 3 3 2", personalizer=menus, observer=menus, at=clock.advance(1), tmp=tmp_path)
    assert canonical.result.personalized  # offered the shortcut, took the canonical path to food safety
    assert canonical.result.path[:5] == ["welcome", "language.menu", "language.en", "main", "outbreak"]
    assert canonical.result.leaf == "food.home"
    assert not any(v.via_shortcut for v in canonical.result.visits)


async def test_the_bookmark_key_again_while_the_service_replays_undoes_the_bookmark(tmp_path: Path) -> None:
    # A caller who bookmarked by mistake hears the confirmation, then the service again, and
    # presses ** once more; a key pressed then belongs to the call as any other does.
    menus = personal_menus(Clock())
    call = await console_call("2 1 1 1 ** **", personalizer=menus, observer=menus, tmp=tmp_path)
    assert call.prompts.count("bookmark.added") == 2
    offer = menus.offer(CALLER, hotline())
    assert offer is not None  # the call itself counts: predicted, but bookmarked and removed again
    assert [(c.service, c.bookmarked) for c in offer.reasons] == [("flu.symptoms", False)]
    survey = next(v for v in call.result.visits if v.node_id == "survey")
    assert survey.invalid_keys == 0  # no stray * reached the next node


async def test_the_answer_of_a_lookup_bookmarks_the_service_that_asked_for_it(tmp_path: Path) -> None:
    # "Check my vaccination appointment": an ID number read (digits, so no ** there), looked up,
    # the answer announced. At the answer the caller is at the service they chose from the menu.
    menus = personal_menus(Clock())
    call = await console_call("2 2 3 110101199003077777 **", personalizer=menus, observer=menus, tmp=tmp_path)
    assert "vax.appointment.lookup" in call.result.path and "bookmark.added" in call.prompts
    offer = menus.offer(CALLER, hotline())
    assert offer is not None and [(c.service, c.bookmarked) for c in offer.reasons] == [("vax.appointment", True)]
