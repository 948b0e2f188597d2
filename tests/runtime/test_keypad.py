"""Keys between the channel and the nodes: what is played, what waits, and in which order keys come."""

from __future__ import annotations

from collections.abc import Sequence

from ivr_engine.prompts.clip import Clip
from ivr_engine.runtime.channel import ALL_KEYS
from ivr_engine.runtime.keypad import Keypad

CLIP = Clip("opt", "en", "For news, press 1.", "ivr/en/opt", 1.5)


class Line:
    """A channel whose caller presses `keys`, one per play or wait, None meaning no key."""

    def __init__(self, *keys: str | None) -> None:
        self.keys = list(keys)
        self.asked: list[tuple[str, int, str, float]] = []

    async def play(self, clips: Sequence[Clip], escape_digits: str, wait: float = 0.0) -> str | None:
        self.asked.append(("play", len(clips), escape_digits, wait))
        return self.keys.pop(0)

    async def wait_digit(self, timeout: float) -> str | None:
        self.asked.append(("wait", 0, "", timeout))
        return self.keys.pop(0)


async def test_clips_and_the_wait_after_them_are_one_channel_operation() -> None:
    line = Line("4")
    keypad = Keypad(line)  # type: ignore[arg-type]
    assert await keypad.play([CLIP, CLIP], ALL_KEYS, 5.0) == "4"
    assert line.asked == [("play", 2, ALL_KEYS, 5.0)]
    assert keypad.received == ["4"]


async def test_a_pending_key_that_may_interrupt_is_served_without_playing() -> None:
    line = Line()
    keypad = Keypad(line)  # type: ignore[arg-type]
    keypad.push_back("2", "1")
    assert await keypad.play([CLIP], ALL_KEYS, 5.0) == "2"
    assert await keypad.play([CLIP], ALL_KEYS, 5.0) == "1"
    assert line.asked == []


async def test_keys_pending_behind_prompts_they_may_not_interrupt_come_before_a_new_key() -> None:
    line = Line("7")
    keypad = Keypad(line)  # type: ignore[arg-type]
    keypad.push_back("3")
    # the clips play in full (the pending 3 may not stop them), nobody waits on the line: the
    # 3 was pressed first, and the 7 pressed during the clips queues behind it
    assert await keypad.play([CLIP], "", 5.0) == "3"
    assert line.asked == [("play", 1, "", 0.0)]
    assert await keypad.wait_digit(1.0) == "7"


async def test_no_clips_and_no_wait_asks_the_line_nothing() -> None:
    line = Line()
    keypad = Keypad(line)  # type: ignore[arg-type]
    assert await keypad.play([], ALL_KEYS) is None
    assert line.asked == []
