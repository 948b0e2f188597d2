from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from web_fixtures import TOKEN, make_app

from ivr_engine.metrics import IvrMetrics, LiveCalls, MetricsObserver
from ivr_engine.stats.testing import postgres_server, stats_url  # noqa: F401  (SQLite and PostgreSQL stores)


@pytest.fixture
def metrics() -> IvrMetrics:
    return IvrMetrics()


@pytest.fixture
def live_calls() -> LiveCalls:
    return LiveCalls()


@pytest.fixture
def observer(metrics: IvrMetrics, live_calls: LiveCalls) -> MetricsObserver:
    return MetricsObserver(metrics, live_calls)


@pytest.fixture
def anonymous(metrics: IvrMetrics, live_calls: LiveCalls) -> TestClient:
    return TestClient(make_app(metrics, live_calls), follow_redirects=False)


@pytest.fixture
def client(metrics: IvrMetrics, live_calls: LiveCalls) -> TestClient:
    return TestClient(
        make_app(metrics, live_calls), headers={"Authorization": f"Bearer {TOKEN}"}
    )
