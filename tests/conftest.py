"""Shared fixtures for every test folder: the real-Asterisk harness (session-scoped PBX, SIPp
agents) and the statistics databases (SQLite, and a real throwaway PostgreSQL server)."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

pytest_plugins = ["ivr_engine.pbx.pytest_fixtures", "ivr_engine.stats.testing"]
REPO = Path(__file__).resolve().parents[1]


def pytest_sessionstart(session: pytest.Session) -> None:
    """The repository's prompt audio (espeak-ng, cached by text: a no-op when current), which many
    tests time menus by: built before any test, so that a folder run alone finds it too."""
    subprocess.run(
        [sys.executable, "-m", "ivr_engine.cli.main", "prompts", "build", "--engine", "espeak",
         "--prompts", str(REPO / "prompts"), "--out", str(REPO / "prompts" / "audio")],
        check=True, cwd=REPO, stdout=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """CLI commands run in-process configure logging globally (level filter included); later
    tests that capture log lines must not inherit that."""
    yield
    structlog.reset_defaults()
