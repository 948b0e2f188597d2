"""Several engine nodes on one PostgreSQL store: what one node's caller does reaches the others'
personal menus at once, and what a node could not hear (starting up, disconnected) it reads back.
The wire format without a database, `PersonalMenus.apply` without one, the read-back on SQLite,
then two nodes (store, recorder, personal menus, listener each) on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from personal_support import AT, CALLER, Clock, console_call, hotline, keyer, prompts, served
from waiting import until, until_blocking

from ivr_engine.flow import model as m
from ivr_engine.personal import peer_listener
from ivr_engine.personal.menus import PersonalMenus, _RecentIds
from ivr_engine.personal.peer_events import (
    CATCH_UP_MARGIN,
    CHANNEL,
    MAX_PAYLOAD,
    PeerBookmark,
    PeerCall,
    PeerPayloadError,
    decode,
    encode,
)
from ivr_engine.personal.peer_listener import APPLICATION_NAME, PeerListener, conninfo
from ivr_engine.service import FanOut
from ivr_engine.stats.batch import Batch, BookmarkRow, call_row, db_time
from ivr_engine.stats.models import Bookmark
from ivr_engine.stats.recorder import StatsRecorder
from ivr_engine.stats.store import StatsStore
from ivr_engine.stats.testing import PostgresServer

FLU_SYMPTOMS_BOOKMARK = "2 1 1 1 **"  # English, disease, influenza, symptoms, the bookmark key
SAFE_FOOD = "2 3 3 2"  # English, outbreaks and food safety, food safety, safe food at home
FLU_SYMPTOMS = "2 1 1 1"
KEY = keyer().key(CALLER)

# --- the wire format ---------------------------------------------------------------------------


def test_events_survive_the_wire_in_order() -> None:
    events = [
        PeerCall("call-1", KEY, "hotline-12320", "food.home", 1_795_000_000.25),
        PeerBookmark(KEY, "hotline-12320", "flu.symptoms", on=True),
        PeerBookmark(KEY, "hotline-12320", "flu.symptoms", on=False),
    ]
    (payload,) = encode(events)
    assert decode(payload) == events
    assert encode([]) == []


def test_a_large_batch_is_split_under_postgresqls_payload_limit() -> None:
    events = [PeerCall(f"call-{n}", KEY, "hotline-12320", "vax.adults.flu", 1_795_000_000.0 + n) for n in range(500)]
    payloads = encode(events)
    assert len(payloads) > 1
    assert all(len(p.encode()) <= MAX_PAYLOAD for p in payloads)
    assert [e for p in payloads for e in decode(p)] == events


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        json.dumps({"v": 2, "e": []}),
        json.dumps({"v": 1, "e": {}}),
        json.dumps({"v": 1, "e": [["x", "a"]]}),
        json.dumps({"v": 1, "e": [["c", "call", KEY, "flow", "leaf", "yesterday"]]}),
        json.dumps({"v": 1, "e": [["c", "call", KEY, "flow", "leaf", float("nan")]]}),
        json.dumps({"v": 1, "e": [["c", "call", KEY, "flow", "leaf", float("inf")]]}),
        json.dumps({"v": 1, "e": [["c", "call", KEY, "flow", "leaf", True]]}),
        json.dumps({"v": 1, "e": [["b", KEY, "flow", "service", 2]]}),
    ],
)
def test_anything_else_is_refused_with_what_it_was(payload: str) -> None:
    with pytest.raises(PeerPayloadError):
        decode(payload)


def test_an_event_longer_than_a_payload_is_refused() -> None:
    with pytest.raises(PeerPayloadError, match="longer than a payload"):
        encode([PeerCall("c" * MAX_PAYLOAD, KEY, "f", "leaf", 0.0)])


def test_the_listener_speaks_libpq_whatever_the_driver() -> None:
    assert conninfo("postgresql+psycopg://ivr:s3cret@db:5433/stats?sslmode=require") == (
        "postgresql://ivr:s3cret@db:5433/stats?sslmode=require"
    )
    with pytest.raises(ValueError, match="PostgreSQL"):
        conninfo("sqlite:///stats.db")


# --- applying announcements ----------------------------------------------------------------------


def node(clock: Clock, *, shared: bool = True) -> PersonalMenus:
    menus = PersonalMenus(key_of=keyer().key, clock=clock, shared=shared)
    menus.add_flow(hotline(), prompts())
    return menus


def targets(menus: PersonalMenus) -> dict[str, bool]:
    offer = menus.offer(CALLER, hotline())
    return {c.service: c.bookmarked for c in offer.reasons} if offer else {}


def test_a_call_ended_on_another_node_is_counted_and_ones_own_only_once() -> None:
    clock = Clock()
    here, there = node(clock), node(clock)
    flow = hotline().id
    elsewhere = [PeerCall("call-on-a-third-node", KEY, flow, "flu.symptoms", AT.timestamp())]
    echo = [PeerCall(served(here, "food.home", AT), KEY, flow, "food.home", AT.timestamp())]
    for menus in (here, there):
        menus.apply(elsewhere)
    there.apply(echo)
    here.apply(echo)  # the store announces this node's call back to it too
    for menus in (here, there):
        menus.apply(echo + elsewhere)  # heard, then read back by a catch-up: the same calls
    assert targets(there) == targets(here) == {"food.home": False, "flu.symptoms": False}
    # one call each: (1 + one prior call x a share of 1/2) / (2 + 1); counted twice it would be 0.67
    assert q_of(here, "food.home") == q_of(there, "food.home") == pytest.approx(0.5)


def test_the_call_ids_counted_last_are_remembered_and_the_oldest_forgotten() -> None:
    recent = _RecentIds(3)
    recent.add(["a", "b", "a", "c"])  # "a" again is still one id
    assert len(recent) == 3 and all(i in recent for i in "abc")
    recent.add(["d"])
    assert "a" not in recent and all(i in recent for i in "bcd")


def q_of(menus: PersonalMenus, service: str) -> float:
    offer = menus.offer(CALLER, hotline())
    assert offer is not None
    return next(c.q for c in offer.reasons if c.service == service)


def test_bookmarks_from_other_nodes_are_set_and_removed_and_unknown_things_ignored() -> None:
    there = node(Clock())
    flow = hotline().id
    there.apply([PeerBookmark(KEY, flow, "flu.symptoms", on=True)])
    there.apply([PeerBookmark(KEY, flow, "flu.symptoms", on=True)])  # its own, heard again
    assert targets(there) == {"flu.symptoms": True}
    there.apply(
        [
            PeerBookmark(KEY, "another-flow", "food.home", on=True),
            PeerBookmark(KEY, flow, "no.such.service", on=True),
            PeerCall("c-9", KEY, "another-flow", "food.home", AT.timestamp()),
            PeerCall("c-10", KEY, flow, "no.such.leaf", AT.timestamp()),
        ]
    )
    assert targets(there) == {"flu.symptoms": True}
    there.apply([PeerBookmark(KEY, flow, "flu.symptoms", on=False)])
    assert targets(there) == {}


# --- reading back what was not heard ---------------------------------------------------------------


def batch_of_calls(*calls: tuple[str, str, dt.datetime]) -> Batch:
    """(call id, leaf, ended at) of calls from CALLER, each 30 s long."""
    return Batch(
        calls=[
            call_row(
                call_id=call_id, caller_key=KEY, flow_id=hotline().id, flow_version="1",
                started_at=ended_at - dt.timedelta(seconds=30), ended_at=ended_at, outcome="served", leaf=leaf,
                seconds_to_leaf=20.0, final_node=leaf, path=["welcome", leaf],
            )  # fmt: skip
            for call_id, leaf, ended_at in calls
        ]
    )


def batch_of_one_call(call_id: str) -> Batch:
    return batch_of_calls((call_id, "food.home", AT + dt.timedelta(seconds=30)))


def run(steps: list[Callable[[], None]]) -> None:
    for step in steps:
        step()


def test_a_node_reads_back_the_calls_and_bookmarks_it_did_not_hear(tmp_path: Path) -> None:
    clock = Clock()
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=keyer())
    flow = hotline().id
    long_ago = AT - dt.timedelta(days=3)
    store.write_batch(batch_of_calls(("long-ago", "vax.adults.flu", long_ago), ("loaded", "flu.symptoms", AT)))
    store.add_bookmark(KEY, flow, "flu.symptoms")
    store.add_bookmark(KEY, flow, "food.home")
    menus = PersonalMenus.from_store(store, [(hotline(), prompts())], clock=clock, shared=True)
    assert menus.counted_since == AT.timestamp() - CATCH_UP_MARGIN
    loaded = targets(menus)
    assert loaded == {"vax.adults.flu": False, "flu.symptoms": True, "food.home": True}
    q_loaded = q_of(menus, "flu.symptoms")
    run(menus.missed_since(AT.timestamp() - 1))  # the call at AT: read back, and known as loaded
    assert targets(menus) == loaded and q_of(menus, "flu.symptoms") == q_loaded
    # meanwhile, through another node: a call, a bookmark removed and another set
    clock.advance(1)
    store.write_batch(batch_of_calls(("missed", "food.labels", clock.at)))
    store.remove_bookmark(KEY, flow, "flu.symptoms")
    store.add_bookmark(KEY, flow, "vax.adults.flu")
    assert targets(menus) == loaded
    steps = menus.missed_since(menus.counted_since)  # type: ignore[arg-type]
    run(steps)
    run(steps)  # the same calls again (and the same bookmarks) change nothing more
    # the bookmarks first; flu.symptoms, a prediction now, gives way to the call just missed
    assert targets(menus) == {"vax.adults.flu": True, "food.home": True, "food.labels": False}
    # as a node that loads the store now has it
    fresh = PersonalMenus.from_store(store, [(hotline(), prompts())], clock=clock, shared=True)
    assert targets(fresh) == targets(menus)
    for service in targets(fresh):
        assert q_of(menus, service) == pytest.approx(q_of(fresh, service), rel=1e-4)
    store.close()


async def test_a_read_back_keeps_the_bookmark_changes_this_node_made_until_the_store_announces_them(
    tmp_path: Path,
) -> None:
    # The recorder writes a bookmark a moment later, or replays it from its spool once the
    # database is back; a read-back in between finds the store without it. (A recorder not
    # started writes nothing: the change waits as in an outage.)
    clock = Clock()
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=keyer())
    store.add_bookmark(KEY, hotline().id, "food.home")
    waiting = StatsRecorder(store, tmp_path / "spool")
    menus = PersonalMenus.from_store(store, [(hotline(), prompts())], clock=clock, shared=True, bookmarks_to=waiting)
    await menus.bookmark(CALLER, hotline(), "flu.symptoms")  # set
    await menus.bookmark(CALLER, hotline(), "food.home")  # removed
    run(menus.missed_since(AT.timestamp()))
    assert targets(menus) == {"flu.symptoms": True}
    # announced once written: from then on the store's word counts again
    menus.apply([PeerBookmark(KEY, hotline().id, "flu.symptoms", on=True)])
    store.remove_bookmark(KEY, hotline().id, "food.home")
    store.remove_bookmark(KEY, hotline().id, "flu.symptoms")  # and removed on another node, unheard
    menus.apply([PeerBookmark(KEY, hotline().id, "food.home", on=False)])
    run(menus.missed_since(AT.timestamp()))
    assert targets(menus) == {}
    # a hold the store never announced an end to lasts an hour
    await menus.bookmark(CALLER, hotline(), "food.home")
    clock.advance(3601 / 86400)
    run(menus.missed_since(AT.timestamp()))
    assert targets(menus) == {}
    # so do the bookmarks the last run left in its spool, taken in as the node starts
    menus.apply_unwritten([PeerBookmark(KEY, hotline().id, "policy.tobacco", on=True)])
    run(menus.missed_since(AT.timestamp()))
    assert targets(menus) == {"policy.tobacco": True}
    store.close()


def test_a_read_back_comes_in_short_steps_and_each_caller_gets_the_stored_bookmarks(tmp_path: Path) -> None:
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=keyer())
    callers = [f"1390{n:07d}" for n in range(1_200)]  # more than two steps of callers
    menus = PersonalMenus.from_store(store, [(hotline(), prompts())], clock=Clock(), shared=True)
    store.write_batch(batch_of_calls(*((f"c{n}", "food.home", AT) for n in range(1_100))))
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(Bookmark),
            [{"caller_key": keyer().key(c), "flow_id": hotline().id, "node_id": "vax.adults.flu", "created": AT}
             for c in callers],
        )  # fmt: skip
    steps = menus.missed_since(AT.timestamp() - 1)
    # 1,100 calls in 500s, 1,200 callers' bookmarks in 500s, then those the store no longer has
    assert len(steps) == 3 + 3 + 1
    run(steps)
    assert all(
        [(c.service, c.bookmarked) for c in menus.offer(caller, hotline()).reasons] == [("vax.adults.flu", True)]  # type: ignore[union-attr]
        for caller in callers
    )
    assert targets(menus) == {"food.home": False}  # CALLER's 1,100 calls, over three steps
    store.close()


# --- two nodes on a real PostgreSQL server ---------------------------------------------------------


class Node:
    """What one engine node runs: store, recorder and personal menus, listening for the others."""

    def __init__(self, url: str, spool: Path, clock: Clock, *, listen: bool = True, retry: float = 0.05) -> None:
        self.store = StatsStore.open(url, keyer=keyer(), clock=clock)
        self.recorder = StatsRecorder(self.store, spool, interval=0.01).start()
        self.menus = PersonalMenus.from_store(
            self.store, [(hotline(), prompts())], clock=clock, shared=True, bookmarks_to=self.recorder
        )
        self.observer = FanOut([self.recorder, self.menus])
        self.listener = PeerListener.for_menus(
            url, self.menus, asyncio.get_running_loop(), retry=retry, max_retry=retry
        )
        if listen:
            self.listen()

    def listen(self) -> None:
        assert self.listener.start().wait_listening(10)

    async def call(self, script: str, clock: Clock, tmp: Path) -> None:
        await console_call(script, personalizer=self.menus, observer=self.observer, at=clock.advance(1), tmp=tmp)

    def stop(self) -> None:
        self.listener.stop()
        assert self.recorder.close()
        self.store.close()


StartNode = Callable[..., Node]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def start_node(postgres_server: PostgresServer, tmp_path: Path, clock: Clock) -> AsyncIterator[StartNode]:
    """start_node(name, **options): a node on the test's database and clock, stopped at the end."""
    url, started = postgres_server.create_database(), []

    def start(name: str, **options: Any) -> Node:
        started.append(Node(url, tmp_path / name, clock, **options))
        return started[-1]

    yield start
    for node in started:
        node.stop()


