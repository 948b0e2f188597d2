"""Personal menus over the real statistics store (SQLite): history and bookmarks across a restart,
and no caller number anywhere."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from personal_support import CALLER, SECRET, Clock, Heard, console_call, hotline, keyer, prompts, served, zero_keyed
from waiting import until_blocking

from ivr_engine.caller_id import NumberPlan
from ivr_engine.cli.main import main
from ivr_engine.flow import model as m
from ivr_engine.flow.validate import validate
from ivr_engine.personal.menus import PersonalMenus
from ivr_engine.service import FanOut
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.recorder import StatsRecorder
from ivr_engine.stats.store import StatsStore

FLU_SYMPTOMS_BOOKMARK = "2 1 1 1 **"  # English, disease, influenza, symptoms, then the bookmark key
SAFE_FOOD = "2 3 3 2"  # English, outbreaks and food safety, food safety, safe food at home


class Service:
    """What the service runs: the store, its recorder and the personal menus, one observer."""

    def __init__(
        self, url: str, spool: Path, clock: Clock, busy_timeout: float = 5.0, keyed_by: CallerKeyer | None = None
    ) -> None:
        self.store = StatsStore.open(url, keyer=keyed_by or keyer(), busy_timeout=busy_timeout)
        self.recorder = StatsRecorder(self.store, spool, interval=0.01)
        self.menus = PersonalMenus.from_store(
            self.store, [(hotline(), prompts())], clock=clock, bookmarks_to=self.recorder
        )
        self.menus.apply_unwritten(self.recorder.spooled_events())
        self.recorder.start()
        self.observer = FanOut([self.recorder, self.menus])

    def stop(self) -> None:
        assert self.recorder.close()
        self.store.close()


def stored_bookmarks(url: str) -> list[tuple[str, str]]:
    """The hotline's bookmarks in the store, read once the service that wrote them has stopped (its
    recorder writes them in the background)."""
    store = StatsStore.open(url, keyer=keyer())
    try:
        return store.bookmarks(hotline().id)
    finally:
        store.close()


def shortcuts(menus: PersonalMenus) -> dict[str, str]:
    root = menus.root_for(CALLER, hotline())
    return {s.target: s.key for s in root.shortcuts} if root else {}


async def test_history_and_a_bookmark_survive_a_restart(tmp_path: Path) -> None:
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    service = Service(url, tmp_path / "spool", clock)
    marked = await console_call(
        FLU_SYMPTOMS_BOOKMARK, personalizer=service.menus, observer=service.observer, at=clock.advance(1), tmp=tmp_path
    )
    assert "bookmark.added" in [h.prompt_id for h in marked.channel.heard]
    for _ in range(2):
        await console_call(SAFE_FOOD, personalizer=service.menus, observer=service.observer, at=clock.advance(1), tmp=tmp_path)
    assert set(shortcuts(service.menus)) == {"flu.symptoms", "food.home"}
    service.stop()

    restarted = Service(url, tmp_path / "spool", clock)
    assert set(shortcuts(restarted.menus)) == {"flu.symptoms", "food.home"}
    key = shortcuts(restarted.menus)["flu.symptoms"]
    call = await console_call(
        f"2 {key}", personalizer=restarted.menus, observer=restarted.observer, at=clock.advance(1), tmp=tmp_path
    )
    assert call.result.leaf == "flu.symptoms"
    restarted.stop()


async def test_a_bookmark_and_a_call_made_while_the_database_is_down_are_kept(tmp_path: Path) -> None:
    db, clock = tmp_path / "stats.db", Clock()
    url = f"sqlite:///{db}"
    service = Service(url, tmp_path / "spool", clock, busy_timeout=0.05)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    marked = await console_call(
        FLU_SYMPTOMS_BOOKMARK, personalizer=service.menus, observer=service.observer, at=clock.advance(1), tmp=tmp_path
    )
    assert "bookmark.added" in [h.prompt_id for h in marked.channel.heard]
    await console_call(SAFE_FOOD, personalizer=service.menus, observer=service.observer, at=clock.advance(1), tmp=tmp_path)
    assert shortcuts(service.menus).keys() == {"flu.symptoms", "food.home"}
    until_blocking(lambda: service.recorder.spool.pending and not service.recorder.backlog, "the spool", within=10)
    service.stop()  # and the engine stops before the database is back
    blocker.execute("ROLLBACK")
    blocker.close()

    # Restarted, the service lays the menus out from the store and the spool it has not replayed yet.
    restarted = Service(url, tmp_path / "spool", clock)
    assert shortcuts(restarted.menus).keys() == {"flu.symptoms", "food.home"}
    offer = restarted.menus.offer(CALLER, hotline())
    assert offer is not None and {(c.service, c.bookmarked) for c in offer.reasons} == {
        ("flu.symptoms", True),
        ("food.home", False),
    }
    restarted.stop()
    assert stored_bookmarks(url) == [(keyer().key(CALLER), "flu.symptoms")]
    # and the next start, from the store alone, offers the same
    again = Service(url, tmp_path / "spool", clock)
    assert not again.recorder.spool.pending
    assert shortcuts(again.menus) == shortcuts(restarted.menus)
    again.stop()


async def test_pressing_the_bookmark_key_again_removes_the_bookmark_for_good(tmp_path: Path) -> None:
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    service = Service(url, tmp_path / "spool", clock)
    for _ in range(2):
        await console_call(
            FLU_SYMPTOMS_BOOKMARK, personalizer=service.menus, observer=service.observer, at=clock.advance(1), tmp=tmp_path
        )
    service.stop()
    assert stored_bookmarks(url) == []
    restarted = Service(url, tmp_path / "spool", clock)
    offer = restarted.menus.offer(CALLER, hotline())
    assert offer is not None  # two calls to flu symptoms: predicted, no longer bookmarked
    assert [(c.service, c.bookmarked) for c in offer.reasons] == [("flu.symptoms", False)]
    restarted.stop()


async def test_no_caller_number_is_kept_in_memory_or_stored(tmp_path: Path) -> None:
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    service = Service(url, tmp_path / "spool", clock)
    await console_call(
        FLU_SYMPTOMS_BOOKMARK, personalizer=service.menus, observer=service.observer, at=clock.advance(1), tmp=tmp_path
    )
    menus = service.menus
    assert not menus._calls  # the call's entry goes when it ends
    held = repr((menus._records, menus._services, menus._index, menus._calls, menus._flows))
    assert CALLER not in held
    assert all(CALLER.encode() not in k + v for k, v in menus._records.items())
    service.stop()
    for stored in tmp_path.glob("stats.db*"):
        assert CALLER.encode() not in stored.read_bytes()
    reopened = StatsStore.open(url)
    assert [key for key, _ in reopened.bookmarks(hotline().id)] == [keyer().key(CALLER)]
    reopened.close()


async def test_the_personal_report_counts_what_callers_heard_and_took(tmp_path: Path) -> None:
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    service = Service(url, tmp_path / "spool", clock)

    async def call(script: str) -> Heard:
        return await console_call(
            script, personalizer=service.menus, observer=service.observer, at=clock.advance(1), tmp=tmp_path
        )

    first = await call(SAFE_FOOD)
    assert "personal.greeting" not in [h.prompt_id for h in first.channel.heard]  # a new caller
    key = shortcuts(service.menus)["food.home"]
    for script in (f"2 {key}", SAFE_FOOD):  # the shortcut, then the canonical keys typed ahead
        assert (await call(script)).result.leaf == "food.home"
    service.stop()
    stats = ["stats", "--db", url, "--flow", hotline().id]
    use = json.loads(CliRunner().invoke(main, [*stats, "--format", "json", "personal"], catch_exceptions=False).output)
    assert (use["calls"], use["offered"], use["took_shortcut"], use["bookmarks"]) == (3, 2, 1, 0)
    assert [use[g]["calls"] for g in ("via_shortcut", "offered_not_taken", "not_offered")] == [1, 1, 1]
    table = CliRunner().invoke(main, [*stats, "personal"], catch_exceptions=False).output
    assert "3 calls; a personal menu offered on 66.7% of them, a shortcut taken on 50.0% of those" in table
    assert "took a shortcut" in table and "not offered" in table


async def test_withheld_numbers_share_no_history_and_no_bookmarks(tmp_path: Path) -> None:
    """SIP presents a withheld number as `anonymous` (RFC 3323), carriers as `Restricted` or
    `Private`: every such caller would otherwise hear the others' shortcuts."""
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    service = Service(url, tmp_path / "spool", clock)
    for withheld in ("anonymous", "Anonymous", "Restricted", "private", " "):
        call = await console_call(
            FLU_SYMPTOMS_BOOKMARK,
            caller=withheld,
            personalizer=service.menus,
            observer=service.observer,
            at=clock.advance(1),
            tmp=tmp_path,
        )
        assert call.result.leaf == "flu.symptoms"
        assert "bookmark.added" not in [h.prompt_id for h in call.channel.heard]
        assert service.menus.root_for(withheld, hotline()) is None
    assert len(service.menus) == 0
    service.stop()
    reopened = StatsStore.open(url)
    assert reopened.bookmarks(hotline().id) == []
    assert list(reopened.service_uses(hotline().id)) == []
    reopened.close()


