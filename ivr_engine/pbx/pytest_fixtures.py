"""Pytest fixtures for tests that place real calls: one Asterisk per test session.

Load with `pytest_plugins = ["ivr_engine.pbx.pytest_fixtures"]` in tests/conftest.py. Tests that use
these fixtures are marked `@pytest.mark.asterisk`. If the Asterisk root cannot be built (no root
privileges, no mmdebstrap, no mirror), they are skipped with the reason in capitals, never passed.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import Callable, Iterator

import pytest

from ivr_engine.pbx.asterisk import Pbx
from ivr_engine.pbx.root import RootError, build_root
from ivr_engine.pbx.sipp import Agent


@pytest.fixture(scope="session")
def pbx() -> Iterator[Pbx]:
    """The running Asterisk, shared by the whole session; ports from IVR_PBX_* (SIP 15060 by default)."""
    try:
        build_root()
    except RootError as exc:
        message = (
            f"REAL-ASTERISK TESTS SKIPPED: the Asterisk root cannot be built: {exc}"
        )
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    harness = Pbx()
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture
def use_agi(pbx: Pbx) -> Iterator[Callable[[str], None]]:
    """Point the PBX's calls at a FastAGI URL for this test; the default is restored afterwards."""
    yield pbx.set_agi_url
    pbx.set_agi_url(None)


@pytest.fixture
def unreachable_agi_url() -> Iterator[str]:
    """A FastAGI URL where nothing listens: the port is held bound (not listening) for the test,
    so no other program can take it and connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"agi://127.0.0.1:{holder.getsockname()[1]}/default"


@pytest.fixture
def start_agent(pbx: Pbx) -> Iterator[Callable[..., Agent]]:
    """start_agent("agent1", talk_seconds=None) -> a SIPp agent the queues can ring; stopped after the test."""
    started: list[Agent] = []

    def start(name: str, port: int | None = None, **options: object) -> Agent:
        agent = pbx.start_agent(name, port, **options)  # type: ignore[arg-type]
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()
    # The next test must not find these agents reachable from a stale OPTIONS result.
    if pbx.running_pid() is not None:
        for agent in started:
            pbx.wait_agent(agent.name, reachable=False)
