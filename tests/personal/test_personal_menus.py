"""PersonalMenus on the real hotline: evidence, break-even, keys, bookmarks, incremental updates."""

from __future__ import annotations

import dataclasses

import pytest
import structlog
from personal_support import CALLER, Clock, hotline, keyer, personal_menus, prompts, served

from ivr_engine.flow import model as m
from ivr_engine.optimizer import CostParams, leaf_times
from ivr_engine.optimizer.flow_adapter import menu_tree_from_flow
from ivr_engine.personal.layout import prompt_seconds
from ivr_engine.personal.menus import PersonalMenus, PersonalParams
from ivr_engine.personal.selection import Timing, break_even, hit_seconds, overhead
from ivr_engine.prompts.catalog import PromptCatalog
from ivr_engine.prompts.manifest import BuiltLanguages, Manifest, ManifestEntry
from ivr_engine.runtime.prompt_source import CatalogPrompts


def targets(menus, caller: str = CALLER) -> list[str]:  # type: ignore[no-untyped-def]
    root = menus.root_for(caller, hotline())
    return [s.target for s in root.shortcuts] if root else []


def test_a_new_caller_and_a_withheld_number_get_the_canonical_menu() -> None:
    menus = personal_menus(Clock())
    assert menus.root_for(CALLER, hotline()) is None
    assert menus.root_for(None, hotline()) is None
    assert menus.root_for("", hotline()) is None


def test_one_call_is_evidence_by_default_and_the_update_is_immediate() -> None:
    clock = Clock()
    menus = personal_menus(clock)
    served(menus, "vax.adults.flu", clock.advance(1))
    root = menus.root_for(CALLER, hotline())
    assert root is not None
    assert root.before == "main" and root.greeting == "personal.greeting"
    assert [(s.key, s.target, s.prompt) for s in root.shortcuts] == [
        ("6", "vax.adults.flu", "shortcut.vax.adults.flu.6")
    ]


def test_the_min_calls_rule_is_a_parameter() -> None:
    clock = Clock()
    menus = personal_menus(clock, PersonalParams(min_calls=2))
    served(menus, "tb.clinics", clock.advance(1))
    assert targets(menus) == []
    served(menus, "tb.clinics", clock.advance(1))
    assert targets(menus) == ["tb.clinics"]


def test_calls_recorded_behind_a_condition_count_for_the_option_that_leads_there() -> None:
    clock = Clock()
    menus = personal_menus(clock)
    served(menus, "queue.vaccination", clock.advance(1))  # office hours
    served(menus, "closed.vaccination", clock.advance(1))  # after hours: the same service
    assert targets(menus) == ["vax.agent"]


async def test_only_services_past_break_even_are_predicted() -> None:
    clock = Clock()
    menus = personal_menus(clock)
    others = ["food.home", "flu.vaccine", "mch.checkups", "tb.symptoms"]
    for n in range(40):  # everybody else: the popularity a single caller's q is shrunk towards
        served(menus, others[n % len(others)], clock.at, caller=f"1390000{n:04d}")
    for _ in range(2):
        served(menus, "hiv.testing", clock.advance(1))
    layout = menus.layout(hotline())
    timing = Timing(layout.level, layout.greeting_seconds)
    offer = menus.offer(CALLER, hotline())
    assert offer is not None and offer.reasons[0].q > break_even(offer.reasons[0], timing)
    clock.advance(120)  # four half-lives without a call: the habit no longer pays for its clip
    assert menus.offer(CALLER, hotline()) is None
    # bookmarked, it is offered whatever its q, which shows why it was not predicted
    await menus.bookmark(CALLER, hotline(), "hiv.testing")
    offer = menus.offer(CALLER, hotline())
    assert offer is not None
    (hiv,) = offer.reasons
    assert hiv.bookmarked and 0 < hiv.q < break_even(hiv, timing)


def test_a_second_prediction_is_added_when_it_lowers_the_expected_time() -> None:
    clock = Clock()
    menus = personal_menus(clock)
    for leaf in ["hiv.testing"] * 2 + ["food.labels"] * 3:
        served(menus, leaf, clock.advance(1))
    assert targets(menus) == ["food.labels", "hiv.testing"]


def test_old_habits_fade_with_the_half_life() -> None:
    clock = Clock()
    menus = personal_menus(clock)
    for _ in range(3):
        served(menus, "mch.prenatal", clock.advance(1))
    assert targets(menus) == ["mch.prenatal"]
    for _ in range(2):
        served(menus, "mch.newborn", clock.advance(200))  # the baby is born
    assert targets(menus)[0] == "mch.newborn"


