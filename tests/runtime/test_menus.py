from __future__ import annotations

import datetime as dt

import pytest
from runtime_support import catalog, edit, hotline, replace_node, seconds, simulate

from ivr_engine.flow import model as m
from ivr_engine.runtime.events import Outcome

ROOT = ("root.header", "root.vaccination", "root.food", "root.complaint", "root.account")
VACC = ("vacc.header", "vacc.hours", "vacc.adult")


async def test_informed_caller_barges_in_after_the_option_it_wants() -> None:
    call = await simulate(hotline(), "1 2")
    assert call.result.path == ["root", "vacc", "vacc.adult"]
    assert call.heard == ["root.header", "root.vaccination", *VACC, "vacc.adult.info"]
    assert [(v.node_id, v.key) for v in call.result.visits] == [("root", "1"), ("vacc", "2"), ("vacc.adult", None)]
    assert call.result.outcome is Outcome.SERVED
    assert call.result.leaf == "vacc.adult"
    to_leaf = seconds("root.header", "root.vaccination", *VACC)
    assert call.result.seconds_to_leaf == pytest.approx(to_leaf)
    assert call.result.seconds == pytest.approx(to_leaf + seconds("vacc.adult.info"))
    assert call.result.keys == ("1", "2")


async def test_typeahead_skips_every_menu_whose_key_is_already_pressed() -> None:
    informed = await simulate(hotline(), "1 2")
    ahead = await simulate(hotline(), "1 2", typeahead=True)
    assert ahead.result.path == informed.result.path
    assert ahead.heard == ["vacc.adult.info"]
    assert ahead.result.seconds_to_leaf == 0
    assert ahead.result.seconds < informed.result.seconds


async def test_keys_typed_during_an_announcement_carry_into_the_next_menus() -> None:
    flow = hotline(m.Announcement(id="welcome", prompts=("welcome",), next="root"), start="welcome")
    ahead = await simulate(flow, "2", typeahead=True)
    assert ahead.result.path == ["welcome", "root", "food"]
    assert ahead.heard == ["food.info"]
    informed = await simulate(flow, "2")
    assert informed.heard == ["welcome", "root.header", "root.vaccination", "root.food", "food.info"]


async def test_timeout_plays_the_timeout_prompt_and_repeats_the_menu() -> None:
    call = await simulate(hotline(), "- 2")
    assert call.heard == [*ROOT, "common.timeout", "root.header", "root.vaccination", "root.food", "food.info"]
    assert call.result.visits[0].timeouts == 1
    assert call.result.visits[0].key == "2"
    expected = seconds(*ROOT) + 5.0 + seconds("common.timeout", "root.header", "root.vaccination", "root.food")
    assert call.result.seconds_to_leaf == pytest.approx(expected)


async def test_invalid_key_plays_the_invalid_prompt_and_repeats_the_menu() -> None:
    call = await simulate(hotline(), "8 2")
    assert call.heard[: len(ROOT) + 2] == [*ROOT, "common.invalid", "root.header"]
    root = call.result.visits[0]
    assert (root.invalid_keys, root.timeouts, root.key) == (1, 0, "2")
    assert call.result.path == ["root", "food"]


async def test_exhausted_retries_go_to_the_operator_and_count_as_zero_out() -> None:
    call = await simulate(hotline(), "")
    assert call.result.path == ["root", "agents"]
    assert call.result.visits[0].timeouts == 3  # the first play and two retries
    assert call.result.outcome is Outcome.ZEROED_OUT
    assert call.result.leaf is None
    assert [a["action"] for a in call.channel.actions] == ["queue", "hangup"]


async def test_exhausted_retries_go_to_on_exhausted_when_the_menu_names_it() -> None:
    flow = hotline(m.Hangup(id="bye", prompt="goodbye"))
    flow = replace_node(
        flow,
        m.Menu(
            id="vacc",
            prompt="vacc.header",
            retries=0,
            on_exhausted="bye",
            options=(m.MenuOption(key="1", target="vacc.hours", prompt="vacc.hours"),),
        ),
    )
    call = await simulate(flow, "1 5")
    assert call.result.path == ["root", "vacc", "bye"]
    assert call.result.visits[1].invalid_keys == 1
    assert call.result.outcome is not Outcome.ZEROED_OUT


