"""`ivr demo`: the product on one machine — Asterisk, the engine on SQLite, a real SIP call that
walks the hotline, and the dashboard.

The demo caller behaves like a person who knows what they want: they listen to each menu until
their option has been read out, then press its key. When that is, the console simulator tells,
run on the same flow and the same measured prompt durations: the real call follows the simulated
one.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ivr_engine.app import Engine
from ivr_engine.config import (
    AGISettings,
    AMISettings,
    Settings,
    StatsSettings,
    WebSettings,
)
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.validate import load_catalog
from ivr_engine.pbx.asterisk import Pbx
from ivr_engine.pbx.dtmf import TONE_SECONDS
from ivr_engine.prompts.clip import Clip
from ivr_engine.prompts.manifest import Manifest
from ivr_engine.runtime.channel import CallInfo
from ivr_engine.runtime.console import ConsoleChannel, parse_script
from ivr_engine.runtime.engine import run_call
from ivr_engine.runtime.events import CallEnded, CallStarted
from ivr_engine.runtime.personal import Personalizer
from ivr_engine.runtime.prompt_source import CatalogPrompts
from ivr_engine.runtime.recording import EventLog

REPO = Path(__file__).resolve().parents[1]
HOTLINE = REPO / "flows" / "hotline-12320.yaml"
AUDIO = REPO / "prompts" / "audio"


async def informed_caller_plan(
    flow_path: Path,
    keys: str,
    audio_dir: Path,
    *,
    caller: str | None = None,
    personalizer: Personalizer | None = None,
) -> list[tuple[float, str]]:
    """(seconds after the previous key's tone ended, key) for each key the caller presses, as
    the simulator's informed caller presses them ("-" lets a menu time out). With the engine's
    personalizer, the caller hears the personal menu the real call will offer them."""
    flow = load_flow(flow_path)
    catalog = load_catalog(flow)
    assert catalog is not None
    channel = ConsoleChannel(CallInfo(call_id="plan", caller=caller), parse_script(keys))
    await run_call(
        flow,
        channel,
        prompts=CatalogPrompts(catalog, Manifest.load(audio_dir)),
        personalizer=personalizer,
        channel_kind="console",
    )
    plan: list[tuple[float, str]] = []
    previous_end = 0.0
    for press in channel.presses:
        plan.append((max(press.at - previous_end, 0.1), press.key))
        previous_end = press.at + TONE_SECONDS
    return plan


@dataclass
class Transcript(EventLog):
    """Every event of the demo's calls, and what each call heard and pressed, printed as it happens."""

    lines: list[str] = field(default_factory=list)
    echo: Callable[[str], None] = print

    def played(self, call_id: str, clip: Clip, key: str | None) -> None:
        if key is None:
            self._say(f"  heard   [{clip.language}] {clip.text}")
        else:
            self._say(f"  pressed {key}   (cutting short: {clip.text})")

    def call_started(self, event: CallStarted) -> None:
        super().call_started(event)
        self._say(f"call {event.call_id} from {event.caller} entered flow {event.flow_id} {event.flow_version}")

    def call_ended(self, event: CallEnded) -> None:
        super().call_ended(event)
        self._say(
            f"call ended: {event.outcome.value}, service {event.leaf}, "
            f"{event.seconds_to_leaf} s to reach it"
        )

    def _say(self, line: str) -> None:
        self.lines.append(line)
        self.echo(line)


def demo_settings(workdir: Path, pbx: Pbx, *, web_port: int, token: str) -> Settings:
    """SQLite statistics in the demo's folder; AMI to the demo's Asterisk for the queue figures."""
    return Settings(
        flows={"default": str(HOTLINE)},
        audio_dir=str(AUDIO),
        voicemail_dir=str(workdir / "voicemail"),
        agi=AGISettings(port=0),
        web=WebSettings(port=web_port, token=token),
        ami=AMISettings(enabled=True, port=pbx.ports.ami, secret=pbx.ami_secret),
        stats=StatsSettings(url=f"sqlite:///{workdir / 'stats.db'}", spool_dir=str(workdir / "spool")),
        base_dir=str(REPO),
    )


async def run_demo(
    *,
    keys: str,
    caller: str,
    workdir: Path,
    web_port: int,
    wait: bool,
    echo: Callable[[str], None] = print,
    pbx: Pbx | None = None,
) -> Transcript:
    """Runs its own Asterisk unless given one that is running (the tests' session PBX)."""
    token = secrets.token_urlsafe(24)
    transcript = Transcript(echo=echo)
    own_pbx = pbx is None
    if pbx is None:
        pbx = Pbx(sounds=AUDIO)
        await asyncio.to_thread(pbx.start)
    try:
        engine = Engine.build(
            demo_settings(workdir, pbx, web_port=web_port, token=token),
            observers=(transcript,),
            on_played=transcript.played,
            dev=True,
        )
        async with engine.running():
            pbx.set_agi_url(f"agi://127.0.0.1:{engine.service.agi.port}/default")
            # A repeat demo caller hears their personal menu first: time the keys for what they hear.
            plan = await informed_caller_plan(
                HOTLINE, keys, AUDIO, caller=caller, personalizer=engine.service.personalizer
            )
            echo(f"placing a SIP call from {caller}; the caller will press {keys!r}")
            result = await asyncio.to_thread(pbx.place_call, plan, hold_seconds=3.0, from_user=caller)
            async with asyncio.timeout(15):
                while not transcript.ended:
                    await asyncio.sleep(0.1)
            echo(f"SIPp: answered={result.answered}, hung up by {result.hung_up_by}")
            echo(f"dashboard: http://127.0.0.1:{web_port}/login  token: {token}")
            if wait:
                echo("Ctrl-C stops the demo")
                await asyncio.Event().wait()
    finally:
        if own_pbx:
            await asyncio.to_thread(pbx.stop)
        else:
            pbx.set_agi_url(None)
    return transcript
