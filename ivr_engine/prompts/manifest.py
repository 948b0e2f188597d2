"""The audio manifest: which files were built for each (prompt, language), and how long they play.

`<audio dir>/manifest.json` is written by `ivr prompts build` and read by everything that needs
real durations (the simulator, the menu cost model, through `PromptCatalog.clip`). Durations are
measured from the built audio, never estimated.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "manifest.json"
VERSION = 1


class ManifestError(ValueError):
    """manifest.json exists but is not one this code wrote; the message starts with file:line:col."""


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    prompt_id: str
    language: str
    files: tuple[str, ...]  # relative to the audio directory: "en/menu.root.wav", "en/menu.root.ulaw"
    duration: float  # seconds, measured from the built audio, silence trimmed, tail included
    engine: str  # the engine that produced the audio, after any fallback
    voice: str
    key: str  # cache key: hash of text, language, voice, engine version and settings, formats
    text_hash: str
    fallback_from: str | None = None  # the preferred engine that failed for this prompt
    fallback_reason: str | None = None


class Manifest:
    def __init__(self, entries: list[ManifestEntry] | None = None) -> None:
        self._entries = {(e.prompt_id, e.language): e for e in entries or []}

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """The manifest file, or the audio directory holding it; a missing file is an empty manifest."""
        path = Path(path)
        if path.is_dir():
            path = path / FILE_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{path}:1:1: cannot read: {exc}") from exc
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("entries"), list):
            raise ManifestError(
                f"{path}:1:1: not a version {VERSION} prompt audio manifest; rebuild it with `ivr prompts build`"
            )
        try:
            return cls([_entry(item) for item in data["entries"]])
        except (TypeError, KeyError, ValueError) as exc:
            raise ManifestError(f"{path}:1:1: malformed entry ({exc}); rebuild it with `ivr prompts build`") from exc

    def save(self, path: Path) -> None:
        """Written to a temporary file and renamed: a reader never sees half a manifest."""
        data = {"version": VERSION, "entries": [asdict(e) for e in self.entries()]}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o644)  # mkstemp makes it private; Asterisk hosts and other users read it
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, indent=1)
                f.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def duration(self, prompt_id: str, language: str) -> float | None:
        entry = self._entries.get((prompt_id, language))
        return entry.duration if entry else None

    def has(self, prompt_id: str, language: str) -> bool:
        return (prompt_id, language) in self._entries

    def get(self, prompt_id: str, language: str) -> ManifestEntry | None:
        return self._entries.get((prompt_id, language))

    def entries(self) -> list[ManifestEntry]:
        return [self._entries[k] for k in sorted(self._entries, key=lambda k: (k[1], k[0]))]

    def put(self, entry: ManifestEntry) -> None:
        self._entries[(entry.prompt_id, entry.language)] = entry

    def remove(self, prompt_id: str, language: str) -> ManifestEntry | None:
        return self._entries.pop((prompt_id, language), None)

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self._entries)


def _entry(item: dict[str, object]) -> ManifestEntry:
    fields = dict(item)
    fields["files"] = tuple(fields["files"])  # type: ignore[arg-type]
    fields["duration"] = float(fields["duration"])  # type: ignore[arg-type]
    return ManifestEntry(**fields)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class BuiltLanguages:
    """The manifest's durations, for the languages it holds audio in.

    Asterisk skips a sound file that does not exist without a word to us, so a prompt with no
    built audio is silence on a real call: `ivr optimize` writes new option prompts ("Influenza
    and more: press 2.") whose audio is built separately, and a flow served before that offers
    options nobody hears. In a language with no audio at all (a development setup) no prompt
    is expected to have any.
    """

    manifest: Manifest
    languages: frozenset[str]

    @classmethod
    def of(cls, manifest: Manifest) -> BuiltLanguages:
        return cls(manifest, frozenset(entry.language for entry in manifest))

    def duration(self, prompt_id: str, language: str) -> float | None:
        if language not in self.languages:
            return 0.0
        return self.manifest.duration(prompt_id, language)
