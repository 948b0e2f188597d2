from __future__ import annotations

import datetime as dt
from pathlib import Path

import oracle
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hotline_calls import run_hotline

from ivr_engine.stats import reports
from ivr_engine.stats.batch import Batch, CallRow, VisitRow, call_row, visit_values
from ivr_engine.stats.models import VERSION_TABLE, Base, Call, CallerLeaf, LateCall, Visit
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.recorder import StatsRecorder
from ivr_engine.stats.store import StatsStore, create_stats_engine, migrate
from ivr_engine.stats.testing import SYNTHETIC_FLOW, play, synthetic_call

KEYER = CallerKeyer("test-secret-0123456789")
CALLS = 300


@pytest.fixture
def store(stats_url: str) -> StatsStore:
    opened = StatsStore.open(stats_url, keyer=KEYER)
    yield opened
    opened.close()


def record(store: StatsStore, spool: Path, events: list[object]) -> StatsRecorder:
    recorder = StatsRecorder(store, spool, interval=0.01, max_batch=200).start()
    play(recorder, events)
    assert recorder.close(timeout=30)
    return recorder


def all_events(calls: int = CALLS, version: str = "1") -> list[object]:
    return [e for n in range(calls) for e in synthetic_call(n, flow_version=version)]


def count(store: StatsStore, model: type) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def test_migrated_schema_matches_models(store: StatsStore) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)] == []
    # rows go to the driver as tuples in column order
    assert VisitRow._fields == tuple(c.name for c in Visit.__table__.columns)
    assert CallRow._fields == tuple(c.name for c in Call.__table__.columns)


def test_migration_0002_marks_the_calls_that_took_a_shortcut(stats_url: str) -> None:
    engine = create_stats_engine(stats_url)
    migrate(engine, "0001")
    at = "2026-11-02 09:00:00.000000"
    with engine.begin() as conn:
        for call_id, shortcut in (("took", True), ("did-not", False)):
            conn.execute(
                sa.text(
                    "INSERT INTO stats_calls VALUES (:c, 'k', 'hotline', '1', :at, :at, 'served', 'food.home', 8.0,"
                    " 'food.home', :p, 'agi', 'main>food.home')"
                ),
                {"c": call_id, "at": at, "p": True},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO stats_visits VALUES (:c, 0, 'hotline', '1', 'food.home', 'announcement', :at, :at,"
                    " 5.0, NULL, 0, 0, :s, :f)"
                ),
                {"c": call_id, "at": at, "s": shortcut, "f": True},
            )
    migrate(engine)
    with engine.connect() as conn:
        marked = dict(conn.execute(sa.select(Call.call_id, Call.took_shortcut)).all())
    engine.dispose()
    assert marked == {"took": True, "did-not": False}


def test_recorder_to_reports_exact_counts(store: StatsStore, tmp_path: Path) -> None:
    events = all_events()
    recorder = record(store, tmp_path / "spool", events)
    assert (recorder.recorded, recorder.written, recorder.spooled) == (len(oracle.visits(events)),) * 2 + (0,)

    flt = reports.ReportFilter(flow_id=SYNTHETIC_FLOW)
    nodes = {n.node_id: n for n in reports.node_stats(store, flt)}
    assert {k: n.hits for k, n in nodes.items()} == dict(oracle.hits(events))
    distinct_calls = {node: len({v.call_id for v in oracle.visits(events) if v.node_id == node}) for node in nodes}
    assert {k: n.calls for k, n in nodes.items()} == distinct_calls
    assert nodes["root"].exits == oracle.exits(events, "root")
    assert nodes["vaccination"].exits == oracle.exits(events, "vaccination")
    assert nodes["root"].timeouts == sum(v.timeouts for v in oracle.visits(events) if v.node_id == "root")
    assert nodes["root"].invalid_keys == sum(v.invalid_keys for v in oracle.visits(events) if v.node_id == "root")
    assert {k: n.abandoned_here for k, n in nodes.items() if n.abandoned_here} == dict(oracle.abandoned_at(events))
    # zero-outs are charged to the menu the caller left for the operator
    assert nodes["root"].zeroed_out_here == oracle.outcomes(events)["zeroed_out"]

    summary = reports.summary(store, flt)
    assert summary.calls == CALLS
    assert summary.by_outcome == dict(oracle.outcomes(events))
    assert summary.visits == len(oracle.visits(events))
    assert summary.abandonment_rate == pytest.approx(summary.abandoned / CALLS)
    seconds = sorted(e.seconds_to_leaf for e in oracle.ends(events) if e.seconds_to_leaf is not None)
    assert summary.mean_seconds_to_leaf == pytest.approx(sum(seconds) / len(seconds))
    assert summary.p95_seconds_to_leaf == reports.percentile(seconds, 0.95)

    top = reports.top_nodes(store, flt, limit=1)
    assert [n.node_id for n in top] == ["root"] and top[0].hits == CALLS
    paths = reports.common_paths(store, flt, limit=100)
    assert sum(p.calls for p in paths) == CALLS
    assert paths == sorted(paths, key=lambda p: -p.calls)
    edges = reports.edge_counts(store, flt)
    assert edges[("root", "vaccination")] == oracle.exits(events, "root")["1"]

    # caller-to-leaf counts: what personal menus read
    uses = list(store.service_uses(SYNTHETIC_FLOW))
    served = [e for e in oracle.ends(events) if e.leaf]
    assert sum(u.calls for u in uses) == len(served)


