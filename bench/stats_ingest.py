"""Benchmark: node visits ingested into SQLite while calls run, and what recording adds to a call.

The call side plays synthetic calls into a StatsRecorder as fast as it can (worst case: no pauses
for prompts or keys), timing every node_visited; the writer thread commits batches to a fresh SQLite
database meanwhile. Ingest rate = visits / time from the first event until the writer has committed
the last one. Figures are medians over --repeats runs.

    .venv/bin/python bench/stats_ingest.py [--calls 60000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ivr_engine.runtime.events import CallEnded, CallStarted, NodeVisit
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.recorder import StatsRecorder
from ivr_engine.stats.store import StatsStore
from ivr_engine.stats.testing import synthetic_call

KEYER = CallerKeyer("benchmark-secret-0123456789")


def make_events(calls: int, offset: int = 0) -> list[object]:
    return [e for n in range(offset, offset + calls) for e in synthetic_call(n)]


def ingest(store: StatsStore, spool: Path, events: list[object]) -> tuple[float, list[int]]:
    """Play `events`; returns (seconds until all are committed, node_visited latencies in ns)."""
    recorder = StatsRecorder(store, spool, interval=0.05).start()  # the default max_batch, as the engine runs it
    latencies: list[int] = []
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for event in events:
        if isinstance(event, NodeVisit):
            before = clock()
            recorder.node_visited(event)
            latencies.append(clock() - before)
        elif isinstance(event, CallStarted):
            recorder.call_started(event)
        elif isinstance(event, CallEnded):
            recorder.call_ended(event)
    if not recorder.close(timeout=600):
        raise RuntimeError("the writer did not finish")
    elapsed = time.perf_counter() - started
    if recorder.spooled or recorder.written != recorder.recorded:
        raise RuntimeError(f"lost visits: {recorder.counts()}")
    return elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    events = make_events(args.calls)
    visits = sum(isinstance(e, NodeVisit) for e in events)
    rates, p99s, p50s = [], [], []
    for run in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            store = StatsStore.open(f"sqlite:///{tmp}/stats.db", keyer=KEYER)
            elapsed, latencies = ingest(store, Path(tmp) / "spool", events)
            store.close()
        latencies.sort()
        rates.append(visits / elapsed)
        p50s.append(latencies[len(latencies) // 2] / 1000)
        p99s.append(latencies[int(len(latencies) * 0.99)] / 1000)
        print(f"run {run + 1}: {visits} visits in {elapsed:.2f} s = {rates[-1]:,.0f} visits/s; "
              f"node_visited p50 {p50s[-1]:.2f} us, p99 {p99s[-1]:.2f} us")  # fmt: skip
    print(f"median ingest rate: {statistics.median(rates):,.0f} visits/s (SQLite, {args.calls} calls, {visits} visits)")
    print(f"median call-path cost of recording a visit: p50 {statistics.median(p50s):.2f} us, "
          f"p99 {statistics.median(p99s):.2f} us")  # fmt: skip


if __name__ == "__main__":
    main()
