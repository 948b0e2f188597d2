"""Benchmark: reports over one million node visits in SQLite.

Fills a database through the real recorder (synthetic calls, about 2.8 visits each) unless the
file given with --db already holds the visits, then times each report function of
ivr_engine.stats.reports, whole flow and a one-day window; medians over --repeats runs.

    .venv/bin/python bench/stats_report.py [--db /tmp/stats-bench.db] [--visits 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from stats_ingest import KEYER, ingest, make_events

from ivr_engine.runtime.events import NodeVisit
from ivr_engine.stats import reports
from ivr_engine.stats.store import StatsStore
from ivr_engine.stats.testing import SYNTHETIC_FLOW

CHUNK_CALLS = 50_000
FIRST_DAY = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)  # synthetic calls start here, one a second


def fill(store: StatsStore, spool: Path, visits: int) -> None:
    have = reports.summary(store, reports.ReportFilter()).visits
    calls = 0
    while have < visits:
        events = make_events(CHUNK_CALLS, offset=calls)
        ingest(store, spool, events)
        have += sum(isinstance(e, NodeVisit) for e in events)
        calls += CHUNK_CALLS
        print(f"  filled {have:,} visits")


def timed(repeats: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/stats-bench.db"))
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    store = StatsStore.open(f"sqlite:///{args.db}", keyer=KEYER)
    fill(store, args.db.parent / "stats-bench-spool", args.visits)
    whole = reports.ReportFilter(flow_id=SYNTHETIC_FLOW)
    summary = reports.summary(store, whole)
    print(f"database: {summary.visits:,} visits, {summary.calls:,} calls")
    day = reports.ReportFilter(flow_id=SYNTHETIC_FLOW, since=FIRST_DAY, until=FIRST_DAY + dt.timedelta(days=1))
    for label, flt in (("whole flow", whole), ("one day", day)):
        figures = {
            "summary": lambda flt=flt: reports.summary(store, flt),
            "node_stats": lambda flt=flt: reports.node_stats(store, flt),
            "common_paths": lambda flt=flt: reports.common_paths(store, flt),
            "edge_counts": lambda flt=flt: reports.edge_counts(store, flt),
            "personal_use": lambda flt=flt: reports.personal_use(store, flt),
        }
        total = 0.0
        for name, run in figures.items():
            seconds = timed(args.repeats, run)
            total += seconds
            print(f"{label:>10}  {name:<13} {seconds * 1000:8.1f} ms")
        print(f"{label:>10}  {'all':<13} {total * 1000:8.1f} ms  (median of {args.repeats} each)")
    store.close()


if __name__ == "__main__":
    main()
