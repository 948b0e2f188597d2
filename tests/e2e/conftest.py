"""Real calls end to end: SIPp callers -> Asterisk 22 -> FastAGI -> the engine's service.

The engine runs in the test's event loop on an ephemeral port; the session's PBX is pointed at it.
Prompt audio is the repository's own, built with espeak-ng (cached by text hash) when the session
starts and installed into Asterisk's sounds directory once per session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from e2e_support import AUDIO, Engine, EventLog, engine_settings

from ivr_engine.pbx.asterisk import Pbx
from ivr_engine.service import Service


@pytest.fixture(scope="session")
def hotline_sounds(pbx: Pbx) -> Path:
    return pbx.install_sounds(AUDIO)  # built at session start (tests/conftest.py)


@pytest.fixture
async def engine(
    pbx: Pbx, hotline_sounds: Path, use_agi: Callable[[str], None], tmp_path: Path
) -> AsyncIterator[Engine]:
    events = EventLog()
    service = Service(engine_settings(tmp_path), observers=[events])
    await service.start()
    use_agi(f"agi://127.0.0.1:{service.agi.port}/default")
    try:
        yield Engine(service, events, pbx, use_agi)
    finally:
        await service.stop(grace=5.0)
