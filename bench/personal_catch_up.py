"""Benchmark: what a node of several on one PostgreSQL store pays to catch up on what it missed.

Starts a throwaway PostgreSQL server (Debian's, as the tests do), records --calls calls at the
hotline's services over the --hours before now from --callers callers (a tenth of them with a
bookmark), loads personal menus from it as a node starting up does (`PersonalMenus.from_store`,
shared), then times `missed_since` for windows as long as a node may have been away, and the steps
it hands the event loop: their total and the longest one, which is how long calls wait on it; and
the whole history read late, as for a flow that becomes personal on a reload, with the longest a
task waits for the event loop meanwhile. Medians over --repeats runs.

    .venv/bin/python bench/personal_catch_up.py [--calls 200000] [--hours 10] [--callers 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import time
from pathlib import Path

from ivr_engine.flow.loader import load_flow
from ivr_engine.personal.menus import PersonalMenus
from ivr_engine.prompts.catalog import PromptCatalog
from ivr_engine.prompts.manifest import Manifest
from ivr_engine.runtime.prompt_source import CatalogPrompts
from ivr_engine.stats.batch import Batch, call_row
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.store import StatsStore
from ivr_engine.stats.testing import PostgresServer

ROOT = Path(__file__).resolve().parents[1]
KEYER = CallerKeyer("bench-personal-catch-up")
BATCH_SECONDS = 180.0  # calls are written in batches of 3 minutes of calls as they end: none late (LateCall)
WINDOWS_MINUTES = (1, 60, 600)  # away for: a blip, an hour, a night


def fill(store: StatsStore, services: list[str], flow_id: str, args: argparse.Namespace, now: float) -> None:
    rng = random.Random(1)
    keys = [KEYER.key(f"1380{n:07d}") for n in range(args.callers)]
    favourite = [rng.choice(services) for _ in keys]
    span = args.hours * 3600.0
    batch = max(1, int(args.calls * BATCH_SECONDS / span))
    for first in range(0, args.calls, batch):
        rows = []
        for n in range(first, min(first + batch, args.calls)):
            caller = rng.randrange(args.callers)
            leaf = favourite[caller] if rng.random() < 0.7 else rng.choice(services)
            ended = dt.datetime.fromtimestamp(now - span + span * n / args.calls, dt.UTC)
            rows.append(
                call_row(
                    call_id=f"{now:.0f}.{n}", caller_key=keys[caller], flow_id=flow_id, flow_version="1",
                    started_at=ended - dt.timedelta(seconds=40), ended_at=ended, outcome="served", leaf=leaf,
                    seconds_to_leaf=25.0, final_node=leaf, path=["main", leaf],
                )  # fmt: skip
            )
        store.clock = ended.timestamp  # the last of the batch has just ended
        store.write_batch(Batch(calls=rows))
    store.clock = time.time
    for caller in range(0, args.callers, 10):
        store.add_bookmark(keys[caller], flow_id, favourite[caller])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--hours", type=float, default=10.0)
    parser.add_argument("--callers", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    flow = load_flow(ROOT / "flows" / "hotline-12320.yaml")
    prompts = CatalogPrompts(PromptCatalog.load(ROOT / "prompts"), Manifest.load(ROOT / "prompts" / "audio"))
    server = PostgresServer()
    server.start()
    try:
        store = StatsStore.open(server.create_database(), keyer=KEYER)
        now = time.time()
        probe = PersonalMenus(key_of=KEYER.key)
        services = sorted(probe.add_flow(flow, prompts).canonical)
        started = time.perf_counter()
        fill(store, services, flow.id, args, now)
        print(f"recorded {args.calls:,} calls over {args.hours:g} h from {args.callers:,} callers "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        loads = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            menus = PersonalMenus.from_store(store, [(flow, prompts)], shared=True)
            loads.append(time.perf_counter() - started)
        print(f"start-up load (one REPEATABLE READ transaction): {statistics.median(loads):.2f} s, "
              f"{len(menus):,} callers")  # fmt: skip
        print("| away for | calls read | read s | applied s | longest step ms |")
        print("|---:|---:|---:|---:|---:|")
        for minutes in WINDOWS_MINUTES:
            since = now - minutes * 60.0
            calls = len(store.calls_since([flow.id], dt.datetime.fromtimestamp(since, dt.UTC)))
            reads, applies, longest = [], [], []
            for _ in range(args.repeats):
                # a node that loaded before the window: every call in it is new to it
                menus = PersonalMenus(key_of=KEYER.key, store=store, shared=True)
                menus.add_flow(flow, prompts)
                menus.load(flow.id, [], [])  # its history (before the window) read at start-up
                started = time.perf_counter()
                steps = menus.missed_since(since)
                reads.append(time.perf_counter() - started)
                times = []
                for step in steps:
                    started = time.perf_counter()
                    step()
                    times.append(time.perf_counter() - started)
                applies.append(sum(times))
                longest.append(max(times) * 1000)
            print(f"| {minutes} min | {calls:,} | {statistics.median(reads):.3f} | "
                  f"{statistics.median(applies):.3f} | {statistics.median(longest):.1f} |")  # fmt: skip
        totals, lags = [], []
        for _ in range(args.repeats):
            # a flow that becomes personal on a reload: its whole history read while calls go on
            menus = PersonalMenus(key_of=KEYER.key, store=store, shared=True)
            menus.add_flow(flow, prompts)
            total, lag = asyncio.run(late_history(menus))
            totals.append(total)
            lags.append(lag * 1000)
        print(f"history read on a reload (load_missing_history): {statistics.median(totals):.2f} s, "
              f"the event loop held at most {statistics.median(lags):.1f} ms")  # fmt: skip
        store.close()
    finally:
        server.remove()


async def late_history(menus: PersonalMenus) -> tuple[float, float]:
    """Seconds `load_missing_history` takes, and the longest a task then waits for the loop."""
    lag = 0.0

    async def ticks() -> None:
        nonlocal lag
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0)
            lag = max(lag, time.perf_counter() - before)

    ticking = asyncio.create_task(ticks())
    await asyncio.sleep(0)
    started = time.perf_counter()
    await menus.load_missing_history()
    total = time.perf_counter() - started
    ticking.cancel()
    return total, lag


if __name__ == "__main__":
    main()
