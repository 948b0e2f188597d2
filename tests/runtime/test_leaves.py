from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest
from runtime_support import AT, hotline, replace_node, simulate

from ivr_engine.flow import model as m
from ivr_engine.runtime.engine import RuntimeSettings
from ivr_engine.runtime.events import Outcome


async def test_voicemail_records_a_message_with_a_sidecar_naming_caller_time_and_path(tmp_path: Path) -> None:
    settings = RuntimeSettings(voicemail_dir=tmp_path, clock=lambda: AT)
    spool = tmp_path / "spool"
    call = await simulate(hotline(), "3", settings=settings, channel_options={"recordings_dir": spool})
    assert call.result.path == ["root", "complaint"]
    assert call.result.outcome is Outcome.SERVED
    (sidecar,) = (tmp_path / "complaints").glob("*.json")
    assert sidecar.name.startswith("13800000000-20261123T02")
    assert sidecar.name.endswith("-call-1.json")
    document = json.loads(sidecar.read_text(encoding="utf-8"))
    assert document["caller"] == "13800000000"
    assert document["call_id"] == "call-1"
    assert document["path"] == ["root", "complaint"]
    assert document["flow"] == {"id": "test", "version": "1"}
    assert document["ended_by"] == "dtmf"
    assert document["recorded_at"].startswith("2026-11-23T02:00")
    assert document["recording"] == str(spool / "complaints" / sidecar.name.replace(".json", ".wav"))
    with wave.open(document["recording"]) as audio:
        assert audio.getnframes() / audio.getframerate() == document["seconds"] == 8.0


async def test_voicemail_file_names_cannot_be_steered_by_the_caller_id(tmp_path: Path) -> None:
    settings = RuntimeSettings(voicemail_dir=tmp_path, clock=lambda: AT)
    await simulate(
        hotline(), "3", caller="../../etc/x y", settings=settings, channel_options={"recordings_dir": tmp_path}
    )
    (sidecar,) = tmp_path.rglob("*.json")
    assert sidecar.parent == tmp_path / "complaints"
    assert sidecar.name.startswith("_.._etc_x_y-")



async def test_a_very_long_caller_id_still_leaves_a_message(tmp_path: Path) -> None:
    # A caller id is outside data (a SIP user part can be any length): the file name must stay
    # under the file system's 255 bytes, or the message is lost and the call fails.
    settings = RuntimeSettings(voicemail_dir=tmp_path, clock=lambda: AT)
    caller = "8" * 300
    options = {"recordings_dir": tmp_path}
    call = await simulate(hotline(), "3", caller=caller, settings=settings, channel_options=options)
    assert call.result.outcome is Outcome.SERVED
    (sidecar,) = tmp_path.rglob("*.json")
    assert json.loads(sidecar.read_text(encoding="utf-8"))["caller"] == caller  # the sidecar keeps it whole
    assert sidecar.name.startswith("8" * 64 + "-")

def queued(prompt: str | None = "agents.prompt") -> m.Flow:
    flow = hotline(m.Announcement(id="sorry", prompts=("goodbye",)))
    return replace_node(
        flow, m.Queue(id="agents", queue="general", prompt=prompt, priority=5, skills=("zh",), timeout=30, next="sorry")
    )


@pytest.mark.parametrize(
    ("status", "outcome", "last"),
    [
        ("ANSWERED", Outcome.QUEUED, "agents"),
        ("CONTINUE", Outcome.QUEUED, "agents"),
        ("HANGUP", Outcome.QUEUE_HANGUP, "agents"),
        ("UNKNOWN", Outcome.SERVED, "sorry"),
        ("WITHDRAW", Outcome.QUEUED, "agents"),
        ("TIMEOUT", Outcome.SERVED, "sorry"),
        ("JOINEMPTY", Outcome.SERVED, "sorry"),
        ("LEAVEUNAVAIL", Outcome.SERVED, "sorry"),
    ],
)
async def test_queue_status_decides_the_outcome(status: str, outcome: Outcome, last: str) -> None:
    flow = replace_node(
        queued(),
        m.Menu(id="root", prompt="root.header", options=(m.MenuOption(key="5", target="agents", prompt="root.food"),)),
    )
    call = await simulate(flow, "5", channel_options={"queue_status": status})
    assert call.result.path[-1] == last
    assert call.result.outcome is outcome
    queue = next(a for a in call.channel.actions if a["action"] == "queue")
    assert (queue["queue"], queue["priority"], queue["skills"]) == ("general", 5, ["zh"])


async def test_hanging_up_while_queued_is_a_queue_hangup() -> None:
    call = await simulate(queued(prompt=None), "0 h")
    assert call.result.outcome is Outcome.QUEUE_HANGUP
    assert call.result.path == ["root", "agents"]


async def test_transfer_answered_or_not() -> None:
    flow = hotline(m.Transfer(id="doctor", destination="PJSIP/1001", timeout=20, next="agents"))
    flow = replace_node(
        flow,
        m.Menu(id="root", prompt="root.header", options=(m.MenuOption(key="6", target="doctor", prompt="root.food"),)),
    )
    answered = await simulate(flow, "6")
    assert answered.result.outcome is Outcome.TRANSFERRED
    assert answered.result.path == ["root", "doctor"]
    assert [a["action"] for a in answered.channel.actions] == ["dial", "hangup"]
    busy = await simulate(flow, "6", channel_options={"dial_status": "BUSY"})
    assert busy.result.path == ["root", "doctor", "agents"]
    assert busy.result.outcome is Outcome.QUEUED
