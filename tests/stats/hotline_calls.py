"""Calls walked through the shipped 12320 hotline by the real call runtime, as `ivr simulate` walks
them, so that statistics are checked against what the runtime records rather than made-up rows."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from ivr_engine.flow.loader import load_flow
from ivr_engine.prompts.catalog import PromptCatalog
from ivr_engine.runtime.channel import CallInfo
from ivr_engine.runtime.console import ConsoleChannel, parse_script
from ivr_engine.runtime.engine import CallResult, RuntimeSettings, run_call
from ivr_engine.runtime.events import CallObserver
from ivr_engine.runtime.prompt_source import CatalogPrompts

HOTLINE = Path(__file__).resolve().parents[2] / "flows" / "hotline-12320.yaml"
AT = dt.datetime(2026, 11, 23, 2, tzinfo=dt.UTC)  # a Monday, 10:00 in Shanghai: agents on duty


def run_hotline(
    scripts: list[str], observer: CallObserver, *, queue_status: str = "CONTINUE", first: int = 0
) -> list[CallResult]:
    """One call per key script, a minute apart from AT, each from its own number; numbered from
    `first` (the call id and the minute), so that calls of several runs do not collide."""
    flow = load_flow(HOTLINE)
    assert flow.prompts is not None
    prompts = CatalogPrompts(PromptCatalog.load(Path(flow.prompts)))
    results = []
    for n, script in enumerate(scripts, start=first):
        info = CallInfo(call_id=f"hotline-{n}", caller=_caller(n), language=flow.default_language)
        channel = ConsoleChannel(info, parse_script(script), queue_status=queue_status)
        settings = RuntimeSettings(clock=lambda n=n: _start(n))
        call = run_call(flow, channel, prompts=prompts, observer=observer, settings=settings, channel_kind="console")
        results.append(asyncio.run(call))
    return results


def _start(n: int) -> dt.datetime:
    return AT + dt.timedelta(minutes=n)


def _caller(n: int) -> str:
    return f"+861380000{n:04d}"


def _number(result: CallResult) -> int:
    return int(result.call_id.removeprefix("hotline-"))


def started_at(result: CallResult) -> dt.datetime:
    """When a call `run_hotline` made started."""
    return _start(_number(result))


def caller(result: CallResult) -> str:
    """Who made a call `run_hotline` made."""
    return _caller(_number(result))
