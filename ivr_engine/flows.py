"""The flows a running service answers with, and their safe hot reload.

A flow is reloaded when one of its files (the flow, its includes, its prompt texts and their
directory) changes on disk or the manifest of built audio changes; after a rejected edit, also when
a file only that edit read or looked for changes (a new include, created or corrected later). The
new version replaces the old one only when it loads and validates without errors and has built
audio for every prompt its nodes play (`BuiltLanguages`): a bad edit is logged with every
diagnostic and the good flow keeps serving. Calls already running keep the flow object they
started with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

from ivr_engine.config import Settings
from ivr_engine.flow.diagnostics import Diagnostic, FlowError
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import Flow, SourceLocation
from ivr_engine.flow.validate import load_catalog
from ivr_engine.prompts.manifest import BuiltLanguages, Manifest, ManifestError
from ivr_engine.runtime.prompt_source import CatalogPrompts

DEFAULT_SCRIPT = "default"
logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedFlow:
    name: str
    flow: Flow
    prompts: CatalogPrompts
    stamps: Mapping[Path, float | None]  # file -> mtime when loaded (None: did not exist)


def _stamp(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns / 1e9
    except OSError:
        return None


class Rejected(FlowError):
    """A version that did not load: its errors, and stamps of every file it read or looked for
    (with those of the version in service), so a fix in any of them is seen at the next poll."""

    def __init__(self, diagnostics: Iterable[Diagnostic], stamps: Mapping[Path, float | None]) -> None:
        super().__init__(diagnostics)
        self.stamps = stamps


def load_one(
    name: str, path: Path, manifest_path: Path, known_files: Iterable[Path] = ()
) -> LoadedFlow:
    """Raises Rejected with every error (a malformed manifest is one too).

    The files the previous version was read from are stamped before reading, so an edit that
    lands while we read is seen at the next poll rather than hidden behind a newer stamp.
    """
    before = {file: _stamp(file) for file in known_files}
    sources: list[Path] = []

    def stamps(files: Iterable[Path]) -> dict[Path, float | None]:
        return {file: before[file] if file in before else _stamp(file) for file in [*files, manifest_path]}

    try:
        flow, prompts = _read(path, manifest_path, sources)
    except FlowError as exc:
        raise Rejected(exc.diagnostics, stamps([*before, *sources])) from None
    except Exception as exc:
        # Not an error in the flow but a failure of the loader (a bug, a limit such as recursion):
        # still a rejection of this version, so the good one keeps serving, the other flows still
        # reload and the same edit is not retried (and its traceback logged) at every poll.
        logger.exception("flow.load_failed", flow=name, path=str(path))
        where = SourceLocation(str(path), 1, 1)
        message = f"the flow could not be loaded ({type(exc).__name__}: {exc}); the engine's log has the traceback"
        raise Rejected([Diagnostic(where, message)], stamps([*before, *sources])) from exc
    return LoadedFlow(name, flow, prompts, stamps(sources))


def _read(path: Path, manifest_path: Path, sources: list[Path]) -> tuple[Flow, CatalogPrompts]:
    # The manifest first, so that one validation checks the audio too; a broken one is reported
    # after the flow's own errors, as a flow that does not load has no audio to check.
    try:
        manifest: Manifest | None = Manifest.load(manifest_path)
        broken = None
    except ManifestError as exc:
        manifest, broken = None, exc
    built = BuiltLanguages.of(manifest) if manifest is not None else None
    flow = load_flow(path, sources=sources, manifest=built, missing_audio="error")
    catalog = load_catalog(flow)
    if catalog is None:
        where = flow.loc_of("prompts") or SourceLocation(str(path), 1, 1)
        raise FlowError([Diagnostic(where, "the flow names no prompt texts")])
    if manifest is None:
        raise FlowError([Diagnostic(SourceLocation(str(manifest_path), 1, 1), str(broken))])
    assert built is not None
    silent = [language for language in flow.languages if language not in built.languages]
    if built.languages and silent:
        # Served, as a development setup is (see BuiltLanguages), but on a site with audio this is
        # more likely a build that failed in that language: its callers hear nothing.
        logger.warning("flow.language_without_audio", flow=flow.id, path=str(path), languages=silent)
    return flow, CatalogPrompts(catalog, manifest, built)


class FlowLibrary:
    """AGI script name -> the flow in service; unknown names get the "default" flow."""

    def __init__(self, scripts: Mapping[str, Path], audio_dir: Path) -> None:
        self._paths = dict(scripts)
        self._manifest_path = audio_dir / "manifest.json"
        self._loaded: dict[str, LoadedFlow] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> FlowLibrary:
        return cls(
            {name: settings.path(path) for name, path in settings.flows.items()},
            settings.path(settings.audio_dir),
        )

    @property
    def loaded(self) -> list[LoadedFlow]:
        return list(self._loaded.values())

    def load_all(self) -> None:
        """At start-up every flow must load: a service that cannot serve its flows must not start."""
        problems: list[Diagnostic] = []
        for name, path in self._paths.items():
            try:
                self._loaded[name] = load_one(name, path, self._manifest_path)
            except FlowError as exc:
                problems.extend(exc.diagnostics)
        if DEFAULT_SCRIPT not in self._paths:
            problems.append(
                Diagnostic(SourceLocation("<config>", 1, 1), "no 'default' flow configured")
            )
        if problems:
            raise FlowError(problems)

    def get(self, script: str | None) -> LoadedFlow:
        name = (script or DEFAULT_SCRIPT).strip("/")
        return self._loaded.get(name) or self._loaded[DEFAULT_SCRIPT]

    def names(self) -> Iterable[str]:
        return self._loaded.keys()

    def flows(self) -> dict[str, Flow]:
        return {name: loaded.flow for name, loaded in self._loaded.items()}

    def reload_changed(self) -> list[tuple[str, list[Diagnostic]]]:
        """Reload flows whose files changed; returns (name, errors) for each reload attempted."""
        attempts: list[tuple[str, list[Diagnostic]]] = []
        for name, loaded in list(self._loaded.items()):
            if all(_stamp(file) == when for file, when in loaded.stamps.items()):
                continue
            log = logger.bind(flow=name, path=str(self._paths[name]))
            try:
                fresh = load_one(name, self._paths[name], self._manifest_path, loaded.stamps)
            except Rejected as exc:
                for diagnostic in exc.diagnostics:
                    log.error("flow.reload_rejected", diagnostic=str(diagnostic))
                # The attempt's stamps: the same bad edit is not reported every poll, and a fix in
                # a file only the rejected version used (a new include) is still seen.
                self._loaded[name] = LoadedFlow(name, loaded.flow, loaded.prompts, exc.stamps)
                attempts.append((name, list(exc.diagnostics)))
                continue
            self._loaded[name] = fresh
            log.info("flow.reloaded", version=fresh.flow.version)
            attempts.append((name, []))
        return attempts