async def test_every_bookmark_stays_however_many_the_caller_sets(tmp_path: Path) -> None:
    # More bookmarks than a record keeps services (records.MAX_ENTRIES): none may be dropped from
    # memory while the store keeps it, or ** there would add it again instead of removing it.
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    service = Service(url, tmp_path / "spool", clock)
    layout = service.menus.layout(hotline())
    marked = sorted(layout.canonical)[:10]
    for leaf in marked:
        await service.menus.bookmark(CALLER, hotline(), leaf)
    await console_call(SAFE_FOOD, personalizer=service.menus, observer=service.observer, at=clock.advance(1), tmp=tmp_path)
    for leaf in marked:  # each pressed again: removed
        await service.menus.bookmark(CALLER, hotline(), leaf)
    offer = service.menus.offer(CALLER, hotline())
    assert offer is not None and [(c.service, c.bookmarked) for c in offer.reasons] == [("food.home", False)]
    service.stop()
    assert stored_bookmarks(url) == []


async def test_a_flow_whose_menus_the_cost_model_cannot_time_is_served_without_personal_menus(tmp_path: Path) -> None:
    # With the operator key off, a menu may offer 0 (ivr validate accepts it); the cost model only
    # places keys 1-9. The engine must start and serve that flow, only without personal menus.
    main = hotline().nodes["main"]
    assert isinstance(main, m.Menu)
    zero = m.MenuOption(key="0", target="survey", prompt="opt.feedback.4")
    flow = dataclasses.replace(
        hotline(),
        keys=m.KeyBindings(operator=None),
        nodes={**hotline().nodes, "main": dataclasses.replace(main, options=(*main.options, zero))},
    )
    assert not [d for d in validate(flow, prompts().catalog) if d.is_error]
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=keyer())
    menus = PersonalMenus.from_store(store, [(flow, prompts())], clock=Clock())
    assert menus.root_for(CALLER, flow) is None
    with pytest.raises(LookupError):
        await menus.bookmark(CALLER, flow, "food.home")
    store.close()
    reloaded = PersonalMenus(key_of=keyer().key, clock=Clock())  # the hotline, reloaded into that flow
    reloaded.add_flow(hotline(), prompts())
    await reloaded.bookmark(CALLER, hotline(), "food.home")
    assert reloaded.root_for(CALLER, flow) is None and reloaded.root_for(CALLER, hotline()) is not None