@pytest.fixture
async def two_nodes(start_node: StartNode, clock: Clock) -> tuple[Node, Node, Clock]:
    return start_node("a"), start_node("b"), clock


@pytest.mark.postgres
async def test_a_call_on_one_node_gives_a_shortcut_on_the_other(two_nodes: tuple[Node, Node, Clock], tmp_path: Path) -> None:
    a, b, clock = two_nodes
    assert targets(b.menus) == {}
    await a.call(SAFE_FOOD, clock, tmp_path)
    await until(lambda: set(targets(b.menus)) == {"food.home"})
    await b.call(FLU_SYMPTOMS, clock, tmp_path)
    await until(lambda: len(list(a.store.service_uses(hotline().id))) == 2)  # both recorded
    # announced after both calls, so each node has heard its own call back once it hears this
    b.store.add_bookmark(KEY, hotline().id, "vax.adults.flu")
    for menus in (a.menus, b.menus):
        await until(lambda: targets(menus).get("vax.adults.flu") is True)  # noqa: B023
    assert targets(a.menus) == targets(b.menus) == {"food.home": False, "flu.symptoms": False, "vax.adults.flu": True}
    # each node counted its own call when it ended and heard it announced: once, as the other did
    # (twice would give 0.67 against 0.5; records keep scores in 32 bits, decayed from other times)
    for service in ("food.home", "flu.symptoms"):
        assert q_of(a.menus, service) == pytest.approx(q_of(b.menus, service), rel=1e-4)
    key = {s.target: s.key for s in b.menus.root_for(CALLER, hotline()).shortcuts}["food.home"]  # type: ignore[union-attr]
    again = await console_call(f"2 {key}", personalizer=b.menus, observer=b.observer, at=clock.advance(1), tmp=tmp_path)
    assert again.result.leaf == "food.home" and again.menu_keys == ["2", key]


