"""Personal menus on real calls: a repeat caller gets there faster; a bookmark survives a restart
and reaches another engine node on the same PostgreSQL store at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from e2e_support import AUDIO, REPO, engine_settings, stats_settings

from ivr_engine.app import Engine
from ivr_engine.config import Settings, StatsSettings, WebSettings
from ivr_engine.demo import informed_caller_plan
from ivr_engine.pbx.asterisk import Pbx
from ivr_engine.prompts.clip import Clip
from ivr_engine.runtime.events import CallEnded
from ivr_engine.runtime.personal import PersonalRoot
from ivr_engine.runtime.recording import EventLog
from ivr_engine.stats.testing import PostgresServer

pytestmark = pytest.mark.asterisk

HOTLINE = REPO / "flows" / "hotline-12320.yaml"
SECRET = "e2e-personal-caller-secret-0123456789"
REPEAT, NEW = "13700000001", "13700000002"


class Heard(EventLog):
    """The engine's events plus, per call, the prompts played to the caller (ids)."""

    def __init__(self) -> None:
        super().__init__()
        self.prompts: dict[str, list[str]] = {}

    def played(self, call_id: str, clip: Clip, key: str | None) -> None:
        self.prompts.setdefault(call_id, []).append(clip.prompt_id)

    async def wait(self, count: int) -> CallEnded:
        async with asyncio.timeout(20):
            while len(self.ended) < count:
                await asyncio.sleep(0.05)
        return self.ended[count - 1]


def heard_by(heard: Heard, settings: Settings) -> Engine:
    """A whole engine whose events and played prompts `heard` records."""
    return Engine.build(settings, observers=(heard,), on_played=heard.played)


async def place(pbx: Pbx, engine: Engine, plan: object, caller: str, hold: float = 1.0) -> None:
    pbx.set_agi_url(f"agi://127.0.0.1:{engine.service.agi.port}/default")
    result = await asyncio.to_thread(pbx.place_call, plan, hold_seconds=hold, from_user=caller)
    assert result.answered


async def to_flu_symptoms(pbx: Pbx, engine: Engine, heard: Heard, caller: str, count: int) -> CallEnded:
    """A call typed ahead to influenza symptoms, the `count`-th the engine ended."""
    await place(pbx, engine, "2 1 1 1", caller)
    call = await heard.wait(count)
    assert call.leaf == "flu.symptoms"
    return call


async def bookmark_fever_clinics(pbx: Pbx, engine: Engine, heard: Heard) -> None:
    """A call straight to fever clinics, then ** while its announcement plays."""
    plan = [(0.4, "2"), (0.4, "1"), (0.4, "1"), (0.4, "4"), (1.5, "*"), (0.3, "*")]
    await place(pbx, engine, plan, NEW, hold=4.0)
    call = await heard.wait(1)
    assert call.leaf == "flu.clinics"
    assert "bookmark.added" in heard.prompts[call.call_id]


async def take_the_fever_clinics_shortcut(pbx: Pbx, engine: Engine, heard: Heard, root: PersonalRoot) -> CallEnded:
    """The next call: the caller hears the bookmark offered and presses its key."""
    assert [s.target for s in root.shortcuts] == ["flu.clinics"]
    personalizer = engine.service.personalizer
    plan = await informed_caller_plan(HOTLINE, f"2 {root.shortcuts[0].key}", AUDIO, caller=NEW, personalizer=personalizer)
    await place(pbx, engine, plan, NEW)
    again = await heard.wait(1)
    assert again.leaf == "flu.clinics"
    assert any(p.startswith("shortcut.flu.clinics.") for p in heard.prompts[again.call_id])
    return again


