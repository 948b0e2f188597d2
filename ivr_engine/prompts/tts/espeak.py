"""eSpeak NG: offline, always available, robotic but intelligible; the fallback for every prompt."""

from __future__ import annotations

import re
import shutil
from functools import cache
from pathlib import Path

from ivr_engine.prompts.tts import SynthesisError, run_tool

# Our language codes -> espeak-ng voices where the names differ. American English matches the
# hotline's English texts. Mandarin is `cmn-latn-pinyin`, not `cmn`: in espeak-ng 1.51 the `cmn`
# voice reads many Han characters as English-spelled pinyin ("两" comes out as "liang three",
# "艾滋病" as "ai zi-one bing-four"), while `cmn-latn-pinyin` says them right but reads Latin
# letters as pinyin; so Latin runs in Mandarin text ("HPV", "X", "For English, press 2.") are
# spoken by the voice in LATIN_RUNS and joined with the rest.
VOICES = {"en": "en-us", "zh-CN": "cmn-latn-pinyin", "zh": "cmn-latn-pinyin", "zh-HK": "yue"}
LATIN_RUNS = {"cmn-latn-pinyin": "en-us"}
# A run starts at a Latin letter and goes on over letters, digits and ASCII punctuation: the 2 of
# "press 2" is English, the 2 of "请按2" is Mandarin.
LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z0-9 ,.;:!?'\"()&/+-]*")
# English slower than espeak's 175 words per minute: callers hear prompts through a narrow-band
# phone line. Mandarin keeps 175: espeak-ng counts syllables there, and 150 drags (2.7 syllables/s).
WORDS_PER_MINUTE = 150
VOICE_WORDS_PER_MINUTE = {"cmn-latn-pinyin": 175}


class EspeakEngine:
    name = "espeak-ng"

    def __init__(
        self,
        words_per_minute: int = WORDS_PER_MINUTE,
        voice_words_per_minute: dict[str, int] | None = None,
        executable: str = "espeak-ng",
    ) -> None:
        self.words_per_minute = words_per_minute
        self.voice_words_per_minute = (
            VOICE_WORDS_PER_MINUTE if voice_words_per_minute is None else voice_words_per_minute
        )
        self.executable = executable

    def unavailable(self) -> str | None:
        return (
            None if shutil.which(self.executable) else f"{self.executable} is not installed (apt-get install espeak-ng)"
        )

    def fingerprint(self) -> dict[str, object]:
        return {
            "version": _version(self.executable),
            "speed": self.words_per_minute,
            "latin_runs": LATIN_RUNS,
            "voice_speed": self.voice_words_per_minute,
        }

    def voice(self, language: str) -> str | None:
        installed = _voices(self.executable)
        for candidate in (VOICES.get(language), language.lower(), language.split("-")[0].lower()):
            if candidate in installed:
                return candidate
        return None

    def synthesize(self, text: str, voice: str, workdir: Path) -> Path:
        parts = [
            self._speak(segment, segment_voice, workdir / f"espeak-{i}.wav")
            for i, (segment, segment_voice) in enumerate(segments(text, voice))
        ]
        if len(parts) == 1:
            return parts[0]
        joined = workdir / "espeak.wav"
        run_tool(["sox", *map(str, parts), str(joined)])  # espeak-ng ends each part with a phrase pause
        return joined

    def _speak(self, text: str, voice: str, out: Path) -> Path:
        # Text goes through stdin: a prompt starting with "-" must not be read as an option.
        speed = self.voice_words_per_minute.get(voice, self.words_per_minute)
        run_tool([self.executable, "-v", voice, "-s", str(speed), "-w", str(out), "--stdin"], stdin=text)
        if not out.exists() or out.stat().st_size == 0:
            raise SynthesisError(f"{self.executable} wrote no audio for voice {voice}")
        return out


def segments(text: str, voice: str) -> list[tuple[str, str]]:
    """(text, voice) pieces to speak in order: Latin runs go to the voice LATIN_RUNS names."""
    latin_voice = LATIN_RUNS.get(voice)
    if latin_voice is None:
        return [(text, voice)]
    pieces: list[tuple[str, str]] = []
    at = 0
    for run in LATIN_RUN.finditer(text):
        if text[at : run.start()].strip():
            pieces.append((text[at : run.start()], voice))
        pieces.append((run.group(), latin_voice))
        at = run.end()
    if text[at:].strip():
        pieces.append((text[at:], voice))
    return pieces


@cache
def _version(executable: str) -> str:
    # "eSpeak NG text-to-speech: 1.51  Data at: ..."
    words = run_tool([executable, "--version"]).split()
    return words[words.index("text-to-speech:") + 1] if "text-to-speech:" in words else " ".join(words[:4])


@cache
def _voices(executable: str) -> frozenset[str]:
    # Table "Pty Language Age/Gender VoiceName File Other Languages"; the second column is the name -v takes.
    lines = run_tool([executable, "--voices"]).splitlines()[1:]
    return frozenset(line.split()[1] for line in lines if len(line.split()) > 1)