def reasons(menus: PersonalMenus) -> list[tuple[str, float, bool]]:
    offer = menus.offer(CALLER, hotline())
    return [(c.service, round(c.q, 9), c.bookmarked) for c in offer.reasons] if offer else []


def stored_calls(url: str) -> int:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return db.execute("SELECT count(*) FROM stats_calls").fetchone()[0]


async def test_a_flow_that_becomes_personal_on_a_reload_gets_its_history_while_calls_go_on(tmp_path: Path) -> None:
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    first = Service(url, tmp_path / "spool", clock)
    for script in (FLU_SYMPTOMS_BOOKMARK, SAFE_FOOD, SAFE_FOOD):
        await console_call(script, personalizer=first.menus, observer=first.observer, at=clock.advance(1), tmp=tmp_path)
    first.stop()

    # Started on a version without personal menus, then reloaded into the hotline (app._reloaded).
    store = StatsStore.open(url, keyer=keyer())
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01)
    menus = PersonalMenus.from_store(store, [(zero_keyed(), prompts())], clock=clock, bookmarks_to=recorder)
    recorder.start()
    observer = FanOut([recorder, menus])
    menus.add_flow(hotline(), prompts())
    assert reasons(menus) == []  # its history is not read yet
    # The bookmark key at the bookmarked service still removes it: the store is asked.
    await console_call(FLU_SYMPTOMS_BOOKMARK, personalizer=menus, observer=observer, at=clock.advance(1), tmp=tmp_path)
    await console_call(SAFE_FOOD, personalizer=menus, observer=observer, at=clock.advance(1), tmp=tmp_path)
    assert {s: b for s, _, b in reasons(menus)} == {"flu.symptoms": False, "food.home": False}  # counted at once
    until_blocking(lambda: stored_calls(url) == 5, "the calls written")  # so the history counts them

    await menus.load_missing_history()
    merged = reasons(menus)
    assert {s: b for s, _, b in merged} == {"food.home": False, "flu.symptoms": False}
    assert recorder.close()
    store.close()
    assert stored_bookmarks(url) == []
    # exactly what a restart reads from the store: the two calls it counts are not counted twice
    restarted = Service(url, tmp_path / "spool", clock)
    assert merged == reasons(restarted.menus)
    restarted.stop()


