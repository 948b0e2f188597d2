"""Keys between the channel and the nodes: barge-in, type-ahead, and clips that offer a key.

A key the current node did not use (it interrupted an announcement, or it followed a bookmark's
first key) is pushed back and served to the next node before the channel is asked again, so a caller
who presses "2 1 3" at once passes through the menus in between without hearing them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from ivr_engine.prompts.clip import Clip
from ivr_engine.runtime.channel import Channel


@dataclass(frozen=True, slots=True)
class OptionClip(Clip):
    """A clip that tells the caller about `key` ("for vaccination, press 2").

    Channels play it like any clip; the simulator's informed caller presses `key` when it ends.
    """

    key: str = ""

    @classmethod
    def of(cls, clip: Clip, key: str) -> OptionClip:
        return cls(clip.prompt_id, clip.language, clip.text, clip.sound, clip.duration, clip.measured, key=key)


class Keypad:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.pending: deque[str] = deque()
        self.received: list[str] = []  # every key the channel delivered, in order

    async def play(self, clips: Sequence[Clip], escape_digits: str, wait: float = 0.0) -> str | None:
        """Play, then wait up to `wait` seconds for a key (`Channel.play`), unless a pending key
        may interrupt them, in which case nothing is played at all."""
        if self.pending and self.pending[0] in escape_digits:
            return self.pending.popleft()
        if self.pending:  # keys waiting that may not interrupt these clips come after them
            key = await self.channel.play(clips, escape_digits) if clips else None
            if key is not None:
                self.received.append(key)
                self.pending.append(key)  # it was pressed after the keys already waiting
            return self.pending.popleft() if wait > 0 else None
        if not clips and wait <= 0:
            return None
        key = await self.channel.play(clips, escape_digits, wait)
        if key is not None:
            self.received.append(key)
        return key

    async def wait_digit(self, timeout: float) -> str | None:
        if self.pending:
            return self.pending.popleft()
        key = await self.channel.wait_digit(timeout)
        if key is not None:
            self.received.append(key)
        return key

    def push_back(self, *keys: str) -> None:
        """Keys a node received but did not use, for the next node, ahead of any later key."""
        self.pending.extendleft(reversed(keys))