@pytest.mark.postgres
async def test_a_bookmark_on_one_node_is_on_the_other_and_so_is_its_removal(
    two_nodes: tuple[Node, Node, Clock], tmp_path: Path
) -> None:
    a, b, clock = two_nodes
    await a.call(FLU_SYMPTOMS_BOOKMARK, clock, tmp_path)
    await until(lambda: targets(b.menus).get("flu.symptoms") is True)
    await a.call(FLU_SYMPTOMS_BOOKMARK, clock, tmp_path)  # ** again: removed
    await until(lambda: targets(b.menus) == {"flu.symptoms": False})  # two calls there remain
    assert targets(a.menus) == {"flu.symptoms": False}


def recorded(store: StatsStore) -> int:
    return sum(use.calls for use in store.service_uses(hotline().id))


def assert_in_step(a: Node, b: Node) -> None:
    assert targets(a.menus) == targets(b.menus)
    for service in targets(a.menus):
        assert q_of(a.menus, service) == pytest.approx(q_of(b.menus, service), rel=1e-4)


@pytest.mark.postgres
async def test_a_node_starting_up_reads_back_what_was_recorded_before_it_listened(
    start_node: StartNode, clock: Clock, tmp_path: Path
) -> None:
    a = start_node("a")
    await a.call(FLU_SYMPTOMS, clock, tmp_path)
    await until(lambda: recorded(a.store) == 1)
    b = start_node("b", listen=False)  # loaded, that call counted; not listening yet
    await a.call(SAFE_FOOD, clock, tmp_path)  # announced while b was starting up: not heard
    a.store.add_bookmark(KEY, hotline().id, "vax.adults.flu")
    await until(lambda: recorded(a.store) == 2)
    assert targets(b.menus) == {"flu.symptoms": False}
    b.listen()  # reads back both calls (the first is known, by id, as loaded) and the bookmark
    await until(lambda: targets(b.menus) == targets(a.menus))
    assert set(targets(b.menus)) == {"flu.symptoms", "food.home", "vax.adults.flu"}
    assert_in_step(a, b)


