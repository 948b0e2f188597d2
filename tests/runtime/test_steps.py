from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from runtime_support import edit, hotline, replace_node, seconds, simulate

from ivr_engine.flow import model as m
from ivr_engine.runtime.events import Outcome

# --- collect -----------------------------------------------------------------------------------


async def test_collect_stores_a_valid_entry_and_pushes_it_to_the_channel() -> None:
    call = await simulate(hotline(), "4 123456")
    assert call.result.path == ["root", "case", "case.found"]
    assert call.result.variables == {"case_number": "123456"}
    assert call.channel.channel_variables == {"case_number": "123456"}
    assert call.result.leaf == "case"


async def test_collect_uses_keys_typed_ahead() -> None:
    call = await simulate(hotline(), "4 123456", typeahead=True)
    assert call.result.variables == {"case_number": "123456"}
    assert call.heard == ["account.found"]


async def test_collect_terminator_ends_a_short_entry_which_is_rejected_then_retried() -> None:
    call = await simulate(hotline(), "4 123# 654321")
    case = call.result.visits[1]
    assert (case.node_id, case.invalid_keys, case.timeouts) == ("case", 1, 0)
    assert call.heard[-3:] == ["account.invalid", "account.prompt", "account.found"]
    assert call.result.variables["case_number"] == "654321"


async def test_collect_pattern_must_match_the_whole_entry() -> None:
    call = await simulate(hotline(), "4 012345 - - -")
    assert "case_number" not in call.result.variables
    assert call.result.visits[1].invalid_keys == 1
    assert call.result.visits[1].timeouts == 2


async def test_collect_failures_go_to_on_failure() -> None:
    call = await simulate(hotline(), "4 1# 2# 3#")
    assert call.result.path == ["root", "case", "agents"]
    assert call.result.visits[1].invalid_keys == 3
    assert call.result.outcome is Outcome.QUEUED


async def test_collect_inter_digit_timeout_ends_an_entry() -> None:
    flow = edit(hotline(), "case", retries=0)
    call = await simulate(flow, "4 12 -")
    assert call.result.path == ["root", "case", "agents"]
    prompt_end = seconds(*("root.header", "root.vaccination", "root.food", "root.complaint", "root.account"))
    prompt_end += seconds("account.prompt")
    queue = next(a for a in call.channel.actions if a["action"] == "queue")
    assert queue["at"] == pytest.approx(prompt_end + 3.0 + seconds("agents.prompt"))


async def test_collect_stops_reading_at_max_length() -> None:
    call = await simulate(hotline(), "4 1234567", typeahead=True)
    assert call.result.variables["case_number"] == "123456"


# --- set, goto, language, hangup ---------------------------------------------------------------


async def test_set_substitutes_variables_and_sanitises_what_reaches_the_channel() -> None:
    flow = hotline(
        m.Set(
            id="mark",
            variables=(("route", "vip-${tier}"), ("note.text", "a,b\nc${missing}"), ("9lives", "x")),
            next="food",
        ),
        start="mark",
    )
    call = await simulate(flow, variables={"tier": "gold"})
    assert call.result.variables == {"route": "vip-gold", "note.text": "a,b\nc", "9lives": "x"}
    assert call.channel.channel_variables == {"route": "vip-gold", "note_text": "a_b_c", "_9lives": "x"}


async def test_goto_and_hangup() -> None:
    flow = hotline(m.Goto(id="jump", target="bye"), m.Hangup(id="bye", prompt="goodbye"), start="jump")
    call = await simulate(flow)
    assert call.result.path == ["jump", "bye"]
    assert call.heard == ["goodbye"]
    assert call.channel.actions[-1]["action"] == "hangup"
    assert call.result.outcome is Outcome.SERVED  # no menu on the way: the flow said what it had


async def test_language_switch_changes_prompts_and_the_channel_language() -> None:
    flow = hotline(m.Language(id="zh", language="zh-CN", next="root"), start="zh")
    call = await simulate(flow, "2")
    assert call.channel.language == "zh-CN"
    assert {h.language for h in call.channel.heard} == {"zh-CN"}
    assert call.heard[-1] == "food.info"
    assert call.result.language == "zh-CN"


