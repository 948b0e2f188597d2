"""Text-to-speech engines: each turns one text in one voice into an audio file sox can read.

An engine only speaks; trimming, resampling and the formats Asterisk plays are done afterwards by
`ivr_engine.prompts.audio`, the same way for every engine.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol


class SynthesisError(Exception):
    """One prompt could not be turned into audio by one engine; the builder tries the next one."""


class Engine(Protocol):
    name: str

    def unavailable(self) -> str | None:
        """Why the engine cannot be used on this machine right now, or None if it can."""

    def fingerprint(self) -> dict[str, object]:
        """Version and settings: anything that changes the sound, so it is part of the cache key."""

    def voice(self, language: str) -> str | None:
        """The engine's voice for a language (en, zh-CN), or None if it has none."""

    def synthesize(self, text: str, voice: str, workdir: Path) -> Path:
        """Speak `text` into a new file inside `workdir`; raises SynthesisError."""


def run_tool(argv: list[str], *, stdin: str | None = None, timeout: float = 120) -> str:
    """Run a command-line audio tool; its failure becomes a SynthesisError quoting its stderr."""
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise SynthesisError(f"{argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise SynthesisError(f"{argv[0]} took longer than {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise SynthesisError(f"{argv[0]} failed: {done.stderr.strip() or f'exit status {done.returncode}'}")
    return done.stdout