async def test_a_bookmark_is_offered_at_once_and_pressing_it_again_removes_it() -> None:
    clock = Clock()
    menus = personal_menus(clock)
    await menus.bookmark(CALLER, hotline(), "policy.tobacco")
    assert targets(menus) == ["policy.tobacco"]  # no calls at all: bookmarks need no evidence
    await menus.bookmark(CALLER, hotline(), "policy.tobacco")
    assert menus.root_for(CALLER, hotline()) is None


async def test_a_bookmark_behind_a_condition_bookmarks_the_option_that_leads_there() -> None:
    menus = personal_menus(Clock())
    await menus.bookmark(CALLER, hotline(), "closed.complaints")
    assert targets(menus) == ["feedback.progress"]


async def test_shortcut_keys_never_clash_with_the_main_menu_or_global_keys() -> None:
    clock = Clock()
    menus = personal_menus(clock)
    for leaf in ("policy.tobacco", "hiv.pep", "food.home", "tb.symptoms"):
        await menus.bookmark(CALLER, hotline(), leaf)
    root = menus.root_for(CALLER, hotline())
    assert root is not None
    main = hotline().nodes["main"]
    assert isinstance(main, m.Menu)
    taken = {o.key for o in main.options} | {"0", "*", "#", "9"}
    keys = [s.key for s in root.shortcuts]
    assert keys == ["6", "7", "8"]  # at most three, on the free digits
    assert not taken & set(keys)


async def test_a_main_menu_without_free_digits_offers_no_shortcut() -> None:
    flow = hotline()
    main = flow.nodes["main"]
    assert isinstance(main, m.Menu)
    extra = tuple(m.MenuOption(key=k, target="survey", prompt="opt.feedback.4") for k in "678")
    full = dataclasses.replace(flow, nodes={**flow.nodes, "main": dataclasses.replace(main, options=main.options + extra)})
    menus = personal_menus(Clock(), flow=full)
    await menus.bookmark(CALLER, full, "policy.tobacco")
    assert menus.root_for(CALLER, full) is None


def test_a_reloaded_flow_keeps_every_callers_history() -> None:
    clock = Clock()
    menus = personal_menus(clock)
    for _ in range(2):
        served(menus, "food.home", clock.advance(1))
    reloaded = dataclasses.replace(hotline(), version="2026.12")
    root = menus.root_for(CALLER, reloaded)
    assert root is not None and [s.target for s in root.shortcuts] == ["food.home"]


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        PersonalParams(half_life_days=0)


def test_the_selection_arithmetic_is_the_cost_model_of_the_personal_tree() -> None:
    clock = Clock()
    menus = personal_menus(clock)
    for leaf in ["hiv.testing"] * 2 + ["food.labels"] * 3:
        served(menus, leaf, clock.advance(1))
    offer = menus.offer(CALLER, hotline())
    assert offer is not None and len(offer.reasons) == 2
    layout = menus.layout(hotline())
    timing = Timing(layout.level, layout.greeting_seconds)
    flow_tree = menu_tree_from_flow(hotline(), "main", prompt_seconds(prompts(), hotline().default_language))
    canonical, _, _ = leaf_times(flow_tree.tree, CostParams())
    personal, _, depth = leaf_times(layout.personal_tree(flow_tree.tree, offer.root), CostParams())
    for j, reason in enumerate(offer.reasons):
        assert personal[f"shortcut:{reason.service}"] == pytest.approx(hit_seconds(offer.reasons, j, timing), abs=0.2)
        assert depth[f"shortcut:{reason.service}"] == 1
        assert reason.canonical == pytest.approx(canonical[reason.service])
    extra = overhead(offer.reasons, timing)
    assert personal["flu.vaccine"] == pytest.approx(canonical["flu.vaccine"] + extra, abs=0.2)


async def test_a_bookmark_where_no_option_leads_changes_nothing() -> None:
    menus = personal_menus(Clock())
    with pytest.raises(LookupError):
        await menus.bookmark(CALLER, hotline(), "voicemail.general")  # after a queue gave up
    assert menus.root_for(CALLER, hotline()) is None


def without_english(*prefixes: str) -> CatalogPrompts:
    """The real prompts, less the English texts of the prompts named by these prefixes."""
    catalog = prompts().catalog
    texts = {
        prompt_id: {lang: text for lang, text in by_lang.items() if lang != "en" or not prompt_id.startswith(prefixes)}
        for prompt_id, by_lang in catalog.texts.items()
    }
    return CatalogPrompts(PromptCatalog(texts=texts), prompts().durations)


