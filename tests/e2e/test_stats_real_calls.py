"""Node-hit statistics from real calls: what the store counts is exactly what callers pressed."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from e2e_support import stats_settings

from ivr_engine.app import Engine
from ivr_engine.pbx.asterisk import Pbx
from ivr_engine.pbx.sipp import CallSpec
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.reports import ReportFilter, node_stats, summary
from ivr_engine.stats.store import StatsStore

pytestmark = pytest.mark.asterisk

SECRET = "e2e-stats-caller-secret-0123456789"
START = ["welcome", "language.menu"]
# Keys pressed -> the nodes the hotline must take the caller through, written out by hand.
CALLS = {
    "2 1 1 1": [*START, "language.en", "main", "disease", "flu", "flu.symptoms"],
    "2 1 2 1": [*START, "language.en", "main", "disease", "tb", "tb.symptoms"],
    "2 1 3 2": [*START, "language.en", "main", "disease", "hiv", "hiv.testing"],
    "1 1 4 1": [*START, "language.zh", "main", "disease", "hepatitis", "hepatitis.b"],
    "1 1 1 1": [*START, "language.zh", "main", "disease", "flu", "flu.symptoms"],
    "2 1 1 3": [*START, "language.en", "main", "disease", "flu", "flu.vaccine"],
}


async def test_stored_node_counts_match_the_keys_callers_pressed(
    pbx: Pbx, hotline_sounds: Path, use_agi: object, tmp_path: Path
) -> None:
    settings = stats_settings(tmp_path, SECRET)
    engine = Engine.build(settings)
    async with engine.running():
        pbx.set_agi_url(f"agi://127.0.0.1:{engine.service.agi.port}/default")
        specs = [
            CallSpec(keys, from_user=f"1380000{i:04d}", hold_seconds=1.0, default_delay=0.4)
            for i, keys in enumerate(CALLS)
        ]
        results = await asyncio.to_thread(pbx.place_calls, specs)
        assert all(r.answered for r in results)
        async with asyncio.timeout(20):
            while engine.service.calls_finished < len(CALLS):
                await asyncio.sleep(0.1)
    store = StatsStore.open(settings.stats.url, keyer=CallerKeyer(SECRET))
    try:
        hits = {row.node_id: row.hits for row in node_stats(store, ReportFilter())}
        totals = summary(store, ReportFilter())
    finally:
        store.close()
    expected = Counter(node for path in CALLS.values() for node in path)
    assert {node: hits.get(node) for node in expected} == dict(expected)
    # The callers hung up during the leaf's announcement: no node beyond the leaves was entered.
    assert set(hits) == set(expected)
    assert totals.calls == len(CALLS)