@pytest.mark.postgres
async def test_a_node_that_lost_its_listening_connection_reads_back_what_it_missed(
    start_node: StartNode, clock: Clock, tmp_path: Path
) -> None:
    a, b = start_node("a"), start_node("b", retry=5.0)  # long enough for a's calls to be missed
    await a.call(FLU_SYMPTOMS_BOOKMARK, clock, tmp_path)
    await until(lambda: targets(b.menus).get("flu.symptoms") is True)
    with psycopg.connect(conninfo(b.store.engine.url), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (APPLICATION_NAME,),
        )  # both nodes' listeners; a's is back at once
    await until(lambda: not b.listener.listening)
    await a.call(FLU_SYMPTOMS_BOOKMARK, clock, tmp_path)  # ** again: the bookmark removed
    await a.call(SAFE_FOOD, clock, tmp_path)
    await until(lambda: recorded(a.store) == 3)
    assert not b.listener.listening and b.listener.error  # so b heard none of it
    assert targets(b.menus) == {"flu.symptoms": True}
    await until(lambda: b.listener.listening, within=15)
    await until(lambda: targets(b.menus) == targets(a.menus))
    assert targets(b.menus) == {"flu.symptoms": False, "food.home": False}
    assert_in_step(a, b)


def lose_listeners(store: StatsStore) -> None:
    """End every node's listening connection; each listens again after its retry delay."""
    with psycopg.connect(conninfo(store.engine.url), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (APPLICATION_NAME,),
        )


