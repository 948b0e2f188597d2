from __future__ import annotations

from starlette.testclient import TestClient
from web_fixtures import make_app

from ivr_engine.metrics import IvrMetrics, LiveCalls
from ivr_engine.web.health import CheckResult


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
