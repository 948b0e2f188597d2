"""The prompt catalog: what each prompt says, per language, as ops staff wrote it in prompts/*.yaml.

    prompts:
      hotline.welcome:
        zh-CN: "欢迎致电12320卫生热线。"
        en: "Welcome to the 12320 public health hotline."

A prompt id is global across the files of a catalog directory. A clip's duration is the measured
length of its built audio when a manifest knows it, else an estimate from the text, so menu costs
can be computed before any audio exists.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ivr_engine.flow.diagnostics import Diagnostic, FlowError
from ivr_engine.flow.fields import ID_PATTERN, LANGUAGE_PATTERN, Reader, describe
from ivr_engine.flow.loader import read_text
from ivr_engine.flow.model import SourceLocation
from ivr_engine.flow.source import parse_yaml, yaml_files
from ivr_engine.prompts.clip import Clip

# Speaking rates of the text-to-speech voices and of announcers reading IVR prompts.
ENGLISH_WORDS_PER_SECOND = 2.6
MANDARIN_CHARACTERS_PER_SECOND = 4.0
DIGIT_SECONDS = {"zh": 0.25}  # digits are read one by one ("12320" is five of them)
DEFAULT_DIGIT_SECONDS = 0.35
BREAK_SECONDS = 0.2  # a comma or full stop inside the text
TRAILING_PAUSE_SECONDS = 0.5  # the silence a clip ends with before the next one starts

_BREAKS = re.compile(r"[,.;:!?，。；：！？、]")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


class DurationSource(Protocol):
    """Measured clip lengths, e.g. the audio build manifest (ivr_engine.prompts.manifest)."""

    def duration(self, prompt_id: str, language: str) -> float | None: ...


def estimate_seconds(text: str, language: str) -> float:
    """Seconds it takes to say `text`: Han characters at 4/s, other words at 2.6/s, digits one by
    one (0.25 s in Mandarin, 0.35 s otherwise), 0.2 s per comma or full stop inside the text, and a
    0.5 s pause at the end."""
    han = sum(1 for ch in text if _is_han(ch))
    words = len(_WORD.findall("".join(" " if _is_han(ch) else ch for ch in text)))
    digits = sum(1 for ch in text if ch.isdigit())
    breaks = len(_BREAKS.findall(text.rstrip(",.;:!?，。；：！？、 ")))
    digit_seconds = DIGIT_SECONDS.get(language.split("-")[0], DEFAULT_DIGIT_SECONDS)
    spoken = han / MANDARIN_CHARACTERS_PER_SECOND + words / ENGLISH_WORDS_PER_SECOND + digits * digit_seconds
    return round(spoken + breaks * BREAK_SECONDS + TRAILING_PAUSE_SECONDS, 2)


def _is_han(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("CJK UNIFIED IDEOGRAPH")


def sound_name(prompt_id: str, language: str) -> str:
    """The Asterisk sound a prompt is built to, relative to the sounds directory."""
    return f"ivr/{language}/{prompt_id}"


@dataclass
class PromptCatalog:
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # prompt id -> language -> text
    locations: dict[str, SourceLocation] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path) -> PromptCatalog:
        """A catalog file, or every *.yaml / *.yml file of a directory; raises FlowError."""
        path = Path(path)
        files = yaml_files(path) if path.is_dir() else [path]
        catalog = cls(files=tuple(str(f) for f in files))
        diagnostics: list[Diagnostic] = []
        for file in files:
            try:
                diagnostics.extend(catalog._read(file))
            except FlowError as exc:
                diagnostics.extend(exc.diagnostics)
        if diagnostics:
            raise FlowError(diagnostics)
        return catalog

    def _read(self, file: Path) -> list[Diagnostic]:
        data, source = parse_yaml(read_text(file), str(file))
        r = Reader(source)
        if not isinstance(data, dict) or not isinstance(data.get("prompts"), dict):
            r.fail((), "a prompt file must hold a mapping 'prompts:' of prompt id -> language -> text")
            return r.diagnostics
        r.check_fields((), data, {"prompts": None}, "a prompt file")
        for prompt_id, texts in data["prompts"].items():
            path = ("prompts", prompt_id)
            here = source.key_loc(path)
            if not re.match(ID_PATTERN, prompt_id):
                r.fail(
                    path, f"{prompt_id!r} is not a prompt id (a letter or _, then letters, digits, _ . -)", at_key=True
                )
                continue
            if prompt_id in self.locations:
                r.report(here, f"prompt {prompt_id!r} is already defined at {self.locations[prompt_id]}")
                continue
            if not isinstance(texts, dict):
                r.fail(path, f"prompt {prompt_id!r} must map languages to texts, got {describe(texts)}")
                continue
            self.locations[prompt_id] = here
            self.texts[prompt_id] = self._texts(r, path, texts)
        return r.diagnostics

    @staticmethod
    def _texts(r: Reader, path: tuple[str, ...], texts: dict[str, object]) -> dict[str, str]:
        result = {}
        for language, text in texts.items():
            if not re.match(LANGUAGE_PATTERN, language):
                r.fail((*path, language), f"{language!r} is not a language code like zh-CN or en", at_key=True)
                continue
            written = r.raw((*path, language), text)
            if not written or not written.strip():
                r.fail((*path, language), f"the {language} text must be non-empty text, got {describe(text)}")
                continue
            result[language] = written.strip()
        return result

    def ids(self) -> list[str]:
        return list(self.texts)

    def text(self, prompt_id: str, language: str) -> str | None:
        return self.texts.get(prompt_id, {}).get(language)

    def languages(self, prompt_id: str) -> set[str]:
        return set(self.texts.get(prompt_id, {}))

    def location(self, prompt_id: str) -> SourceLocation | None:
        return self.locations.get(prompt_id)

    def clip(self, prompt_id: str, language: str, manifest: DurationSource | None = None) -> Clip:
        """The clip to play; raises KeyError if the prompt has no text in `language`."""
        text = self.text(prompt_id, language)
        if text is None:
            raise KeyError(f"prompt {prompt_id!r} has no {language} text")
        measured = manifest.duration(prompt_id, language) if manifest is not None else None
        return Clip(
            prompt_id=prompt_id,
            language=language,
            text=text,
            sound=sound_name(prompt_id, language),
            duration=measured if measured is not None else estimate_seconds(text, language),
            measured=measured is not None,
        )

    def speech_rate(self, language: str, manifest: DurationSource | None) -> float:
        """How long the built audio lasts against `estimate_seconds`: the median of measured over
        estimated seconds of the prompts built in `language` (1.0 when none is). Prompts not built
        yet will be spoken by the same voice, so their estimates are best scaled by it."""
        ratios = sorted(
            measured / estimate_seconds(texts[language], language)
            for prompt_id, texts in self.texts.items()
            if language in texts
            and manifest is not None
            and (measured := manifest.duration(prompt_id, language)) is not None
        )
        return ratios[len(ratios) // 2] if ratios else 1.0

    def clips(self, prompt_ids: Iterable[str], language: str, manifest: DurationSource | None = None) -> list[Clip]:
        return [self.clip(prompt_id, language, manifest) for prompt_id in prompt_ids]
