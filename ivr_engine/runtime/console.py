"""The console channel: a call with no phone, on a virtual clock, for `ivr simulate` and the tests.

Prompts take their clip's duration and timeouts their full length on the virtual clock, so a
simulated call measures the caller-seconds a real one would cost. The caller is a script of tokens:

- a key (`0`-`9`, `*`, `#`; a token of several keys such as `**` or `1234#` presses them in turn) is
  pressed by an informed caller: at the end of the clip that offers it (a menu option "for
  vaccination, press 2", a leaf's last clip for the bookmark key), or, if no clip being played
  offers it, once the prompts have ended (it answers the next wait for a key: a collect prompt, the
  operator key, an invalid key);
- `-` presses nothing at the next wait for a key, which times out;
- `h` hangs up: halfway through the first clip of the next prompts, at once while waiting, or while
  queued, dialling or recording.

With `typeahead` every key is pressed at time 0: the caller knows the path and never waits for a
menu whose key is already pressed. Once the script runs out the caller stays silent (menus time out)
and hangs up when the clock passes `patience`. With `ask` set (interactive mode) the caller is a
person at a terminal: what the caller hears is shown through `show`, and keys are read through `ask`
whenever the script is empty and a key could be pressed.
"""

from __future__ import annotations

import tempfile
import wave
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ivr_engine.prompts.clip import Clip
from ivr_engine.runtime.channel import ALL_KEYS, CallerHangup, CallInfo, QueueRequest, Recording
from ivr_engine.runtime.keypad import OptionClip

HANG_UP = "h"
SILENCE = "-"
RECORDING_RATE = 8000  # Hz: the telephone band Asterisk records voicemail in


def parse_script(script: str) -> list[str]:
    """Tokens of a key script ("2 1 - #"); raises ValueError naming the first bad token."""
    tokens: list[str] = []
    for word in script.split():
        if word in (HANG_UP, SILENCE):
            tokens.append(word)
        elif all(ch in ALL_KEYS for ch in word):
            tokens.extend(word)
        else:
            raise ValueError(
                f"{word!r} is not a key script token: use keys 0-9 * #, '-' to let a wait time out, 'h' to hang up"
            )
    return tokens


@dataclass(frozen=True, slots=True)
class Heard:
    at: float  # virtual seconds when the clip started
    prompt_id: str
    language: str
    text: str
    seconds: float  # how much of it the caller heard
    complete: bool


@dataclass(frozen=True, slots=True)
class Press:
    at: float
    key: str


