from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import structlog
from runtime_support import AT, hotline, simulate

from ivr_engine.flow import model as m
from ivr_engine.flow.model import Flow
from ivr_engine.runtime.engine import RuntimeSettings
from ivr_engine.runtime.events import Outcome
from ivr_engine.runtime.personal import PersonalRoot, Shortcut

SHORTCUT_KEYS = "78"
SHORTCUT_PROMPTS = {"vacc.adult": "personal.adult", "food": "root.food"}


@dataclass
class Bookmarks:
    """An in-memory caller-customized flow: each caller's bookmarks become shortcuts on keys 7, 8."""

    saved: dict[str, list[str]] = field(default_factory=dict)

    def root_for(self, caller: str | None, flow: Flow) -> PersonalRoot | None:
        leaves = self.saved.get(caller or "", [])
        if not leaves:
            return None
        shortcuts = tuple(
            Shortcut(key=key, target=leaf, prompt=SHORTCUT_PROMPTS[leaf]) for key, leaf in zip(SHORTCUT_KEYS, leaves)
        )
        return PersonalRoot(greeting="personal.greeting", shortcuts=shortcuts)

    def bookmark(self, caller: str, flow: Flow, leaf_id: str) -> None:
        self.saved.setdefault(caller, []).append(leaf_id)


class SlowBookmarks(Bookmarks):
    async def root_for(self, caller: str | None, flow: Flow) -> PersonalRoot | None:  # type: ignore[override]
        await asyncio.sleep(3600)
        return None


class AsyncBookmarks(Bookmarks):
    async def root_for(self, caller: str | None, flow: Flow) -> PersonalRoot | None:  # type: ignore[override]
        await asyncio.sleep(0)
        return Bookmarks.root_for(self, caller, flow)


def known_caller() -> Bookmarks:
    return Bookmarks({"13800000000": ["vacc.adult"]})


async def test_a_shortcut_reaches_the_service_from_the_personal_root() -> None:
    personal = await simulate(hotline(), "7", personalizer=known_caller())
    assert personal.heard == ["personal.greeting", "personal.adult", "vacc.adult.info"]
    assert [(v.node_id, v.key, v.via_shortcut) for v in personal.result.visits] == [
        ("root", "7", False),
        ("vacc.adult", None, True),
    ]
    assert personal.observer.started[0].personalized
    assert personal.result.leaf == "vacc.adult"
    canonical = await simulate(hotline(), "1 2")
    assert personal.result.seconds_to_leaf < canonical.result.seconds_to_leaf  # type: ignore[operator]


async def test_canonical_key_paths_keep_working_after_the_personal_part() -> None:
    call = await simulate(hotline(), "1 2", personalizer=known_caller())
    assert call.heard[:4] == ["personal.greeting", "personal.adult", "root.header", "root.vaccination"]
    assert call.result.path == ["root", "vacc", "vacc.adult"]
    assert not any(v.via_shortcut for v in call.result.visits)


async def test_the_personal_menu_key_goes_on_to_the_canonical_menu_alone() -> None:
    call = await simulate(hotline(), "9 2", personalizer=known_caller())
    replay = call.heard[call.heard.index("root.account") + 1 :]
    assert replay == ["root.header", "root.vaccination", "root.food", "food.info"]
    assert call.result.visits[0].invalid_keys == 0


async def test_only_the_first_menu_of_the_call_is_personal() -> None:
    call = await simulate(hotline(), "1 * 2", personalizer=known_caller())
    assert call.heard.count("personal.greeting") == 1
    assert call.result.path == ["root", "vacc", "root", "food"]


async def test_shortcuts_that_clash_or_lead_nowhere_are_ignored() -> None:
    class Clashing(Bookmarks):
        def root_for(self, caller: str | None, flow: Flow) -> PersonalRoot | None:
            return PersonalRoot(shortcuts=(Shortcut("1", "food", "root.food"), Shortcut("7", "gone", "root.food")))

    with structlog.testing.capture_logs() as logs:
        call = await simulate(hotline(), "1 1", personalizer=Clashing())
    assert call.result.path == ["root", "vacc", "vacc.hours"]
    assert not call.observer.started[0].personalized
    assert [e["key"] for e in logs if e["event"] == "personal shortcut ignored"] == ["1", "7"]