def test_zero_outs_are_charged_to_the_menu_the_caller_left_for_the_operator(
    store: StatsStore, tmp_path: Path
) -> None:
    # The hotline's operator is a condition in front of queue.general, so a zeroed-out path ends
    # "... > main > operator > queue.general": the node before the last is never where 0 was pressed.
    scripts = [
        "1 0",  # 0 in main
        "1 2 0",  # 0 in vaccination
        "1 2 1 0",  # 0 in vax.children
        "1 7 7 7 7 7 7",  # main's retries run out: to the operator without a key
        "1 2 1 1 h",  # served
    ]
    recorder = StatsRecorder(store, tmp_path / "spool").start()
    results = run_hotline(scripts, recorder)
    assert recorder.close(timeout=30)
    assert [r.outcome.value for r in results] == ["zeroed_out"] * 4 + ["served"]
    assert all(r.path[-2:] == ["operator", "queue.general"] for r in results[:4])
    zeroed = {n.node_id: n.zeroed_out_here for n in reports.node_stats(store, reports.ReportFilter())}
    assert {node: n for node, n in zeroed.items() if n} == {"main": 2, "vaccination": 1, "vax.children": 1}


def test_filters_by_version_and_window(store: StatsStore, tmp_path: Path) -> None:
    events = all_events(100, "1") + all_events(40, "2")
    record(store, tmp_path / "spool", events)
    assert reports.summary(store, reports.ReportFilter(flow_version="2")).calls == 40
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    window = reports.ReportFilter(flow_version="1", since=start + dt.timedelta(seconds=10), until=start + dt.timedelta(seconds=20))
    assert reports.summary(store, window).calls == 10
    assert sorted(reports.flow_versions(store, SYNTHETIC_FLOW)) == ["1", "2"]


def test_replaying_batches_counts_nothing_twice(store: StatsStore, tmp_path: Path) -> None:
    events = all_events(120)
    record(store, tmp_path / "a", events)
    uses_before = sorted(store.service_uses(SYNTHETIC_FLOW), key=lambda u: (u.caller_key, u.leaf))
    record(store, tmp_path / "b", events)  # the same calls again, as a spool replay would
    assert count(store, Visit) == len(oracle.visits(events))
    assert count(store, Call) == 120
    assert sorted(store.service_uses(SYNTHETIC_FLOW), key=lambda u: (u.caller_key, u.leaf)) == uses_before
    nodes = reports.node_stats(store, reports.ReportFilter())
    assert {n.node_id: n.hits for n in nodes} == dict(oracle.hits(events))  # hourly figures not doubled
    assert max(u.calls for u in uses_before) > 1  # the synthetic callers do repeat


def test_batch_partly_stored_and_with_repeated_rows_counts_each_once(store: StatsStore, tmp_path: Path) -> None:
    events = all_events(120)
    record(store, tmp_path / "a", all_events(50))
    # one batch: 50 calls stored already, 70 new ones, and the first 80 calls' events a second time
    recorder = StatsRecorder(store, tmp_path / "b", interval=0.01, max_batch=100_000)
    play(recorder, events + all_events(80))
    recorder.start()
    assert recorder.close(timeout=30)
    assert count(store, Visit) == len(oracle.visits(events))
    assert count(store, Call) == 120
    nodes = reports.node_stats(store, reports.ReportFilter())
    assert {n.node_id: n.hits for n in nodes} == dict(oracle.hits(events))
    assert {n.node_id: n.calls for n in nodes} == {
        node: len({v.call_id for v in oracle.visits(events) if v.node_id == node}) for node in oracle.hits(events)
    }
    assert sum(u.calls for u in store.service_uses(SYNTHETIC_FLOW)) == len([e for e in oracle.ends(events) if e.leaf])