def test_a_personal_prompt_missing_in_one_language_is_not_played_in_another() -> None:
    # The personal root is chosen as the call starts, before the caller picks 普通话 or English, so
    # an English caller would hear the Mandarin sentence in its place.
    clock = Clock()
    menus = PersonalMenus(key_of=keyer().key, clock=clock)
    menus.add_flow(hotline(), without_english("shortcut.flu.symptoms.", "personal.greeting"))
    served(menus, "flu.symptoms", clock.advance(1))
    served(menus, "food.home", clock.advance(1))
    root = menus.root_for(CALLER, hotline())
    assert root is not None
    assert [s.target for s in root.shortcuts] == ["food.home"]
    assert root.greeting is None


def test_a_personal_prompt_whose_audio_is_not_built_is_not_offered() -> None:
    # Asterisk skips a sound file that does not exist in silence: the caller would hear "welcome
    # back", then nothing where "for influenza symptoms press 6" should be.
    def served_twice(source: CatalogPrompts) -> list[str]:
        clock = Clock()
        menus = PersonalMenus(key_of=keyer().key, clock=clock)
        menus.add_flow(hotline(), source)
        served(menus, "flu.symptoms", clock.advance(1))
        served(menus, "food.home", clock.advance(1))
        root = menus.root_for(CALLER, hotline())
        return [s.target for s in root.shortcuts] if root else []

    def en_audio(entry: ManifestEntry) -> bool:
        return entry.language == "en" and entry.prompt_id.startswith("shortcut.flu.symptoms.")

    complete = prompts().durations
    assert isinstance(complete, Manifest)
    unbuilt = Manifest([entry for entry in complete if not en_audio(entry)])
    with structlog.testing.capture_logs() as logs:
        assert served_twice(CatalogPrompts(prompts().catalog, unbuilt, BuiltLanguages.of(unbuilt))) == ["food.home"]
    (warning,) = [log for log in logs if log["event"] == "personal.prompts_without_audio"]
    assert {p for p in warning["prompts"] if p.startswith("shortcut.flu.symptoms.")} == {
        f"shortcut.flu.symptoms.{key}" for key in "678"
    }
    built = CatalogPrompts(prompts().catalog, complete, BuiltLanguages.of(complete))
    assert sorted(served_twice(built)) == ["flu.symptoms", "food.home"]
    # in a language with no audio at all (a development setup) nothing is expected to be built
    no_audio = Manifest([entry for entry in complete if entry.language != "en"])
    assert sorted(served_twice(CatalogPrompts(prompts().catalog, no_audio, BuiltLanguages.of(no_audio)))) == [
        "flu.symptoms",
        "food.home",
    ]


async def test_without_prior_calls_a_caller_with_bookmarks_only_still_gets_them() -> None:
    # prior_calls=0 trusts the caller's own calls alone; one who has none (a bookmark, or calls
    # decayed to nothing) has no q to give, not a division by zero.
    clock = Clock()
    menus = personal_menus(clock, PersonalParams(prior_calls=0, half_life_days=0.001))
    await menus.bookmark(CALLER, hotline(), "policy.tobacco")
    assert targets(menus) == ["policy.tobacco"]
    served(menus, "food.home", clock.advance(0))
    clock.advance(400)  # the call decays to 0.0
    assert targets(menus) == ["policy.tobacco"]


async def test_a_call_still_on_an_old_version_does_not_take_the_flow_back_to_it() -> None:
    # Reloaded three times during one long call (ops saving their edits), the call's version is
    # no longer kept; its bookmark lays it out again, but the flow in service stays the newest.
    clock = Clock()
    old = without_option(hotline(), "flu.symptoms")
    menus = personal_menus(clock, flow=old)
    for version in ("2", "3"):
        menus.add_flow(dataclasses.replace(old, version=version), prompts())
    menus.add_flow(hotline(), prompts())  # the newest offers flu symptoms again
    await menus.bookmark(CALLER, old, "food.home")  # the long call, at last at its service
    served(menus, "flu.symptoms", clock.advance(1), caller="13911112222")
    root = menus.root_for("13911112222", hotline())
    assert root is not None and [s.target for s in root.shortcuts] == ["flu.symptoms"]


def without_option(flow: m.Flow, target: str) -> m.Flow:
    """`flow` with the menu option leading to `target` (and the node) taken out."""
    nodes = dict(flow.nodes)
    for node_id, node in flow.nodes.items():
        if isinstance(node, m.Menu) and any(o.target == target for o in node.options):
            nodes[node_id] = dataclasses.replace(node, options=tuple(o for o in node.options if o.target != target))
    del nodes[target]
    return dataclasses.replace(flow, version="1", nodes=nodes)
