"""Turning a synthesizer's output into the files Asterisk plays, with sox.

Every prompt is first rendered to one master: 8 kHz, mono, 16-bit signed PCM in a WAV container,
with leading and trailing silence trimmed and a short tail of silence added back. The master is
what durations are measured from, and the other formats are transcoded from it sample for sample,
so all files of a prompt have the same length.

Why these formats: Asterisk keeps every format of a sound it finds and plays the one with the
lowest translation cost to the channel's codec. `.wav` (slin 8k) is one translation step from any
codec and self-describing (soxi reads it); `.ulaw` and `.alaw` are raw G.711 payloads, so G.711
channels, the vast majority of SIP trunks and phones, get the file streamed with no transcoding at
all. μ-law is North America's and Japan's G.711 law; A-law is China's and Europe's (our demo hotline
sits on Chinese trunks). `.sln` holds the same samples as `.wav` without a header and is only worth
building for deployments that ask for it.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ivr_engine.prompts.tts import SynthesisError, run_tool

SAMPLE_RATE = 8000
MASTER_FORMAT = "wav"

# format name (also the file extension Asterisk looks for) -> sox output options
FORMATS: dict[str, tuple[str, ...]] = {
    "wav": ("-t", "wav", "-e", "signed-integer", "-b", "16"),
    "sln": ("-t", "raw", "-e", "signed-integer", "-b", "16", "-L"),
    "ulaw": ("-t", "raw", "-e", "u-law", "-b", "8"),
    "alaw": ("-t", "raw", "-e", "a-law", "-b", "8"),
}
DEFAULT_FORMATS: tuple[str, ...] = ("wav", "ulaw", "alaw")


@dataclass(frozen=True, slots=True)
class AudioSettings:
    """How synthesized speech is post-processed; part of every prompt's cache key."""

    formats: tuple[str, ...] = DEFAULT_FORMATS
    # Anything quieter than this for longer than `trim_seconds` at either end counts as silence.
    # gTTS MP3s carry a faint noise floor, so digital-silence-only trimming would not be enough.
    trim_threshold_db: float = -50.0
    trim_seconds: float = 0.02
    # Silence kept after the speech so clips played back to back do not run into each other.
    tail_seconds: float = 0.1
    # Peak level: engines differ in loudness; callers should not hear jumps between prompts.
    peak_db: float = -3.0

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown audio format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
        if MASTER_FORMAT not in self.formats:
            raise ValueError(f"the {MASTER_FORMAT} master is always built; add it to the formats")

    def fingerprint(self) -> dict[str, object]:
        return {
            "formats": list(self.formats),
            "trim": [self.trim_threshold_db, self.trim_seconds],
            "tail": self.tail_seconds,
            "peak": self.peak_db,
            "rate": SAMPLE_RATE,
            "sox": sox_version(),
        }


@cache
def sox_version() -> str:
    return run_tool(["sox", "--version"]).strip().rsplit(" ", 1)[-1]


def render(source: Path, workdir: Path, stem: str, settings: AudioSettings) -> dict[str, Path]:
    """Write `stem.<format>` for every format into `workdir`; returns format -> file.

    The silence effect trims the start, `reverse` turns the end into a start to trim it the same
    way, and `pad` adds the tail back once the speech is known to end where the audio ends."""
    master = workdir / f"{stem}.{MASTER_FORMAT}"
    trim = ["silence", "1", str(settings.trim_seconds), f"{settings.trim_threshold_db}d"]
    run_tool([
        "sox", "-V1", str(source), "-c", "1", *FORMATS[MASTER_FORMAT], str(master),
        *trim, "reverse", *trim, "reverse",
        "gain", "-n", str(settings.peak_db),
        "rate", "-v", str(SAMPLE_RATE),
        "pad", "0", str(settings.tail_seconds),
    ])  # fmt: skip
    if wav_seconds(master) <= settings.tail_seconds:
        raise SynthesisError("the synthesized audio is silent")
    files = {MASTER_FORMAT: master}
    for name in settings.formats:
        if name != MASTER_FORMAT:
            files[name] = workdir / f"{stem}.{name}"
            run_tool(["sox", "-V1", str(master), *FORMATS[name], str(files[name])])
    return files


def wav_seconds(path: Path) -> float:
    """The exact length of a PCM WAV file, from its header's frame count and rate."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (OSError, EOFError, wave.Error) as exc:
        raise SynthesisError(f"{path}: not a readable WAV file ({exc})") from exc
