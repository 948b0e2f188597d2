"""What the real-call tests share: the engine in the test's event loop and its event log."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ivr_engine.config import AGISettings, Settings, StatsSettings, WebSettings
from ivr_engine.pbx.asterisk import Pbx
from ivr_engine.pbx.sipp import CallResult, KeyPlan
from ivr_engine.runtime.events import CallEnded
from ivr_engine.runtime.recording import EventLog
from ivr_engine.service import Service

REPO = Path(__file__).resolve().parents[2]
AUDIO = REPO / "prompts" / "audio"


def engine_settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        flows={
            "default": str(REPO / "flows" / "hotline-12320.yaml"),
            "screen-pop": str(REPO / "tests" / "data" / "e2e" / "screen-pop.yaml"),
        },
        audio_dir=str(AUDIO),
        voicemail_dir=str(tmp_path / "voicemail"),
        agi=AGISettings(port=0),
        base_dir=str(REPO),
        **overrides,  # type: ignore[arg-type]
    )


def stats_settings(tmp_path: Path, secret: str, **overrides: Any) -> Settings:
    """Settings of a whole engine (statistics on SQLite in tmp_path, no dashboard)."""
    stats = StatsSettings(
        url=f"sqlite:///{tmp_path / 'stats.db'}",
        spool_dir=str(tmp_path / "spool"),
        caller_key_secret=secret,
    )
    return engine_settings(tmp_path, stats=stats, web=WebSettings(enabled=False), **overrides)


@dataclasses.dataclass
class Engine:
    service: Service
    events: EventLog
    pbx: Pbx
    use_agi: Callable[[str], None]

    def route_to(self, script: str) -> None:
        """Send the PBX's next calls to another of this engine's flows (the AGI script name)."""
        self.use_agi(f"agi://127.0.0.1:{self.service.agi.port}/{script}")

    async def call(self, keys: KeyPlan, **options: Any) -> CallResult:
        """One real SIPp call (in a thread: SIPp blocks) into the PBX that reaches this engine."""
        result = await asyncio.to_thread(self.pbx.place_call, keys, **options)
        assert result.answered, result.errors
        return result

    async def ended(self, count: int = 1, within: float = 15.0) -> list[CallEnded]:
        """The engine ends its side of a call a moment after the caller's BYE: wait for it."""
        async with asyncio.timeout(within):
            while len(self.events.ended) < count:
                await asyncio.sleep(0.05)
        return self.events.ended