async def test_an_unavailable_personalizer_leaves_the_canonical_flow() -> None:
    settings = RuntimeSettings(personalizer_timeout=0.05, clock=lambda: AT)
    call = await simulate(hotline(), "7 2", personalizer=SlowBookmarks({"13800000000": ["food"]}), settings=settings)
    assert call.result.path == ["root", "food"]
    assert call.result.visits[0].invalid_keys == 1
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_an_async_personalizer_is_awaited() -> None:
    call = await simulate(hotline(), "7", personalizer=AsyncBookmarks({"13800000000": ["food"]}))
    assert call.result.path == ["root", "food"]


async def test_bookmark_at_a_leaf_adds_it_to_the_callers_personal_menu() -> None:
    bookmarks = Bookmarks()
    call = await simulate(hotline(), "2 **", personalizer=bookmarks)
    assert bookmarks.saved == {"13800000000": ["food"]}
    assert call.heard == ["root.header", "root.vaccination", "root.food", "food.info", "bookmark.added", "food.info"]
    assert call.result.outcome is Outcome.SERVED
    again = await simulate(hotline(), "7", personalizer=bookmarks)
    assert again.result.path == ["root", "food"]
    assert again.result.visits[1].via_shortcut


async def test_bookmark_keys_typed_ahead_work_too() -> None:
    bookmarks = Bookmarks()
    call = await simulate(hotline(), "1 2 * *", typeahead=True, personalizer=bookmarks)
    assert bookmarks.saved == {"13800000000": ["vacc.adult"]}
    assert call.heard == ["bookmark.added", "vacc.adult.info"]


async def test_no_bookmark_for_a_withheld_number_or_an_incomplete_sequence() -> None:
    bookmarks = Bookmarks()
    await simulate(hotline(), "2 **", caller=None, personalizer=bookmarks)
    await simulate(hotline(), "2 **", caller="anonymous", personalizer=bookmarks)  # withheld, as SIP says it
    half = await simulate(hotline(), "2 * 5", personalizer=bookmarks)
    assert bookmarks.saved == {}
    assert half.result.path == ["root", "food"]


def behind_a_language_menu(**menu: Any) -> Flow:
    """The test hotline after a language menu whose key 1 chooses Mandarin."""
    lang = m.Menu(id="lang", options=(m.MenuOption(key="1", target="zh", prompt="root.vaccination"),), **menu)
    return hotline(lang, m.Language(id="zh", language="zh-CN", next="root"), start="lang")


class AfterLanguage(Bookmarks):
    """Shortcuts before the main menu `root`, after the language choice."""

    def root_for(self, caller: str | None, flow: Flow) -> PersonalRoot | None:
        root = Bookmarks.root_for(self, caller, flow)
        return PersonalRoot(greeting=root.greeting, shortcuts=root.shortcuts, before="root") if root else None


async def test_the_personal_part_can_precede_a_later_menu_than_the_first() -> None:
    flow = behind_a_language_menu(retries=0, on_exhausted="root")
    call = await simulate(flow, "1 7", personalizer=AfterLanguage({"13800000000": ["food"]}))
    assert call.result.path == ["lang", "zh", "root", "food"]
    assert [(h.prompt_id, h.language) for h in call.channel.heard[1:3]] == [
        ("personal.greeting", "zh-CN"),
        ("root.food", "zh-CN"),
    ]
    first = await simulate(flow, "7", personalizer=known_caller())  # no `before`: the first menu, lang
    assert first.heard[:2] == ["personal.greeting", "personal.adult"]
    assert first.result.path == ["lang", "vacc.adult"]


async def test_a_caller_gone_back_to_the_language_menu_is_offered_the_shortcuts_again() -> None:
    call = await simulate(behind_a_language_menu(), "1 * 1 7", personalizer=AfterLanguage({"13800000000": ["food"]}))
    assert call.result.path == ["lang", "zh", "root", "lang", "zh", "root", "food"]
    assert call.heard.count("personal.greeting") == 2
    assert call.result.visits[-1].via_shortcut