# --- conditions --------------------------------------------------------------------------------

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def routed() -> m.Flow:
    def to(target: str, **when: object) -> m.Branch:
        return m.Branch(when=m.When(**when), target=target)  # type: ignore[arg-type]

    branches = (
        to("closed", holiday="national"),
        to("vip", tier=("vip",)),
        to("zh", language=("zh-CN",)),
        to("special", variables=(("case", r"9\d+"),)),
        to("night", time=(m.TimeRange(start=dt.time(22), end=dt.time(6)),)),
        to("root", weekdays=(0, 1, 2, 3, 4), time=(m.TimeRange(start=dt.time(8), end=dt.time(17)),)),
    )
    leaves = [m.Announcement(id=name, prompts=("goodbye",)) for name in ("closed", "vip", "zh", "special", "night")]
    return hotline(
        m.Condition(id="route", branches=branches, default="closed"),
        *leaves,
        start="route",
        timezone="Asia/Shanghai",
        holidays={"national": frozenset({dt.date(2026, 10, 1)})},
    )


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (dt.datetime(2026, 11, 23, 10, 0), "root"),  # Monday in office hours
        (dt.datetime(2026, 11, 23, 17, 0), "closed"),  # the end of a range is exclusive
        (dt.datetime(2026, 11, 28, 10, 0), "closed"),  # Saturday
        (dt.datetime(2026, 10, 1, 10, 0), "closed"),  # a Thursday, but a holiday
        (dt.datetime(2026, 11, 23, 23, 30), "night"),  # a range past midnight
        (dt.datetime(2026, 11, 24, 5, 59), "night"),
    ],
)
async def test_condition_by_time_weekday_and_holiday_in_the_flows_timezone(local: dt.datetime, expected: str) -> None:
    call = await simulate(routed(), "-", at=local.replace(tzinfo=SHANGHAI).astimezone(dt.UTC))
    assert call.result.path[:2] == ["route", expected]


async def test_condition_by_tier_from_the_dialplan_or_a_call_variable() -> None:
    assert (await simulate(routed(), variables={"tier": "VIP"})).result.path[1] == "vip"
    flow = hotline(*routed().nodes.values(), m.Set(id="tag", variables=(("tier", "vip"),), next="route"), start="tag")
    flow = dataclasses.replace(flow, timezone="Asia/Shanghai", holidays=routed().holidays)
    assert (await simulate(flow)).result.path[:3] == ["tag", "route", "vip"]


async def test_condition_by_language_and_by_variable_pattern() -> None:
    assert (await simulate(routed(), language="zh-CN")).result.path[1] == "zh"
    assert (await simulate(routed(), variables={"case": "9123"})).result.path[1] == "special"
    assert (await simulate(routed(), "-", variables={"case": "19123"})).result.path[1] == "root"


# --- survey ------------------------------------------------------------------------------------


def surveyed() -> m.Flow:
    flow = hotline(
        m.Survey(id="survey", prompt="survey.prompt", thanks_prompt="survey.thanks", scale=5, next="bye"),
        m.Hangup(id="bye", prompt="goodbye"),
    )
    return replace_node(flow, m.Announcement(id="food", prompts=("food.info",), next="survey"))


async def test_survey_stores_a_score_and_thanks_the_caller() -> None:
    call = await simulate(surveyed(), "2 4")
    assert call.result.path == ["root", "food", "survey", "bye"]
    assert call.result.variables == {"satisfaction": "4"}
    assert call.result.visits[2].key == "4"
    assert call.heard[-3:] == ["survey.prompt", "survey.thanks", "goodbye"]
    assert call.result.leaf == "food"


async def test_survey_asks_again_after_a_key_outside_the_scale() -> None:
    call = await simulate(surveyed(), "2 9 3")
    assert call.result.variables == {"satisfaction": "3"}
    assert call.result.visits[2].invalid_keys == 1
    skipped = await simulate(surveyed(), "2 - -")
    assert "satisfaction" not in skipped.result.variables
    assert skipped.result.visits[2].timeouts == 2
    assert skipped.result.path[-1] == "bye"