async def test_calls_made_before_the_history_is_read_that_the_store_lacks_are_added_to_it(tmp_path: Path) -> None:
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    first = Service(url, tmp_path / "spool", clock)
    for script in (SAFE_FOOD, SAFE_FOOD, FLU_SYMPTOMS_BOOKMARK):
        await console_call(script, personalizer=first.menus, observer=first.observer, at=clock.at, tmp=tmp_path)
    first.stop()
    clock.advance(0.01)  # the calls' ends are past
    store = StatsStore.open(url, keyer=keyer())
    late = PersonalMenus.from_store(store, [(zero_keyed(), prompts())], clock=clock)
    late.add_flow(hotline(), prompts())
    loaded = PersonalMenus.from_store(store, [(hotline(), prompts())], clock=clock)  # as if read at start
    # Calls nobody writes to the store (the recorder's batch not written yet, say), as both hear them.
    start = clock.at
    for menus in (late, loaded):
        clock.at = start
        for _ in range(2):
            await menus.bookmark(CALLER, hotline(), "flu.symptoms")
            served(menus, "flu.symptoms", clock.advance(0.5))
        served(menus, "food.home", clock.advance(0.5))
    assert stored_bookmarks(url) == [(keyer().key(CALLER), "flu.symptoms")]  # removed, then set again
    await late.load_missing_history()
    assert reasons(late) == reasons(loaded)
    assert {s: b for s, _, b in reasons(late)} == {"flu.symptoms": True, "food.home": False}
    store.close()


async def test_with_the_sites_number_plan_a_caller_is_known_in_any_form_of_the_number(tmp_path: Path) -> None:
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    service = Service(url, tmp_path / "spool", clock, keyed_by=CallerKeyer(SECRET, NumberPlan("86")))
    for caller in ("+86 138 0000 0000", "008613800000000"):  # as two carriers present it
        await console_call(
            SAFE_FOOD, caller=caller, personalizer=service.menus, observer=service.observer, at=clock.advance(1),
            tmp=tmp_path,
        )  # fmt: skip
    national = await console_call(
        "2", caller=CALLER, personalizer=service.menus, observer=service.observer, at=clock.advance(1), tmp=tmp_path
    )
    assert "personal.greeting" in national.prompts  # the national form: the same caller
    service.stop()
    reopened = StatsStore.open(url)
    assert {use.caller_key for use in reopened.service_uses(hotline().id)} == {
        CallerKeyer(SECRET).key("+8613800000000")
    }
    reopened.close()