@pytest.mark.postgres
async def test_a_call_written_long_after_it_ended_is_read_back_by_a_node_that_was_away(
    start_node: StartNode, clock: Clock, tmp_path: Path
) -> None:
    a, b = start_node("a"), start_node("b", retry=5.0)
    lose_listeners(b.store)
    await until(lambda: not b.listener.listening)
    # a's spool, replayed after an outage of the store: a call that ended an hour before it is
    # written, announced while b is away, and older than what b reads back by the time calls ended
    a.store.write_batch(batch_of_calls(("replayed", "food.home", clock.at - dt.timedelta(hours=1))))
    await until(lambda: "food.home" in targets(a.menus))
    assert not b.listener.listening and "food.home" not in targets(b.menus)
    await until(lambda: b.listener.listening, within=15)
    await until(lambda: "food.home" in targets(b.menus))
    assert_in_step(a, b)


@pytest.mark.postgres
async def test_a_late_call_a_node_loaded_at_start_up_is_not_counted_again(
    start_node: StartNode, clock: Clock, tmp_path: Path
) -> None:
    a = start_node("a")
    a.store.write_batch(batch_of_calls(("replayed", "food.home", clock.at - dt.timedelta(hours=1))))
    await until(lambda: "food.home" in targets(a.menus))
    b = start_node("b", listen=False)  # loads the late call, which a catch-up from now reads too
    assert targets(b.menus) == targets(a.menus)
    b.listen()
    await a.call(FLU_SYMPTOMS, clock, tmp_path)  # another service, so that a count too many shows in q
    await until(lambda: recorded(a.store) == 2)
    await until(lambda: targets(b.menus) == targets(a.menus))
    assert_in_step(a, b)


