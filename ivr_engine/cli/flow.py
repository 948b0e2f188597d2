"""`ivr validate` and `ivr flow show|export`: the ops staff's tools for flow files."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from ivr_engine.flow.diagnostics import FlowError, has_errors
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import Flow
from ivr_engine.flow.validate import check_paths, flow_files, load_catalog
from ivr_engine.prompts.manifest import Manifest, ManifestError

_EXISTING = click.Path(exists=True, path_type=Path)


def _manifest(audio: Path | None) -> Manifest | None:
    if audio is None:
        return None

    try:
        return Manifest.load(audio)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from None


def write_drawing(draw: Callable[[], object], out: Path, option: str) -> None:
    """Run `draw`, a render_flow writing `out`; what can go wrong with `out` is an error naming
    `option`, not a traceback (a folder that does not exist, a suffix dot cannot draw)."""
    import graphviz

    try:
        draw()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
    except OSError as exc:
        raise click.BadParameter(f"cannot write {out}: {exc.strerror or exc}", param_hint=option) from None
    except graphviz.ExecutableNotFound:
        raise click.ClickException("Graphviz `dot` is not installed (apt-get install graphviz)") from None


def _output(out: Path, hint: str = "'--out'") -> Path:
    """`out`, once the directory it goes in exists: missing directories are created (a build
    directory need not be made first); a file standing where a directory must go is the user's error."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocking} is not a directory" if blocking else f"cannot create {out.parent}: {exc.strerror}"
        raise click.BadParameter(f"{out}: {reason}", param_hint=hint) from None
    return out


def _write(out: Path, text: str) -> None:
    try:
        _output(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(f"cannot write {out}: {exc.strerror}", param_hint="'--out'") from None


def _load(path: Path) -> Flow:
    try:
        return load_flow(path)
    except FlowError as exc:
        for diagnostic in exc.diagnostics:
            click.echo(str(diagnostic), err=True)
        sys.exit(1)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=_EXISTING)
@click.option(
    "--audio",
    type=_EXISTING,
    help="Audio directory (or its manifest.json): also warn about prompts with no built audio.",
)
def validate(paths: tuple[Path, ...], audio: Path | None) -> None:
    """Check flow files (a directory means the *.yaml directly in it; one with none is an error).

    Prints each problem as file:line:col: severity: message; exits 1 if any is an error.
    """
    # A directory holding no flow file is most likely the wrong one: passing it would check nothing.
    empty = [str(path) for path in paths if path.is_dir() and not flow_files([path])]
    if empty:
        raise click.ClickException(f"no flow files (*.yaml, *.yml) directly in {', '.join(empty)}: nothing to validate")
    diagnostics = check_paths(paths, manifest=_manifest(audio))
    for diagnostic in diagnostics:
        click.echo(str(diagnostic))
    errors = sum(d.is_error for d in diagnostics)
    click.echo(
        f"{len(flow_files(paths))} flow file(s): {errors} error(s), {len(diagnostics) - errors} warning(s)", err=True
    )
    sys.exit(1 if has_errors(diagnostics) else 0)


@click.group()
def flow() -> None:
    """Draw and export flows."""


@flow.command()
@click.argument("path", type=_EXISTING)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="tree.svg, tree.png, .pdf or .dot",
)
def show(path: Path, out: Path) -> None:
    """Draw the flow's tree with Graphviz."""
    from ivr_engine.flow.draw import render_flow

    flow = _load(path)
    write_drawing(lambda: render_flow(flow, _output(out)), out, "'--out'")
    click.echo(f"wrote {out}", err=True)


@flow.command()
@click.argument("path", type=_EXISTING)
@click.option("--json", "as_json", is_flag=True, default=True, help="JSON export (the only format so far).")
@click.option("--audio", type=_EXISTING, help="Audio directory or manifest.json: measured prompt durations.")
@click.option(
    "-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout."
)
def export(path: Path, as_json: bool, audio: Path | None, out: Path | None) -> None:
    """Print the resolved flow as JSON (format documented in docs/flows.md)."""
    from ivr_engine.flow.export import export_flow

    loaded = _load(path)
    try:
        catalog = load_catalog(loaded)
    except FlowError as exc:  # load_flow checked it already; only a race with an edit gets here
        raise click.ClickException(str(exc)) from None
    text = json.dumps(export_flow(loaded, catalog, _manifest(audio)), ensure_ascii=False, indent=2)
    if out is None:
        click.echo(text)
    else:
        _write(out, text + "\n")
