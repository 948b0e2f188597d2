"""Helpers for prompt audio tests: the real sox/espeak-ng tools to inspect and produce audio."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from ivr_engine.prompts.catalog import PromptCatalog

WriteCatalog = Callable[[dict[str, dict[str, str]]], PromptCatalog]


def soxi(path: Path, flag: str) -> str:
    return subprocess.run(["soxi", flag, str(path)], capture_output=True, text=True, check=True).stdout.strip()


def local_mp3(text: str, voice: str, workdir: Path) -> bytes:
    """An MP3 like the one gTTS downloads, made on this machine: espeak-ng speech encoded by sox."""
    here = Path(tempfile.mkdtemp(dir=workdir))  # builds run fetches in parallel
    wav, mp3 = here / "speech.wav", here / "speech.mp3"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
    subprocess.run(["sox", str(wav), "-C", "64", str(mp3)], check=True)
    return mp3.read_bytes()
