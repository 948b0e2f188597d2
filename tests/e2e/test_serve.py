"""`ivr serve` as operators run it: a separate process from a config file and environment
variables, JSON logs, the dashboard's /healthz and /metrics, statistics, and a graceful stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from e2e_support import AUDIO, REPO
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from ivr_engine.pbx.asterisk import Pbx
from ivr_engine.pbx.sipp import Agent
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.reports import ReportFilter, node_stats
from ivr_engine.stats.store import StatsStore

pytestmark = pytest.mark.asterisk

TOKEN = "serve-test-token-0123456789"
SECRET = "serve-test-caller-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, hotline_sounds: Path, use_agi: Callable[[str], None]) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    agi_port, web_port = free_port(), free_port()
    db = f"sqlite:///{tmp_path / 'stats.db'}"
    config = tmp_path / "ivr.yaml"
    config.write_text(
        f"flows:\n  default: {REPO / 'flows' / 'hotline-12320.yaml'}\n"
        f"audio_dir: {AUDIO}\nvoicemail_dir: {tmp_path / 'voicemail'}\n"
        f"agi: {{port: {agi_port}}}\nweb: {{port: {web_port}}}\n"
        f"stats: {{url: '{db}', spool_dir: {tmp_path / 'spool'}}}\n"
    )
    env = {**os.environ, "IVR_WEB_TOKEN": TOKEN, "IVR_STATS_CALLER_KEY_SECRET": SECRET}
    process = subprocess.Popen(
        [sys.executable, "-m", "ivr_engine.cli.main", "serve", "--config", str(config)],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=tmp_path,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{web_port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "ivr serve did not come up"
        time.sleep(0.2)
    use_agi(f"agi://127.0.0.1:{agi_port}/default")
    try:
        yield process, web_port, db
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def metrics_once_ended(web_port: int, calls: int) -> dict[str, Metric]:
    """The service's metrics once it has ended `calls` calls."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    deadline = time.monotonic() + 15
    while True:
        metrics = httpx.get(f"http://127.0.0.1:{web_port}/metrics", headers=headers).text
        families = {f.name: f for f in text_string_to_metric_families(metrics)}
        ended = sum(s.value for s in families["ivr_calls_ended"].samples if s.name.endswith("_total"))
        if ended == calls:
            return families
        assert time.monotonic() < deadline, metrics
        time.sleep(0.2)


def test_serve_answers_calls_logs_json_and_stops_gracefully(
    served: tuple[subprocess.Popen[str], int, str], pbx: Pbx
) -> None:
    process, web_port, db = served
    result = pbx.place_call("2 1 1 1", hold_seconds=2.0, from_user="13900000009")
    assert result.answered
    families = metrics_once_ended(web_port, 1)
    hits = {
        s.labels["node"]: s.value
        for s in families["ivr_node_hits"].samples
        if s.name.endswith("_total")
    }
    assert hits["flu"] == 1 and hits["main"] == 1

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert process.stderr is not None
    lines = [json.loads(line) for line in process.stderr.read().splitlines() if line.startswith("{")]
    on_node = [line for line in lines if line.get("node") == "flu"]
    assert on_node and all(line["caller"] == "13900000009" and line["call_id"] for line in on_node)

    store = StatsStore.open(db, keyer=CallerKeyer(SECRET))
    try:
        counts = {row.node_id: row.hits for row in node_stats(store, ReportFilter())}
    finally:
        store.close()
    assert counts["flu"] == 1 and counts["flu.symptoms"] == 1


def reading(pbx: Pbx, prompt: str) -> bool:
    """Whether a caller's channel is in a Read that plays `prompt` (Asterisk's own view)."""
    return f"/{prompt}&" in pbx.cli("core show channels concise")


def test_a_caller_whose_engine_is_killed_during_the_personal_menu_reaches_the_operator(
    served: tuple[subprocess.Popen[str], int, str], pbx: Pbx, start_agent: Callable[..., Agent]
) -> None:
    process, web_port, _ = served
    agent = start_agent("agent1")
    assert pbx.place_call("2 1 1 1", hold_seconds=1.0, from_user="13900000010").answered
    metrics_once_ended(web_port, 1)  # the caller's history counts from the call's end
    with ThreadPoolExecutor(1) as pool:
        # English, then a shortcut's key once the engine is gone and Read has played its part
        call = pool.submit(pbx.place_call, [(0.5, "2"), (6.0, "6")], hold_seconds=4.0, from_user="13900000010")
        deadline = time.monotonic() + 10
        while not reading(pbx, "personal.greeting"):
            assert time.monotonic() < deadline and not call.done(), "no personal menu played"
            time.sleep(0.1)
        process.kill()
        process.wait()
        result = call.result()
    # Asterisk finished the Read it was in, then found the engine gone: the caller went to the
    # operators rather than being hung up on.
    assert result.hung_up_by == "caller"
    agent.wait(answered=1)
    hangups = [line for line in pbx.messages_log.read_text(errors="replace").splitlines() if "IVR hangup" in line]
    assert any("caller=13900000010" in line and "fallback=LOST" in line for line in hangups)
