"""The README's product command: `ivr demo` places a real call and prints the caller's experience."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr_engine.demo import run_demo
from ivr_engine.pbx.asterisk import Pbx
from ivr_engine.runtime.events import Outcome

pytestmark = pytest.mark.asterisk


async def test_the_demo_call_walks_the_hotline_and_prints_what_the_caller_heard(
    pbx: Pbx, hotline_sounds: Path, tmp_path: Path
) -> None:
    printed: list[str] = []
    transcript = await run_demo(
        keys="2 1 1 1", caller="13800000000", workdir=tmp_path, web_port=0, wait=False,
        echo=printed.append, pbx=pbx,
    )  # fmt: skip
    (end,) = transcript.ended
    assert (end.outcome, end.leaf) == (Outcome.SERVED, "flu.symptoms")
    pressed = [line.split()[1] for line in printed if line.strip().startswith("pressed")]
    assert pressed == ["2", "1", "1", "1"]
    assert any("Influenza" in line for line in printed)
    assert (tmp_path / "stats.db").exists()
