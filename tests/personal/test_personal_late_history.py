"""A flow served before its history is read (`PersonalMenus.load_missing_history`): nothing the
store holds is counted twice or missed, whatever happens around the read."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from personal_support import CALLER, Clock, hotline, keyer, prompts, served, zero_keyed

from ivr_engine.personal import records
from ivr_engine.personal.menus import PersonalMenus, _compact
from ivr_engine.runtime.events import CallEnded, CallStarted, Outcome
from ivr_engine.stats.batch import Batch, call_row
from ivr_engine.stats.store import StatsStore


def write_call(store: StatsStore, call_id: str, ended: dt.datetime, leaf: str = "food.home") -> None:
    """What the recorder (this node's or a peer's) writes for a call that ended at `leaf`."""
    store.write_batch(Batch(calls=[call_row(
        call_id=call_id, caller_key=keyer().key(CALLER), flow_id=hotline().id, flow_version="1",
        started_at=ended - dt.timedelta(seconds=30), ended_at=ended, outcome="served", leaf=leaf,
        seconds_to_leaf=20.0, final_node=leaf, path=["welcome", leaf],
    )]))  # fmt: skip


def calls_of(menus: PersonalMenus, service: str = "food.home") -> int:
    record = menus._records.get(_compact(hotline().id, keyer().key(CALLER)), b"")
    index = menus._index.get(service)
    return sum(e.calls for e in records.entries(record) if e.service == index)


def popularity(menus: PersonalMenus, service: str = "food.home") -> float:
    return menus._flows[hotline().id].popularity.get(service, 0.0)


async def test_a_shared_catch_up_after_the_merge_does_not_count_the_historys_calls_again(tmp_path: Path) -> None:
    """Shared mode: the listener catches up from the moment the menus were loaded (or from its
    last heartbeat before a cut), which may be before the flow became personal: the calls the
    history counts since then are remembered, so a catch-up after the merge skips them."""
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    store = StatsStore.open(url, keyer=keyer())
    menus = PersonalMenus.from_store(store, [(zero_keyed(), prompts())], clock=clock, shared=True)
    listener_since = menus.counted_since  # PeerListener.for_menus: its first catch-up reads from here
    assert listener_since is not None
    # A peer serves the caller 10 minutes after the start; this node does not serve the flow yet.
    write_call(store, "peer-call", clock.advance(10 / 1440))
    clock.advance(1 / 24)
    menus.add_flow(hotline(), prompts())  # the reload (app._reloaded)
    await menus.load_missing_history()
    assert calls_of(menus) == 1 and popularity(menus) == 1
    # The listener (re)connects now and catches up from its `since`.
    for step in menus.missed_since(listener_since):
        step()
    assert (calls_of(menus), popularity(menus)) == (1, 1)  # the store holds one call
    store.close()


async def test_on_sqlite_a_call_written_while_the_history_is_read_is_counted_once(tmp_path: Path) -> None:
    """The history is one snapshot on SQLite too (pysqlite begins no transaction before a SELECT):
    a call this node logged that the recorder writes while the history is read is either in the
    uses and named counted, or in neither."""
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    store = StatsStore.open(url, keyer=keyer())
    menus = PersonalMenus.from_store(store, [(zero_keyed(), prompts())], clock=clock)
    menus.add_flow(hotline(), prompts())
    ended = clock.advance(0.001)
    call_id = served(menus, "food.home", ended)  # counted at once, logged
    writer = StatsStore.open(url, keyer=keyer())  # the recorder's writes, on their own connection

    def after(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if "union" in statement.lower():
            write_call(writer, call_id, ended)  # the recorder's batch commits just now

    sa.event.listen(store.engine, "after_cursor_execute", after)
    await menus.load_missing_history()
    sa.event.remove(store.engine, "after_cursor_execute", after)
    assert (calls_of(menus), popularity(menus)) == (1, 1)
    writer.close()
    store.close()


async def test_a_call_in_progress_at_the_reload_counts_when_it_ends(tmp_path: Path) -> None:
    """A call that started on the version without personal menus and ends after the reload counts
    when it ends, as a restart would read it from the store."""
    url, clock = f"sqlite:///{tmp_path / 'stats.db'}", Clock()
    store = StatsStore.open(url, keyer=keyer())
    menus = PersonalMenus.from_store(store, [(zero_keyed(), prompts())], clock=clock)
    old = zero_keyed()
    started = clock.at
    menus.call_started(CallStarted("long-call", CALLER, old.id, old.version, started, "agi"))
    clock.advance(1 / 1440)
    menus.add_flow(hotline(), prompts())  # the reload, while the call goes on
    await menus.load_missing_history()
    ended = clock.advance(1 / 1440)
    menus.call_ended(CallEnded("long-call", ended, Outcome.SERVED, "food.home", "food.home", 20.0))
    write_call(store, "long-call", ended)  # the recorder writes it
    restarted = PersonalMenus.from_store(store, [(hotline(), prompts())], clock=clock)
    assert calls_of(restarted) == 1
    assert calls_of(menus) == calls_of(restarted)
    store.close()


async def test_a_flow_whose_history_cannot_be_read_keeps_no_other_from_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=keyer())
    write_call(store, "yesterday", clock.advance(-1))
    menus = PersonalMenus.from_store(store, [], clock=clock)
    other = dataclasses.replace(hotline(), id="other-line")
    menus.add_flow(other, prompts())  # first: its read fails
    menus.add_flow(hotline(), prompts())
    history = store.history

    def fails_for_the_other(flow_id: str, since: object) -> object:
        if flow_id == other.id:
            raise sa.exc.OperationalError("history", None, Exception("statement timeout"))
        return history(flow_id, since)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "history", fails_for_the_other)
    with pytest.raises(sa.exc.OperationalError):
        await menus.load_missing_history()
    assert calls_of(menus) == 1  # the hotline's history is in
    monkeypatch.undo()
    await menus.load_missing_history()  # and the other's, once it can be read
    assert all(state.pending is None for state in menus._flows.values())
    store.close()
