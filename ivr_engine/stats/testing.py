"""Pytest fixtures for a real, throwaway PostgreSQL server and a statistics database per test.

Use from a conftest: `pytest_plugins = ["ivr_engine.stats.testing"]`. `postgres_server` starts
Debian's PostgreSQL (initdb + pg_ctl as the `postgres` user, trust auth, 127.0.0.1 on a free port,
data and socket in a temporary directory) once per session. `stats_url` is parametrised over sqlite
and postgresql (the latter marked `postgres`), with a fresh empty database for each test.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ivr_engine.runtime.events import (
    CallEnded,
    CallObserver,
    CallStarted,
    NodeVisit,
    Outcome,
)

PG_USER = "postgres"

# A small hotline for synthetic calls: root menu -> service menus -> leaves.
SYNTHETIC_TREE: dict[str, tuple[str, ...]] = {
    "root": ("vaccination", "outbreak", "food_safety"),
    "vaccination": ("vacc_schedule", "vacc_sites", "vacc_side_effects"),
    "outbreak": ("outbreak_report", "outbreak_news"),
    "food_safety": ("food_complaint",),
}
OPERATOR = "operator_queue"
SYNTHETIC_FLOW = "synthetic"


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found under /usr/lib/postgresql (apt-get install postgresql)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory; stop() and start() let tests take it away."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ivr-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        account = pwd.getpwnam(PG_USER) if os.geteuid() == 0 else None
        if account is not None:
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._as_user = ["runuser", "-u", PG_USER, "--"] if account is not None else []
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-sync")

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, text=True)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={PG_USER} dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def stats_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'stats.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


def synthetic_call(number: int, *, flow_version: str = "1", start: dt.datetime | None = None) -> list[object]:
    """The events of call `number`: deterministic, varied outcomes (served, abandoned, zero-out,
    timeouts, invalid keys), 2 to 4 visits each. Callers repeat (every 30th number, mostly for the same leaf), so
    caller-to-leaf counts exceed one."""
    start = start or dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    call_id = f"call-{flow_version}-{number}"
    began = start + dt.timedelta(seconds=number)
    caller = f"+86138{number % 30:08d}"
    events: list[object] = [CallStarted(call_id, caller, SYNTHETIC_FLOW, flow_version, began, "agi")]
    clock = began
    path: list[tuple[str, str, str | None, int, int]] = []  # node, kind, key, timeouts, invalid
    fate = number % 10
    node = "root"
    while node in SYNTHETIC_TREE:
        children = SYNTHETIC_TREE[node]
        if fate == 7 and node != "root":  # abandons in a service menu
            path.append((node, "menu", None, 1, 0))
            break
        if fate == 8:  # zeroes out from the menu it is in
            path.append((node, "menu", "0", 0, number % 2))
            node = OPERATOR
            break
        index = number // 10 % len(children)
        path.append((node, "menu", str(index + 1), number % 3 == 0, 0))
        node = children[index]
    if fate != 7:
        path.append((node, "queue" if node == OPERATOR else "announcement", None, 0, 0))
    leaf_index = next((i for i, step in enumerate(path) if step[1] != "menu"), None)
    seconds_to_leaf = None
    for seq, (node_id, kind, key, timeouts, invalid) in enumerate(path):
        left = clock + dt.timedelta(seconds=3 + seq)
        if seq == leaf_index and node_id != OPERATOR:
            seconds_to_leaf = (clock - began).total_seconds()
        events.append(NodeVisit(call_id, seq, node_id, kind, clock, left, key, int(timeouts), invalid))
        clock = left
    outcome = {7: Outcome.ABANDONED, 8: Outcome.ZEROED_OUT}.get(fate, Outcome.SERVED)
    leaf = path[-1][0] if outcome is Outcome.SERVED else None
    events.append(CallEnded(call_id, clock, outcome, path[-1][0], leaf, seconds_to_leaf if leaf else None))
    return events


def play(observer: CallObserver, events: list[object]) -> None:
    """Hand events to an observer the way the call runtime does."""
    for event in events:
        if isinstance(event, CallStarted):
            observer.call_started(event)
        elif isinstance(event, NodeVisit):
            observer.node_visited(event)
        elif isinstance(event, CallEnded):
            observer.call_ended(event)