async def test_a_repeat_caller_hears_a_shortcut_and_beats_a_new_caller_to_the_same_service(
    pbx: Pbx, hotline_sounds: Path, use_agi: object, tmp_path: Path
) -> None:
    heard = Heard()
    engine = heard_by(heard, stats_settings(tmp_path, SECRET))
    async with engine.running():
        # History: two earlier calls to influenza symptoms, typed ahead.
        for n in (1, 2):
            await to_flu_symptoms(pbx, engine, heard, REPEAT, n)
        personal = engine.service.personalizer
        root = personal.root_for(REPEAT, engine.service.library.get("default").flow)
        assert root is not None and [s.target for s in root.shortcuts] == ["flu.symptoms"]
        shortcut_key = root.shortcuts[0].key

        # Both callers now listen to each menu and press their key once they heard it.
        repeat_plan = await informed_caller_plan(
            HOTLINE, f"2 {shortcut_key}", AUDIO, caller=REPEAT, personalizer=personal
        )
        await place(pbx, engine, repeat_plan, REPEAT)
        repeat = await heard.wait(3)
        await place(pbx, engine, await informed_caller_plan(HOTLINE, "2 1 1 1", AUDIO, caller=NEW), NEW)
        new = await heard.wait(4)

    assert repeat.leaf == new.leaf == "flu.symptoms"
    assert "personal.greeting" in heard.prompts[repeat.call_id]
    assert "personal.greeting" not in heard.prompts[new.call_id]
    assert not any(p.startswith("shortcut.") for p in heard.prompts[new.call_id])
    assert heard.keypresses(repeat.call_id) == 2 < heard.keypresses(new.call_id) == 4
    assert repeat.seconds_to_leaf is not None and new.seconds_to_leaf is not None
    assert repeat.seconds_to_leaf < new.seconds_to_leaf
    leaf_visit = [v for v in heard.calls(repeat.call_id) if v.node_id == "flu.symptoms"]
    assert leaf_visit[0].via_shortcut


async def test_a_bookmark_made_on_one_call_is_in_the_callers_menu_on_the_next(
    pbx: Pbx, hotline_sounds: Path, use_agi: object, tmp_path: Path
) -> None:
    settings = stats_settings(tmp_path, SECRET)
    heard = Heard()
    first = heard_by(heard, settings)
    async with first.running():
        await bookmark_fever_clinics(pbx, first, heard)

    # A new engine process: the bookmark comes back from the statistics store.
    heard_again = Heard()
    second = heard_by(heard_again, settings)
    async with second.running():
        root = second.service.personalizer.root_for(NEW, second.service.library.get("default").flow)
        assert root is not None
        await take_the_fever_clinics_shortcut(pbx, second, heard_again, root)


@pytest.mark.postgres
async def test_a_bookmark_made_through_one_engine_node_is_offered_by_the_other(
    pbx: Pbx, hotline_sounds: Path, use_agi: object, tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database()

    def node(name: str, heard: Heard) -> Engine:
        stats = StatsSettings(url=url, spool_dir=str(tmp_path / name / "spool"), caller_key_secret=SECRET)
        settings = engine_settings(tmp_path / name, stats=stats, web=WebSettings(enabled=False))
        return heard_by(heard, settings)

    heard_a, heard_b = Heard(), Heard()
    a, b = node("a", heard_a), node("b", heard_b)
    async with a.running(), b.running():
        assert a.peers is not None and b.peers is not None
        assert await asyncio.to_thread(b.peers.wait_listening, 10)
        flow = b.service.library.get("default").flow
        assert b.service.personalizer.root_for(NEW, flow) is None
        await bookmark_fever_clinics(pbx, a, heard_a)
        # Node b, whose memory was loaded before any of this, hears of it from the store.
        async with asyncio.timeout(10):
            while (root := b.service.personalizer.root_for(NEW, flow)) is None:
                await asyncio.sleep(0.05)
        again = await take_the_fever_clinics_shortcut(pbx, b, heard_b, root)
    assert again.call_id not in heard_a.prompts  # the second call was node b's alone


async def test_callers_who_withhold_their_number_share_no_personal_menu(
    pbx: Pbx, hotline_sounds: Path, use_agi: object, tmp_path: Path
) -> None:
    # A phone that withholds its number sends From: anonymous; Asterisk hands AGI "anonymous".
    heard = Heard()
    engine = heard_by(heard, stats_settings(tmp_path, SECRET))
    async with engine.running():
        await to_flu_symptoms(pbx, engine, heard, "anonymous", 1)
        # another withheld caller: the first one's history must not greet them
        second = await to_flu_symptoms(pbx, engine, heard, "anonymous", 2)
    assert "personal.greeting" not in heard.prompts[second.call_id]
    assert not any(s.personalized for s in heard.started)
    assert [s.caller for s in heard.started] == [None, None]