@pytest.mark.postgres
def test_the_history_a_node_loads_is_of_one_moment_while_others_write(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    store, other = StatsStore.open(url, keyer=keyer()), StatsStore.open(url, keyer=keyer())
    store.write_batch(batch_of_calls(("before", "food.home", AT)))
    with store.history(hotline().id, AT - dt.timedelta(minutes=5)) as history:
        other.write_batch(batch_of_calls(("during", "flu.symptoms", AT)))  # read back by a catch-up
        assert [(use.leaf, use.calls) for use in history.uses] == [("food.home", 1)]
        assert list(history.counted) == ["before"]
    store.close()
    other.close()


def test_the_spool_of_a_replay_that_stopped_halfway_gives_the_menus_only_calls_the_store_lacks(tmp_path: Path) -> None:
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=keyer())
    replayed = batch_of_one_call("replayed-1")
    store.write_batch(replayed)  # committed, but the engine stopped before the spool was emptied
    recorder = StatsRecorder(store, tmp_path / "spool")
    recorder.spool.append(replayed)
    recorder.spool.append(batch_of_one_call("spooled-2"))
    assert [e.call_id for e in recorder.spooled_events() if isinstance(e, PeerCall)] == ["spooled-2"]
    store.close()


@pytest.mark.postgres
def test_a_replayed_batch_announces_nothing_new(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    store = StatsStore.open(url, keyer=keyer())
    with psycopg.connect(conninfo(url), autocommit=True) as listening:
        listening.execute(f"LISTEN {CHANNEL}")
        batch = batch_of_one_call("replayed-1")
        batch.bookmarks.append(BookmarkRow(KEY, hotline().id, "flu.symptoms", 1, db_time(AT)))
        store.write_batch(batch)
        first = [event for n in listening.notifies(timeout=2.0, stop_after=2) for event in decode(n.payload)]
        store.write_batch(batch)  # after a crash, from the spool: the same call and bookmark again
        assert list(listening.notifies(timeout=0.5)) == []
    store.close()
    assert first == [
        PeerCall("replayed-1", KEY, hotline().id, "food.home", AT.timestamp() + 30),
        PeerBookmark(KEY, hotline().id, "flu.symptoms", on=True),
    ]


@pytest.mark.postgres
def test_the_listener_hears_again_after_postgresql_comes_back(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database()
    heard: list[PeerCall | PeerBookmark] = []
    listener = PeerListener(url, heard.extend, retry=0.05, max_retry=0.2).start()
    try:
        assert listener.wait_listening(10)
        postgres_server.stop("fast")
        until_blocking(lambda: not listener.listening)
        assert not listener.listening and listener.error
        postgres_server.start()
        assert listener.wait_listening(10)
        store = StatsStore.open(url, keyer=keyer())
        store.write_batch(batch_of_one_call("after-restart"))
        store.close()
        until_blocking(lambda: bool(heard))
        assert [e.call_id for e in heard if isinstance(e, PeerCall)] == ["after-restart"]
    finally:
        listener.stop()


def test_a_bookmark_heard_before_this_node_reloads_the_version_offering_it_is_kept(tmp_path: Path) -> None:
    # Nodes reload an edited flow seconds apart: a bookmark set through a node already serving a
    # new service reaches one still on the version without it (heard, and read back by a catch-up),
    # and must be there once it reloads.
    clock = Clock()
    store = StatsStore.open(f"sqlite:///{tmp_path / 'stats.db'}", keyer=keyer())
    store.add_bookmark(KEY, hotline().id, "flu.symptoms")
    nodes = dict(hotline().nodes)
    flu = nodes["flu"]
    assert isinstance(flu, m.Menu)
    nodes["flu"] = dataclasses.replace(flu, options=tuple(o for o in flu.options if o.target != "flu.symptoms"))
    del nodes["flu.symptoms"]
    before = dataclasses.replace(hotline(), version="1", nodes=nodes)
    there = PersonalMenus(key_of=keyer().key, store=store, clock=clock, shared=True)
    there.add_flow(before, prompts())
    there.apply([PeerBookmark(KEY, hotline().id, "flu.symptoms", on=True)])
    run(there.missed_since(AT.timestamp()))
    there.add_flow(hotline(), prompts())  # the reload
    assert targets(there) == {"flu.symptoms": True}
    store.close()


class SilentLink:
    """A TCP hop to PostgreSQL that can go silent as a dropped flow does: no reset, no data, while
    this end still acknowledges what it is sent (so TCP alone never notices)."""

    def __init__(self, port: int) -> None:
        self.port_to, self.silent = port, threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                near, _ = self.server.accept()
                far = socket.create_connection(("127.0.0.1", self.port_to))
                for a, b in ((near, far), (far, near)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                while self.silent.is_set():  # held, never delivered
                    time.sleep(0.01)
                b.sendall(data)
        for end in (a, b):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.close()


@pytest.mark.postgres
def test_a_listening_connection_gone_silent_is_cut_and_the_read_back_starts_before_it_went(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database()
    clock = Clock()
    here = StatsStore.open(url, keyer=keyer(), clock=clock)
    there = StatsStore.open(url, keyer=keyer(), clock=clock)  # another node's writer
    menus = PersonalMenus.from_store(here, [(hotline(), prompts())], clock=clock, shared=True)
    link = SilentLink(postgres_server.port)
    heard: list[PeerCall | PeerBookmark] = []
    catch_ups: list[float] = []

    def catch_up(since: float) -> None:
        catch_ups.append(since)
        run(menus.missed_since(since))

    listener = PeerListener(
        sa.make_url(url).set(port=link.port), heard.extend, catch_up=catch_up, since=menus.counted_since,
        clock=clock, retry=0.05, max_retry=0.05, heartbeat=0.2, heartbeat_timeout=0.5,
    ).start()  # fmt: skip
    try:
        assert listener.wait_listening(10)
        there.write_batch(batch_of_calls(("heard", "food.home", clock.at)))
        until_blocking(lambda: bool(heard))
        link.silent.set()  # a firewall drops the idle flow
        there.write_batch(batch_of_calls(("missed", "food.labels", clock.at)))  # announced into the void
        clock.advance(1 / 24)  # an hour, as TCP keepalive would have taken without our settings
        until_blocking(lambda: not listener.listening)  # the heartbeat went unanswered: health shows it
        assert "did not answer within 0.5 s" in listener.error
        link.silent.clear()  # the network is back
        assert listener.wait_listening(10)
    finally:
        listener.stop()
        link.close()
    assert [e.call_id for e in heard if isinstance(e, PeerCall)] == ["heard"]
    assert catch_ups[-1] <= AT.timestamp() - CATCH_UP_MARGIN + 1  # from before it went silent
    menus.apply(heard)
    assert targets(menus) == {"food.home": False, "food.labels": False}  # the missed call read back
    here.close()
    there.close()


def test_an_answer_that_comes_as_the_cut_begins_still_ends_that_connection_cleanly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Timer.cancel() cannot stop a cut already under way: the round trip waits for it and says the
    # connection is cut, rather than returning on a socket shut behind its back
    ours, theirs = socket.socketpair()
    cutting, answered = threading.Event(), threading.Event()
    real_cut = peer_listener._cut

    def late_cut(fd: int, fired: threading.Event) -> None:
        cutting.set()
        answered.wait(5)
        real_cut(fd, fired)

    monkeypatch.setattr(peer_listener, "_cut", late_cut)

    class Answering:
        class pgconn:
            socket = ours.fileno()

        def execute(self, query: str) -> None:
            assert cutting.wait(5)  # the answer comes at heartbeat_timeout
            answered.set()

    listener = PeerListener("postgresql://localhost/x", lambda events: None, heartbeat_timeout=0.05)
    with pytest.raises(psycopg.OperationalError, match="did not answer within 0.05 s"):
        listener._round_trip(Answering())  # type: ignore[arg-type]
    with pytest.raises(OSError):
        ours.sendall(b"x")  # shut before _round_trip returned, not after
    ours.close()
    theirs.close()