def two_hours_apart() -> list[object]:
    """50 calls from 00:00 and 50 from 02:00 on the synthetic day."""
    late = dt.datetime(2026, 11, 1, 2, tzinfo=dt.UTC)
    return all_events(50) + [e for n in range(50, 100) for e in synthetic_call(n, start=late)]


def test_purge_removes_old_calls_and_visits(store: StatsStore, tmp_path: Path) -> None:
    events = two_hours_apart()
    record(store, tmp_path / "spool", events)
    result = store.purge(dt.datetime(2026, 11, 1, 1, 30, tzinfo=dt.UTC))  # rounded down to 01:00
    assert result.cutoff == dt.datetime(2026, 11, 1, 1, tzinfo=dt.UTC)
    assert result.calls == 50
    assert count(store, Call) == 50
    early = [v for v in oracle.visits(events) if v.call_id in {f"call-1-{n}" for n in range(50)}]
    assert result.visits == len(early)
    assert count(store, Visit) == len(oracle.visits(events)) - len(early)
    remaining = {n.node_id: n.hits for n in reports.node_stats(store, reports.ReportFilter())}
    assert remaining == dict(oracle.hits([e for e in events if e not in early]))
    assert count(store, CallerLeaf) > 0


def test_a_shared_store_notes_the_calls_written_long_after_they_ended(stats_url: str) -> None:
    now = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    store = StatsStore.open(stats_url, keyer=KEYER, clock=now.timestamp)

    def ended(call_id: str, minutes_before: float) -> CallRow:
        end = now - dt.timedelta(minutes=minutes_before)
        return call_row(
            call_id=call_id, caller_key="k", flow_id="f", flow_version="1", started_at=end - dt.timedelta(seconds=30),
            ended_at=end, outcome="served", leaf="x", seconds_to_leaf=5.0, final_node="x", path=["root", "x"],
        )  # fmt: skip

    # a spool replayed an hour late, and a call that ended a minute ago
    store.write_batch(Batch(calls=[ended("late", 60), ended("fresh", 1), ended("late-too", 6)]))
    shared = store.announces  # SQLite serves one node, which never has to catch up
    assert count(store, LateCall) == (2 if shared else 0)
    read_back = [c.call_id for c in store.calls_since(["f"], now - dt.timedelta(minutes=5))]
    assert read_back == (["late", "late-too", "fresh"] if shared else ["fresh"])
    store.purge(now + dt.timedelta(hours=1))
    assert count(store, LateCall) == 0 and store.calls_since(["f"], now - dt.timedelta(minutes=5)) == []
    store.close()


def test_recorder_applies_retention(store: StatsStore, tmp_path: Path) -> None:
    record(store, tmp_path / "old", all_events(30))  # calls of 2026-11-01
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    assert recent - dt.datetime(2026, 11, 1, 1, tzinfo=dt.UTC) > dt.timedelta(days=1)
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01, retention=dt.timedelta(days=1))
    play(recorder, [e for n in range(10) for e in synthetic_call(n, flow_version="2", start=recent)])
    recorder.start()
    assert recorder.close(timeout=30)
    assert reports.summary(store, reports.ReportFilter()).calls == 10
    assert reports.flow_versions(store, SYNTHETIC_FLOW) == ["2"]


def test_windows_across_hours_match_the_visits(store: StatsStore, tmp_path: Path) -> None:
    base = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    events = [e for n in range(300) for e in synthetic_call(n, start=base + dt.timedelta(seconds=35 * n))]
    record(store, tmp_path / "spool", events)  # 300 calls, one every 36 s: three hours
    for since, until in [(None, None), (base + dt.timedelta(minutes=30), base + dt.timedelta(hours=2, minutes=10)),
                         (base + dt.timedelta(hours=1), base + dt.timedelta(hours=2)),
                         (base + dt.timedelta(minutes=5), base + dt.timedelta(minutes=50)),
                         (base + dt.timedelta(minutes=61), None), (None, base + dt.timedelta(minutes=119))]:  # fmt: skip
        inside = [
            v for v in oracle.visits(events)
            if (since is None or v.entered_at >= since) and (until is None or v.entered_at < until)
        ]  # fmt: skip
        nodes = {n.node_id: n for n in reports.node_stats(store, reports.ReportFilter(since=since, until=until))}
        assert {k: n.hits for k, n in nodes.items()} == dict(oracle.hits(inside)), (since, until)
        assert nodes["root"].exits == oracle.exits(inside, "root")
        assert nodes["root"].timeouts == sum(v.timeouts for v in inside if v.node_id == "root")


