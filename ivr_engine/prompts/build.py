"""Building prompt audio: every prompt of the catalog, in every language it is written in.

The build is planned first (what is missing, changed or stale) and then run, so a caller can show
progress over exactly the work left. Each prompt is cached under a key that hashes everything that
changes its sound; an unchanged prompt is never synthesized again.

Layout: `<out>/<language>/<prompt_id>.<format>`, so that with `<out>` installed as the `ivr/` folder
of Asterisk's sounds directory the sound name is `ivr/<language>/<prompt_id>`.

Engines are tried in order of preference per prompt: an engine that cannot be reached, has no voice
for the language, or fails on one text hands that prompt to the next one, and the manifest records
the fallback and why.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ivr_engine.prompts.audio import MASTER_FORMAT, AudioSettings, render, wav_seconds
from ivr_engine.prompts.manifest import FILE_NAME, Manifest, ManifestEntry
from ivr_engine.prompts.tts import Engine, SynthesisError
from ivr_engine.prompts.tts.espeak import EspeakEngine
from ivr_engine.prompts.tts.google import GttsEngine

ENGINE_CHOICES = ("auto", "gtts", "espeak")
TMP_DIR = ".tmp"  # inside the output directory, so finished files are renamed, not copied, into place


class PromptTexts(Protocol):
    """What the builder reads from the prompt catalog (ivr_engine.prompts.catalog.PromptCatalog)."""

    def ids(self) -> Iterable[str]: ...

    def text(self, prompt_id: str, language: str) -> str | None: ...

    def languages(self, prompt_id: str) -> set[str]: ...


class BuildError(Exception):
    """The build cannot start at all (no engine is usable)."""


@dataclass(frozen=True, slots=True)
class Job:
    prompt_id: str
    language: str
    text: str


@dataclass(frozen=True, slots=True)
class Failure:
    prompt_id: str
    language: str
    reason: str

    def __str__(self) -> str:
        return f"{self.prompt_id} ({self.language}): {self.reason}"


@dataclass(frozen=True, slots=True)
class BuildPlan:
    jobs: list[Job]
    up_to_date: int
    stale: list[ManifestEntry]  # built once, but the prompt or that language of it is gone

    @property
    def empty(self) -> bool:
        return not self.jobs and not self.stale


@dataclass(slots=True)
class BuildReport:
    built: list[ManifestEntry] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    removed: list[ManifestEntry] = field(default_factory=list)
    up_to_date: int = 0


def engines_for(choice: str) -> list[Engine]:
    """`auto`: gTTS where Google is reachable, espeak-ng for the rest; or one engine, no fallback."""
    if choice not in ENGINE_CHOICES:
        raise ValueError(f"unknown engine {choice!r}; choose from {', '.join(ENGINE_CHOICES)}")
    if choice == "gtts":
        return [GttsEngine()]
    if choice == "espeak":
        return [EspeakEngine()]
    return [GttsEngine(), EspeakEngine()]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class PromptBuilder:
    def __init__(
        self,
        out: Path,
        engines: Sequence[Engine],
        settings: AudioSettings | None = None,
        workers: int | None = None,
    ) -> None:
        """`engines` in order of preference. Each is asked once whether it is usable here."""
        self.out = Path(out)
        self.engines = list(engines)
        self.settings = settings or AudioSettings()
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.unavailable = {e.name: reason for e in self.engines if (reason := e.unavailable()) is not None}
        self._fingerprints: dict[str, dict[str, object]] = {}
        for engine in self.engines:
            try:
                self._fingerprints[engine.name] = engine.fingerprint()
            except SynthesisError as exc:
                self.unavailable.setdefault(engine.name, str(exc))
        if len(self.unavailable) == len(self.engines):
            reasons = "; ".join(f"{name}: {reason}" for name, reason in self.unavailable.items())
            raise BuildError(f"no text-to-speech engine is usable: {reasons}")
        self.manifest_path = self.out / FILE_NAME
        self.manifest = Manifest.load(self.manifest_path)

    @property
    def usable(self) -> list[Engine]:
        return [e for e in self.engines if e.name not in self.unavailable]

    def key(self, job: Job, engine: Engine) -> str | None:
        """The cache key of `job` spoken by `engine`, or None if the engine has no voice for it."""
        fingerprint = self._fingerprints.get(engine.name)
        voice = engine.voice(job.language) if fingerprint is not None else None
        if voice is None or fingerprint is None:
            return None
        material = {
            "text": job.text,
            "language": job.language,
            "engine": engine.name,
            "engine_settings": fingerprint,
            "voice": voice,
            "audio": self.settings.fingerprint(),
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def plan(self, texts: PromptTexts, languages: Collection[str] | None = None) -> BuildPlan:
        """What to build: prompts with no audio, changed audio inputs, or files gone missing.

        Audio from an engine at least as preferred as the best usable one counts as current: an
        offline build keeps gTTS recordings made earlier instead of replacing them with espeak."""
        wanted = {
            (prompt_id, language): text
            for prompt_id in texts.ids()
            for language in sorted(texts.languages(prompt_id))
            if (languages is None or language in languages) and (text := texts.text(prompt_id, language))
        }
        acceptable = self.engines[: self.engines.index(self.usable[0]) + 1]
        jobs, up_to_date = [], 0
        for (prompt_id, language), text in wanted.items():
            job = Job(prompt_id, language, text)
            if self._current(job, acceptable):
                up_to_date += 1
            else:
                jobs.append(job)
        stale = [
            e for e in self.manifest.entries()
            if (e.prompt_id, e.language) not in wanted and (languages is None or e.language in languages)
        ]  # fmt: skip
        return BuildPlan(jobs, up_to_date, stale)

    def _current(self, job: Job, acceptable: list[Engine]) -> bool:
        entry = self.manifest.get(job.prompt_id, job.language)
        if entry is None or not all((self.out / f).is_file() for f in entry.files):
            return False
        return any(entry.key == self.key(job, engine) for engine in acceptable)

    def run(self, plan: BuildPlan, on_result: Callable[[ManifestEntry | Failure], None] | None = None) -> BuildReport:
        """Remove stale audio, then synthesize the jobs in parallel (one worker per core: each job
        is a CPU-bound espeak-ng or sox process). The manifest is saved even if the run is cut short."""
        report = BuildReport(up_to_date=plan.up_to_date)
        try:
            for entry in plan.stale:
                self._delete(entry.files)
                self.manifest.remove(entry.prompt_id, entry.language)
                report.removed.append(entry)
            if plan.jobs:
                self._run_jobs(plan.jobs, report, on_result)
        finally:
            if plan.stale or report.built:
                self.manifest.save(self.manifest_path)
            shutil.rmtree(self.out / TMP_DIR, ignore_errors=True)
        return report

    def _run_jobs(
        self, jobs: list[Job], report: BuildReport, on_result: Callable[[ManifestEntry | Failure], None] | None
    ) -> None:
        (self.out / TMP_DIR).mkdir(parents=True, exist_ok=True)
        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(jobs)))
        try:
            futures = {pool.submit(self.build_one, job): job for job in jobs}
            for future in as_completed(futures):
                job = futures[future]
                result: ManifestEntry | Failure
                try:
                    result = future.result()
                except (SynthesisError, OSError) as exc:
                    result = Failure(job.prompt_id, job.language, str(exc))
                    report.failed.append(result)
                else:
                    previous = self.manifest.get(job.prompt_id, job.language)
                    if previous is not None:  # a format dropped from the settings leaves no orphan file
                        self._delete(set(previous.files) - set(result.files))
                    self.manifest.put(result)
                    report.built.append(result)
                if on_result is not None:
                    on_result(result)
        finally:
            # On Ctrl-C only the syntheses already running finish; the queued ones are dropped.
            pool.shutdown(wait=True, cancel_futures=True)

    def build_one(self, job: Job) -> ManifestEntry:
        """Synthesize one prompt with the first engine that manages it; raises SynthesisError
        naming every engine's reason if none does. Nothing is written outside the temporary
        directory until all formats of the prompt are rendered."""
        reasons = [f"{name}: {reason}" for name, reason in self.unavailable.items()]
        for engine in self.usable:
            voice = engine.voice(job.language)
            key = self.key(job, engine)
            if voice is None or key is None:
                reasons.append(f"{engine.name}: no voice for {job.language}")
                continue
            workdir = Path(tempfile.mkdtemp(dir=self.out / TMP_DIR, prefix=f"{job.prompt_id}.{job.language}."))
            try:
                files = render(engine.synthesize(job.text, voice, workdir), workdir, job.prompt_id, self.settings)
                duration = wav_seconds(files[MASTER_FORMAT])
                installed = self._install(job, files)
            except SynthesisError as exc:
                reasons.append(f"{engine.name}: {exc}")
                continue
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            fell_back = engine is not self.engines[0]
            return ManifestEntry(
                prompt_id=job.prompt_id,
                language=job.language,
                files=installed,
                duration=round(duration, 4),
                engine=engine.name,
                voice=voice,
                key=key,
                text_hash=text_hash(job.text),
                fallback_from=self.engines[0].name if fell_back else None,
                fallback_reason="; ".join(reasons) if fell_back else None,
            )
        raise SynthesisError("; ".join(reasons))

    def _install(self, job: Job, files: dict[str, Path]) -> tuple[str, ...]:
        directory = self.out / job.language
        directory.mkdir(parents=True, exist_ok=True)
        installed = []
        for name in self.settings.formats:
            relative = f"{job.language}/{job.prompt_id}.{name}"
            os.replace(files[name], self.out / relative)
            installed.append(relative)
        return tuple(installed)

    def _delete(self, files: Iterable[str]) -> None:
        for relative in files:
            (self.out / relative).unlink(missing_ok=True)
