from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient
from web_fixtures import engine_settings, make_app

import ivr_engine.app
from ivr_engine.app import Engine
from ivr_engine.metrics import IvrMetrics, LiveCalls
from ivr_engine.stats.store import create_stats_engine
from ivr_engine.web.health import CachedCheck, CheckResult


def database_down() -> CheckResult:
    raise ConnectionError("connection refused")


async def ami_logged_in() -> CheckResult:
    return CheckResult(True, "logged in as ivr-engine")


def test_healthz_is_ok_when_every_check_is(metrics: IvrMetrics, live_calls: LiveCalls) -> None:
    checks = {"ami": ami_logged_in, "agi": lambda: CheckResult(True, "listening on 127.0.0.1:4573")}
    response = TestClient(make_app(metrics, live_calls, checks=checks)).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "checks": {
            "ami": {"ok": True, "detail": "logged in as ivr-engine"},
            "agi": {"ok": True, "detail": "listening on 127.0.0.1:4573"},
        },
    }


def test_healthz_is_503_when_a_check_fails_or_raises(metrics: IvrMetrics, live_calls: LiveCalls) -> None:
    checks = {
        "ami": lambda: CheckResult(False, "not logged in"),
        "stats_db": database_down,
        "agi": lambda: CheckResult(True),
    }
    response = TestClient(make_app(metrics, live_calls, checks=checks)).get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "ok": False,
        "checks": {
            "ami": {"ok": False, "detail": "not logged in"},
            "stats_db": {"ok": False, "detail": "ConnectionError: connection refused"},
            "agi": {"ok": True, "detail": ""},
        },
    }


def test_healthz_without_checks_is_ok(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").json() == {"ok": True, "checks": {}}


def test_a_cached_check_runs_at_most_once_per_period() -> None:
    now = [100.0]
    runs: list[float] = []

    def check() -> CheckResult:
        runs.append(now[0])
        if len(runs) == 2:
            raise ConnectionError("connection refused")
        return CheckResult(True, f"run {len(runs)}")

    cached = CachedCheck(check, seconds=5.0, clock=lambda: now[0])
    assert cached() == cached() == CheckResult(True, "run 1")
    now[0] += 4.9
    assert cached() == CheckResult(True, "run 1")
    now[0] += 0.1
    assert cached() == CheckResult(False, "ConnectionError: connection refused")  # a failure is cached too
    now[0] += 5.0
    assert cached() == CheckResult(True, "run 3")
    assert runs == [100.0, 105.0, 110.0]


def test_polls_during_a_slow_check_answer_from_the_last_result() -> None:
    now = [100.0]
    running, release = threading.Event(), threading.Event()

    def check() -> CheckResult:
        if now[0] > 100.0:  # the second run hangs, as on a database host gone silent
            running.set()
            release.wait(10)
            return CheckResult(False, "timed out")
        return CheckResult(True, "first")

    cached = CachedCheck(check, seconds=5.0, clock=lambda: now[0])
    assert cached() == CheckResult(True, "first")
    now[0] += 5.0
    slow = threading.Thread(target=cached)
    slow.start()
    assert running.wait(10)
    assert cached() == CheckResult(True, "first")  # answered at once, not after the hung run
    release.set()
    slow.join(10)
    assert cached() == CheckResult(False, "timed out")


def test_a_postgresql_server_that_never_answers_times_out(tmp_path: Path) -> None:
    # a port that accepts and says nothing: libpq alone would wait for it for ever
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        engine = create_stats_engine(f"postgresql+psycopg://ivr@127.0.0.1:{port}/ivr")
        with pytest.raises(sa.exc.OperationalError, match="timeout"):
            engine.connect()
        engine.dispose()


def test_the_engine_health_reports_a_statistics_database_it_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ivr_engine.app, "HEALTH_CACHE_SECONDS", 0.0)  # every poll asks the database
    engine = Engine.build(engine_settings(tmp_path))
    try:
        client = TestClient(engine.web_server().config.app)
        healthy = client.get("/healthz")
        assert healthy.status_code == 200 and healthy.json()["checks"]["stats"]["ok"]
        with engine.store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE stats_calls RENAME TO stats_calls_gone")
        broken = client.get("/healthz")
        assert broken.status_code == 503
        assert broken.json()["checks"]["stats"] == {
            "ok": False, "detail": "database cannot be read: no such table: stats_calls"
        }  # fmt: skip
    finally:
        engine.close()