@dataclass
class ConsoleChannel:
    info: CallInfo
    script: Sequence[str] = ()
    typeahead: bool = False
    queue_status: str = "CONTINUE"  # what the simulated queue answers (Asterisk's QUEUESTATUS)
    dial_status: str = "ANSWER"
    message_seconds: float = 8.0  # how long the simulated caller speaks into a voice mailbox
    patience: float = 900.0
    recordings_dir: Path | None = None  # where messages are recorded; None: a new temporary directory
    ask: Callable[[str], str] | None = None
    show: Callable[[str], None] | None = None
    heard: list[Heard] = field(default_factory=list)
    presses: list[Press] = field(default_factory=list)
    channel_variables: dict[str, str] = field(default_factory=dict)
    actions: list[dict[str, object]] = field(default_factory=list)  # queue, dial, record, language, hangup
    clock: float = 0.0
    hung_up: bool = False

    def __post_init__(self) -> None:
        self.tokens: deque[str] = deque(self.script)
        self.language = self.info.language
        self.declined = False  # interactive: the caller already said "no key" to these prompts

    # --- the Channel protocol -----------------------------------------------------------------

    def now(self) -> float:
        return self.clock

    async def play(self, clips: Sequence[Clip], escape_digits: str, wait: float = 0.0) -> str | None:
        key = await self._play(clips, escape_digits)
        return await self.wait_digit(wait) if key is None and wait > 0 else key

    async def _play(self, clips: Sequence[Clip], escape_digits: str) -> str | None:
        self.check_line()
        self.declined = False
        head = self.tokens[0] if self.tokens else None
        if head == HANG_UP:
            self.tokens.popleft()
            if clips:
                self.hear(clips[0], clips[0].duration / 2)
            self.leave()
        if head is not None and head in escape_digits:
            if self.typeahead:
                return self.press()
            offered = next((i for i, c in enumerate(clips) if isinstance(c, OptionClip) and c.key == head), None)
            if offered is not None:
                for clip in clips[: offered + 1]:
                    self.hear(clip)
                return self.press()
        for clip in clips:
            self.hear(clip)
        if self.ask is not None and not self.tokens and escape_digits:
            if not self.refill("keys (Enter: no key, h: hang up)"):
                self.declined = True
            elif self.tokens[0] == HANG_UP:
                self.tokens.popleft()
                self.leave()
            elif self.tokens[0] in escape_digits:
                return self.press()
        return None

    async def wait_digit(self, timeout: float) -> str | None:
        self.check_line()
        if not self.tokens and self.ask is not None and not self.declined:
            self.refill(f"waiting {timeout:g} s for a key (Enter: let it time out, h: hang up)")
        self.declined = False
        head = self.tokens.popleft() if self.tokens else None
        if head == HANG_UP:
            self.leave()
        if head is None or head == SILENCE:
            self.clock += timeout
            if head is None and self.clock > self.patience:
                self.leave()
            return None
        self.tokens.appendleft(head)
        return self.press()

    async def set_variable(self, name: str, value: str) -> None:
        self.check_line()
        self.channel_variables[name] = value

    async def set_language(self, language: str) -> None:
        self.check_line()
        self.language = language
        self.act("language", language=language)

    async def queue(self, request: QueueRequest) -> str:
        self.check_line()
        self.act("queue", queue=request.queue, priority=request.priority, skills=list(request.skills))
        if self.tokens and self.tokens[0] == HANG_UP:
            self.tokens.popleft()
            self.leave()
        if self.queue_status == "TIMEOUT" and request.timeout:
            self.clock += request.timeout
        return self.queue_status

    async def dial(self, destination: str, timeout: float) -> str:
        self.check_line()
        self.act("dial", destination=destination)
        if self.tokens and self.tokens[0] == HANG_UP:
            self.tokens.popleft()
            self.leave()
        if self.dial_status == "NOANSWER":
            self.clock += timeout
        return self.dial_status

    async def record(self, path: str, max_seconds: int, beep: bool = True) -> Recording:
        """Writes a real (silent) WAV file of the simulated message under `recordings_dir`."""
        self.check_line()
        seconds = min(self.message_seconds, float(max_seconds))
        if self.recordings_dir is None:
            self.recordings_dir = Path(tempfile.mkdtemp(prefix="ivr-console-recordings-"))
        target = self.recordings_dir / f"{path.lstrip('/')}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(target), "wb") as audio:
            audio.setnchannels(1)
            audio.setsampwidth(2)
            audio.setframerate(RECORDING_RATE)
            audio.writeframes(b"\0\0" * int(seconds * RECORDING_RATE))
        self.clock += seconds
        ended_by = "timeout" if seconds >= max_seconds else "dtmf"
        if self.tokens and self.tokens[0] == HANG_UP:
            self.tokens.popleft()
            self.hung_up = True
            ended_by = "hangup"
        self.act("record", path=str(target), seconds=seconds, ended_by=ended_by)
        return Recording(path=str(target), seconds=seconds, ended_by=ended_by)

    async def hangup(self) -> None:
        self.check_line()
        self.act("hangup")
        self.hung_up = True

    # --- the simulated caller -----------------------------------------------------------------

    def check_line(self) -> None:
        if self.hung_up:
            raise CallerHangup()

    def leave(self) -> None:
        self.hung_up = True
        self.act("caller hung up")
        raise CallerHangup()

    def press(self) -> str:
        key = self.tokens.popleft()
        self.presses.append(Press(round(self.clock, 3), key))
        if self.show is not None:
            self.show(f"[{self.clock:7.2f}s] pressed {key}")
        return key

    def hear(self, clip: Clip, seconds: float | None = None) -> None:
        heard = clip.duration if seconds is None else seconds
        self.heard.append(
            Heard(round(self.clock, 3), clip.prompt_id, clip.language, clip.text, round(heard, 3), seconds is None)
        )
        if self.show is not None:
            self.show(f"[{self.clock:7.2f}s] {clip.text}  ({clip.prompt_id}, {clip.duration:.1f} s)")
        self.clock += heard

    def act(self, action: str, **details: object) -> None:
        self.actions.append({"at": round(self.clock, 3), "action": action, **details})
        if self.show is not None:
            shown = " ".join(f"{k}={v}" for k, v in details.items())
            self.show(f"[{self.clock:7.2f}s] ({action}{' ' + shown if shown else ''})")

    def refill(self, question: str) -> bool:
        """Ask the person at the terminal until they give a valid script; False for no key."""
        assert self.ask is not None
        while True:
            answer = self.ask(question).strip()
            if not answer:
                return False
            try:
                self.tokens.extend(parse_script(answer))
                return True
            except ValueError as exc:
                question = str(exc)