async def test_operator_key_zeroes_out_from_any_menu() -> None:
    call = await simulate(hotline(), "1 0")
    assert [(v.node_id, v.key) for v in call.result.visits] == [("root", "1"), ("vacc", "0"), ("agents", None)]
    assert call.result.outcome is Outcome.ZEROED_OUT
    assert call.channel.actions[0] == {
        "at": pytest.approx(call.channel.actions[0]["at"]),
        "action": "queue",
        "queue": "general",
        "priority": 0,
        "skills": [],
    }


async def test_back_key_returns_to_the_previous_menu() -> None:
    call = await simulate(hotline(), "1 * 2")
    assert [(v.node_id, v.key) for v in call.result.visits] == [
        ("root", "1"),
        ("vacc", "*"),
        ("root", "2"),
        ("food", None),
    ]
    assert call.result.leaf == "food"


async def test_back_at_the_root_and_repeat_replay_the_menu_without_counting_a_failure() -> None:
    for key in ("*", "#"):
        call = await simulate(hotline(), f"{key} 2")
        assert call.heard == [*ROOT, "root.header", "root.vaccination", "root.food", "food.info"]
        root = call.result.visits[0]
        assert (root.invalid_keys, root.timeouts, root.key) == (0, 0, "2")


async def test_global_keys_follow_the_flow_bindings() -> None:
    flow = hotline(keys=m.KeyBindings(operator="9", back=None, repeat=None))
    assert (await simulate(flow, "9")).result.outcome is Outcome.ZEROED_OUT
    zero = await simulate(flow, "0 2")
    assert zero.result.visits[0].invalid_keys == 1
    assert zero.result.path == ["root", "food"]


async def test_changed_notice_is_played_once_per_call_before_the_menu() -> None:
    flow = hotline()
    flow = edit(flow, "root", changed_notice="welcome")
    call = await simulate(flow, "# 2")
    assert call.heard.count("welcome") == 1
    assert call.heard[0] == "welcome"
    assert call.heard.count("root.header") == 2


async def test_changed_notice_ends_on_its_day_in_the_flows_time_zone() -> None:
    shanghai = hotline(timezone="Asia/Shanghai")  # AT is 10:00 on 2026-11-23 there, 02:00 UTC
    for until, plays in (("2026-11-24", True), ("2026-11-23", False)):
        flow = edit(shanghai, "root", changed_notice="welcome", changed_notice_until=dt.date.fromisoformat(until))
        assert ("welcome" in (await simulate(flow, "2")).heard) is plays, until
    ended = edit(shanghai, "root", changed_notice="welcome", changed_notice_until=dt.date(2026, 11, 23))
    shanghai_past_midnight = dt.datetime(2026, 11, 22, 16, 30, tzinfo=dt.UTC)  # still the 22nd in UTC
    assert "welcome" not in (await simulate(ended, "2", at=shanghai_past_midnight)).heard


async def test_a_language_the_flow_does_not_speak_falls_back_to_the_default_language() -> None:
    call = await simulate(hotline(), "2", language="fr")
    assert call.result.language == "en"
    assert call.heard[-1] == "food.info"


async def test_a_prompt_missing_in_the_callers_language_is_played_in_the_default_language() -> None:
    flow = hotline(m.Announcement(id="only.en", prompts=("bookmark.added",)))
    flow = replace_node(
        flow,
        m.Menu(
            id="root",
            prompt="root.header",
            options=(m.MenuOption(key="1", target="only.en", prompt="root.vaccination"),),
        ),
    )
    texts = catalog()
    del texts.texts["bookmark.added"]["zh-CN"]
    call = await simulate(flow, "1", language="zh-CN", prompts_override=texts)
    assert [(h.prompt_id, h.language) for h in call.channel.heard][-1] == ("bookmark.added", "en")
