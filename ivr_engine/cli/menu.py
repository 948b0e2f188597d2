"""`ivr menu export`: the flow and the personal menus of given callers, for outside evaluation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from ivr_engine.caller_id import NumberPlan
from ivr_engine.cli.flow import _load, _manifest, _write

_EXISTING = click.Path(exists=True, path_type=Path)


# What a caller id from Asterisk (CALLERID(num)) holds: digits, +, * and #, or a SIP user's name.
_CALLER_ID = re.compile(r"[0-9A-Za-z+*#@._~]+")


def _callers(path: Path, plan: NumberPlan | None) -> list[str]:
    """Numbers one per line; blank lines and lines starting with # are skipped. Without a number
    plan, a line that no caller id looks like (spaces, dashes, brackets: a number written for
    people) is warned of: callers are then found by the number exactly as Asterisk gives it, so it
    would match nobody. With one, any form of a number finds its caller."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()  # a BOM would stick to the first number
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"{path}: cannot read: {exc}", param_hint="--callers") from None
    numbers: dict[str, None] = {}
    for number, line in enumerate(lines, start=1):
        caller = line.strip()
        if not caller or caller.startswith("#"):
            continue
        if not _CALLER_ID.fullmatch(caller) and not (plan and plan.normalise(caller).startswith("+")):
            click.echo(
                f"warning: {path}:{number}: {caller!r} is not a caller id as Asterisk gives it (digits, +, *, #"
                " or a SIP name): it is looked up as written, and finds no history unless calls came so",
                err=True,
            )
        numbers[caller] = None
    return list(numbers)


def _listed(lines: list[str], most: int = 5) -> str:
    more = f"\n  ... and {len(lines) - most} more" if len(lines) > most else ""
    return "\n".join(f"  {line}" for line in lines[:most]) + more


@click.group()
def menu() -> None:
    """Personal menus built from node-access statistics."""


@menu.command()
@click.argument("path", type=_EXISTING)
@click.option("--stats", "stats_url", required=True, help="Statistics database: a URL, or the path of a SQLite file.")
@click.option("--callers", type=_EXISTING, required=True, help="File of caller numbers, one per line.")
@click.option(
    "--prompts",
    "prompts_path",
    type=_EXISTING,
    help="Prompt catalog (file or directory) instead of the flow's: its texts and the shortcut sentences (prompts/).",
)
@click.option("--audio", type=_EXISTING, help="Audio directory or manifest.json: measured prompt durations.")
@click.option(
    "--dev-secret-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Dev mode: without IVR_STATS_CALLER_KEY_SECRET, the directory of the engine's generated secret (its spool).",
)
@click.option(
    "-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout."
)
def export(
    path: Path,
    stats_url: str,
    callers: Path,
    prompts_path: Path | None,
    audio: Path | None,
    dev_secret_dir: Path | None,
    out: Path | None,
) -> None:
    """Print the flow export (docs/flows.md) plus each listed caller's personal root (docs/menus.md).

    Callers are hashed with the statistics secret (IVR_STATS_CALLER_KEY_SECRET) to find their history.
    """
    from sqlalchemy.exc import DBAPIError

    from ivr_engine.flow.diagnostics import FlowError
    from ivr_engine.flow.validate import load_catalog, validate
    from ivr_engine.personal.export import export_menus
    from ivr_engine.prompts.catalog import PromptCatalog
    from ivr_engine.stats.privacy import CallerSecretError, caller_keyer_from_env
    from ivr_engine.stats.store import StatsStore, StatsStoreError, database_url

    flow = _load(path)
    try:
        catalog = PromptCatalog.load(prompts_path) if prompts_path else load_catalog(flow)
    except FlowError as exc:
        raise click.ClickException(str(exc)) from None
    if catalog is None:
        raise click.ClickException(f"{path}: the flow names no prompt texts; pass --prompts")
    missing = [d.message for d in validate(flow, catalog) if d.is_error]
    if missing and prompts_path is not None:
        raise click.BadParameter(
            f"{prompts_path} lacks texts the flow plays; it replaces the flow's catalog, so give one that holds"
            f" those and the shortcut sentences (prompts/personal.yaml), such as the prompts/ directory:\n"
            + _listed(missing),
            param_hint="--prompts",
        )
    if missing:
        raise click.ClickException(f"{path}: prompts without texts (ivr validate):\n" + _listed(missing))
    try:
        keyer = caller_keyer_from_env(dev_dir=dev_secret_dir, create=False)
        store = StatsStore.open(database_url(stats_url), keyer=keyer, run_migrations=False, create=False)
    except (CallerSecretError, StatsStoreError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        data = export_menus(flow, catalog, _manifest(audio), store, _callers(callers, keyer.plan))
    except DBAPIError as exc:
        raise click.ClickException(f"{stats_url}: not a readable statistics database ({exc.orig})") from None
    finally:
        store.close()
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if out is None:
        click.echo(text)
    else:
        _write(out, text + "\n")
