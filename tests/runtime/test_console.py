from __future__ import annotations

import json
from pathlib import Path

import pytest
from runtime_support import AT, catalog, edit, hotline, replace_node, simulate

from ivr_engine.flow import model as m
from ivr_engine.runtime.channel import CallerHangup, CallInfo
from ivr_engine.runtime.console import ConsoleChannel, parse_script
from ivr_engine.runtime.engine import RuntimeSettings
from ivr_engine.runtime.events import Outcome
from ivr_engine.runtime.keypad import OptionClip


def test_key_scripts() -> None:
    assert parse_script(" 2 1  # ") == ["2", "1", "#"]
    assert parse_script("** 1234# - h") == ["*", "*", "1", "2", "3", "4", "#", "-", "h"]
    with pytest.raises(ValueError, match="'2a'"):
        parse_script("1 2a")


async def test_an_informed_caller_presses_at_the_end_of_the_clip_offering_the_key() -> None:
    clips = [catalog().clip(p, "en") for p in ("root.header", "root.vaccination", "root.food")]
    offered = [clips[0], OptionClip.of(clips[1], "1"), OptionClip.of(clips[2], "2")]
    channel = ConsoleChannel(CallInfo("c", None), ["1", "0"])
    assert await channel.play(offered, "0123456789*#") == "1"
    assert channel.now() == pytest.approx(clips[0].duration + clips[1].duration)
    assert await channel.play(offered, "0123456789*#") is None  # 0 is offered by no clip
    assert await channel.wait_digit(5.0) == "0"
    assert [p.key for p in channel.presses] == ["1", "0"]


async def test_keys_outside_the_escape_digits_wait_for_the_prompt_to_end() -> None:
    clip = catalog().clip("food.info", "en")
    channel = ConsoleChannel(CallInfo("c", None), ["5"], typeahead=True)
    assert await channel.play([clip], "") is None
    assert channel.now() == clip.duration
    assert await channel.wait_digit(5.0) == "5"


async def test_after_hanging_up_every_operation_raises() -> None:
    channel = ConsoleChannel(CallInfo("c", None), ["h"])
    with pytest.raises(CallerHangup):
        await channel.wait_digit(1.0)
    with pytest.raises(CallerHangup):
        await channel.set_variable("a", "b")


async def test_a_silent_caller_gives_up_after_its_patience() -> None:
    flow = edit(hotline(), "root", on_exhausted="root")
    call = await simulate(flow, channel_options={"patience": 60.0})
    assert call.result.outcome is Outcome.ABANDONED
    assert 60.0 < call.result.seconds < 120.0
    assert set(call.result.path) == {"root"}


async def test_hanging_up_during_the_recording_keeps_the_message(tmp_path: Path) -> None:
    flow = replace_node(hotline(), m.Voicemail(id="complaint", mailbox="complaints", next="food"))
    settings = RuntimeSettings(voicemail_dir=tmp_path, clock=lambda: AT)
    call = await simulate(flow, "3 h", settings=settings, channel_options={"recordings_dir": tmp_path})
    (sidecar,) = tmp_path.rglob("*.json")
    assert json.loads(sidecar.read_text())["ended_by"] == "hangup"
    assert call.result.path == ["root", "complaint"]
    assert call.result.outcome is Outcome.SERVED
