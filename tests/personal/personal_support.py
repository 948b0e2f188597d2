"""The real hotline with every prompt catalog (personal prompts included), and call helpers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ivr_engine.flow import model as m
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import Flow
from ivr_engine.personal.menus import PersonalMenus, PersonalParams
from ivr_engine.prompts.catalog import PromptCatalog
from ivr_engine.prompts.manifest import Manifest
from ivr_engine.runtime.channel import CallInfo
from ivr_engine.runtime.console import ConsoleChannel, parse_script
from ivr_engine.runtime.engine import CallResult, RuntimeSettings, run_call
from ivr_engine.runtime.events import CallEnded, CallObserver, CallStarted, Outcome
from ivr_engine.runtime.personal import Personalizer
from ivr_engine.runtime.prompt_source import CatalogPrompts
from ivr_engine.stats.privacy import CallerKeyer

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = ROOT / "flows" / "hotline-12320.yaml"
CALLER = "13800000000"
SECRET = "personal-menu-test-secret"
AT = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Asia/Shanghai: desks open
_ids = itertools.count()


@cache
def hotline() -> Flow:
    return load_flow(HOTLINE)


@cache
def prompts() -> CatalogPrompts:
    """The prompts directory (hotline, dynamic and personal texts), timed by the built audio."""
    return CatalogPrompts(PromptCatalog.load(ROOT / "prompts"), Manifest.load(ROOT / "prompts" / "audio"))


@cache
def zero_keyed() -> Flow:
    """The hotline with an option on key 0: a version the personal menus cannot take."""
    main = hotline().nodes["main"]
    assert isinstance(main, m.Menu)
    zero = m.MenuOption(key="0", target="survey", prompt="opt.feedback.4")
    nodes = {**hotline().nodes, "main": dataclasses.replace(main, options=(*main.options, zero))}
    return dataclasses.replace(hotline(), keys=m.KeyBindings(operator=None), nodes=nodes)


def keyer() -> CallerKeyer:
    return CallerKeyer(SECRET)


class Clock:
    def __init__(self, at: dt.datetime = AT) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at.timestamp()

    def advance(self, days: float) -> dt.datetime:
        self.at += dt.timedelta(days=days)
        return self.at


def personal_menus(clock: Clock, params: PersonalParams = PersonalParams(), flow: Flow | None = None) -> PersonalMenus:
    menus = PersonalMenus(key_of=keyer().key, params=params, clock=clock)
    menus.add_flow(flow or hotline(), prompts())
    return menus


def served(menus: PersonalMenus, leaf: str, at: dt.datetime, caller: str = CALLER, flow: Flow | None = None) -> str:
    """What the runtime tells an observer about a call that ended at `leaf`; the call's id."""
    flow = flow or hotline()
    call_id = f"call-{next(_ids)}"
    menus.call_started(CallStarted(call_id, caller, flow.id, flow.version, at, "console"))
    menus.call_ended(CallEnded(call_id, at, Outcome.SERVED, leaf, leaf, 20.0))
    return call_id


@dataclass
class Heard:
    result: CallResult
    channel: ConsoleChannel

    @property
    def prompts(self) -> list[str]:
        return [h.prompt_id for h in self.channel.heard]

    @property
    def menu_keys(self) -> list[str]:
        """Keys that chose a menu option or a shortcut on the way to the service."""
        return [v.key for v in self.result.visits if v.node_kind == "menu" and v.key]


async def console_call(
    script: str,
    *,
    personalizer: Personalizer | None,
    observer: CallObserver | None = None,
    caller: str | None = CALLER,
    at: dt.datetime = AT,
    tmp: Path,
) -> Heard:
    """A real runtime call over the console channel on the hotline, in English."""
    info = CallInfo(call_id=f"console-{next(_ids)}", caller=caller, language="en")
    channel = ConsoleChannel(info, parse_script(script), recordings_dir=tmp)
    result = await run_call(
        hotline(),
        channel,
        prompts=prompts(),
        observer=observer,
        personalizer=personalizer,
        settings=RuntimeSettings(voicemail_dir=tmp, clock=lambda: at),
        channel_kind="console",
    )
    return Heard(result, channel)
