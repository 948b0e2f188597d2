"""`ivr prompts`: synthesize the prompt audio Asterisk plays, list it, check it is current."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ivr_engine.flow.diagnostics import FlowError
from ivr_engine.prompts.audio import DEFAULT_FORMATS, FORMATS, MASTER_FORMAT, AudioSettings
from ivr_engine.prompts.build import (
    ENGINE_CHOICES,
    BuildError,
    BuildPlan,
    Failure,
    PromptBuilder,
    engines_for,
)
from ivr_engine.prompts.catalog import PromptCatalog
from ivr_engine.prompts.manifest import Manifest, ManifestEntry, ManifestError

DEFAULT_PROMPTS = Path("prompts")
DEFAULT_OUT = Path("prompts/audio")

prompts_dir_option = click.option(
    "--prompts", "prompts_dir", type=click.Path(exists=True, path_type=Path), default=DEFAULT_PROMPTS,
    show_default=True, help="Prompt catalog: a directory of *.yaml files or one file.",
)  # fmt: skip
out_option = click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT, show_default=True,
    help="Audio directory; install it as the sounds directory's ivr/ folder.",
)  # fmt: skip
engine_option = click.option(
    "--engine", type=click.Choice(ENGINE_CHOICES), default="auto", show_default=True,
    help="auto: gTTS when Google is reachable, espeak-ng for the rest.",
)  # fmt: skip
language_option = click.option(
    "--language", "languages", multiple=True, help="Only this language (repeatable); default all."
)
format_option = click.option(
    "--format", "formats", multiple=True, type=click.Choice(list(FORMATS)),
    help=f"Audio formats to write (repeatable; wav is always written); default {' '.join(DEFAULT_FORMATS)}.",
)  # fmt: skip


def plan_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options that decide what a build would do; shared by `build` and `check`."""
    for option in reversed((prompts_dir_option, out_option, engine_option, language_option, format_option)):
        command = option(command)
    return command


@click.group()
def prompts() -> None:
    """Prompt audio: synthesized per language, 8 kHz mono, with measured durations."""


@prompts.command()
@plan_options
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Parallel syntheses; default one per core.")
def build(
    prompts_dir: Path, out: Path, engine: str, languages: Sequence[str], formats: Sequence[str], jobs: int | None
) -> None:
    """Synthesize every prompt in every language it is written in; unchanged prompts are kept."""
    builder, plan = _plan(prompts_dir, out, engine, languages, formats, jobs)
    if plan.empty:
        click.echo(f"All {plan.up_to_date} prompt recordings in {out} are up to date; nothing to build.")
        return
    started = time.monotonic()
    console = Console(stderr=True)
    with Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, disable=not console.is_terminal,
    ) as progress:  # fmt: skip
        task = progress.add_task("Synthesizing", total=len(plan.jobs))

        def advance(result: ManifestEntry | Failure) -> None:
            progress.update(task, advance=1, description=f"{result.language} {result.prompt_id}")

        report = builder.run(plan, advance)
    for failure in report.failed:
        click.echo(f"error: {failure}", err=True)
    fallbacks = sum(1 for entry in report.built if entry.fallback_from)
    click.echo(
        f"Built {len(report.built)}, up to date {report.up_to_date}, removed {len(report.removed)}, "
        f"failed {len(report.failed)} in {time.monotonic() - started:.1f} s"
        + (f"; {fallbacks} by a fallback engine" if fallbacks else "")
        + f" -> {out}"
    )
    if report.failed:
        raise SystemExit(1)


@prompts.command()
@plan_options
def check(prompts_dir: Path, out: Path, engine: str, languages: Sequence[str], formats: Sequence[str]) -> None:
    """Exit 1 if any prompt's audio is missing, outdated or left over from a removed prompt."""
    _, plan = _plan(prompts_dir, out, engine, languages, formats, None)
    for job in plan.jobs:
        click.echo(f"to build: {job.prompt_id} ({job.language})")
    for entry in plan.stale:
        click.echo(f"stale: {entry.prompt_id} ({entry.language})")
    click.echo(f"{plan.up_to_date} up to date, {len(plan.jobs)} to build, {len(plan.stale)} stale")
    if not plan.empty:
        raise SystemExit(1)


@prompts.command(name="list")
@out_option
@language_option
def list_(out: Path, languages: Sequence[str]) -> None:
    """The built recordings: language, prompt, seconds, engine (and the engine it fell back from)."""
    for entry in _load_manifest(out).entries():
        if languages and entry.language not in languages:
            continue
        fallback = f" (fallback from {entry.fallback_from})" if entry.fallback_from else ""
        click.echo(f"{entry.language}\t{entry.prompt_id}\t{entry.duration:.2f}\t{entry.engine}/{entry.voice}{fallback}")


def _plan(
    prompts_dir: Path, out: Path, engine: str, languages: Sequence[str], formats: Sequence[str], jobs: int | None
) -> tuple[PromptBuilder, BuildPlan]:
    try:
        catalog = PromptCatalog.load(prompts_dir)
    except FlowError as exc:
        raise click.ClickException(f"the prompt catalog has errors:\n{exc}") from exc
    settings = AudioSettings(formats=_with_master(formats)) if formats else AudioSettings()
    try:
        builder = PromptBuilder(out, engines_for(engine), settings, workers=jobs)
    except (BuildError, ManifestError) as exc:
        raise click.ClickException(str(exc)) from exc
    for name, reason in builder.unavailable.items():
        click.echo(f"{name} is not used: {reason}", err=True)
    return builder, builder.plan(catalog, set(languages) or None)


def _with_master(formats: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([MASTER_FORMAT, *formats]))


def _load_manifest(out: Path) -> Manifest:
    try:
        return Manifest.load(out)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from exc
