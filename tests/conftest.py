"""Shared fixtures for every test folder: the real-Asterisk harness (session-scoped PBX, SIPp
agents) and the statistics databases (SQLite, and a real throwaway PostgreSQL server)."""

from collections.abc import Iterator

import pytest
import structlog

pytest_plugins = ["ivr_engine.pbx.pytest_fixtures", "ivr_engine.stats.testing"]


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """CLI commands run in-process configure logging globally (level filter included); later
    tests that capture log lines must not inherit that."""
    yield
    structlog.reset_defaults()