def test_a_node_counts_each_call_that_visited_it_in_the_window(store: StatsStore, tmp_path: Path) -> None:
    # back to main twice and to vaccination once: windows opening between the visits cut the calls
    recorder = StatsRecorder(store, tmp_path / "spool").start()
    results = run_hotline(["1 2 * 1 * 2 1 1 h", "1 2 * 1 * 2 1 1 h", "1 0"], recorder)
    assert recorder.close(timeout=30)
    visits = [v for r in results for v in r.visits]
    for since in sorted({v.entered_at for v in visits}):
        for until in (None, since + dt.timedelta(seconds=30), since + dt.timedelta(hours=1)):
            inside = [v for v in visits if v.entered_at >= since and (until is None or v.entered_at < until)]
            nodes = reports.node_stats(store, reports.ReportFilter(since=since, until=until))
            assert {n.node_id: n.hits for n in nodes} == dict(oracle.hits(inside))
            assert {n.node_id: n.calls for n in nodes} == {
                node: len({v.call_id for v in inside if v.node_id == node}) for node in oracle.hits(inside)
            }, (since, until)


def test_bookmarks(store: StatsStore) -> None:
    key = store.caller_key("+8613800000001")
    store.add_bookmark(key, "hotline", "vacc_sites")
    store.add_bookmark(key, "hotline", "vacc_sites")
    store.add_bookmark(key, "hotline", "food_complaint")
    assert sorted(store.bookmarks("hotline")) == [(key, "food_complaint"), (key, "vacc_sites")]
    store.remove_bookmark(key, "hotline", "vacc_sites")
    assert store.bookmarks("hotline") == [(key, "food_complaint")]
    assert store.bookmarks("other") == []


def test_personal_use_sets_shortcut_takers_beside_the_other_calls(store: StatsStore) -> None:
    at = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)

    def call(call_id: str, flow: str, seconds: float | None, *, personalized: bool, shortcut: bool = False) -> Batch:
        leaf = "food.home" if seconds is not None else None
        row = call_row(
            call_id=call_id, caller_key="k", flow_id=flow, flow_version="1", started_at=at,
            ended_at=at + dt.timedelta(seconds=60), outcome="served" if leaf else "abandoned", leaf=leaf,
            seconds_to_leaf=seconds, final_node=leaf or "main", path=["main", leaf or "main"],
            personalized=personalized, took_shortcut=shortcut,
        )  # fmt: skip
        visit = visit_values(
            call_id, 0, flow, "1", "food.home", "announcement", at, at + dt.timedelta(seconds=5), via_shortcut=shortcut
        )
        return Batch(calls=[row], visits=[visit])

    for batch in (
        call("plain-1", "hotline", 30.0, personalized=False),
        call("plain-2", "hotline", 40.0, personalized=False),
        call("shortcut", "hotline", 8.0, personalized=True, shortcut=True),
        call("menus", "hotline", 35.0, personalized=True),
        call("gave-up", "hotline", None, personalized=True),
        call("elsewhere", "other", 9.0, personalized=True, shortcut=True),
    ):
        store.write_batch(batch)
    for flow, service in (("hotline", "food.home"), ("hotline", "vax.adults.flu"), ("other", "food.home")):
        store.add_bookmark("k", flow, service)
    use = reports.personal_use(store, reports.ReportFilter(flow_id="hotline"))
    assert (use.calls, use.offered, use.took_shortcut, use.bookmarks) == (5, 3, 1, 2)
    assert use.offered_rate == pytest.approx(0.6) and use.shortcut_rate == pytest.approx(1 / 3)
    assert use.via_shortcut == reports.CallGroup(1, 1, 8.0, 8.0)
    assert use.offered_not_taken == reports.CallGroup(2, 1, 35.0, 35.0)  # one gave up before a service
    assert use.not_offered == reports.CallGroup(2, 2, 35.0, 40.0)
    everywhere = reports.personal_use(store, reports.ReportFilter())
    assert (everywhere.calls, everywhere.took_shortcut, everywhere.bookmarks) == (6, 2, 3)
    assert reports.personal_use(store, reports.ReportFilter(flow_id="none")).offered_rate is None
