"""`ivr stats`: node-hit reports, import, retention and the heat-map tree; a thin layer over
ivr_engine.stats.reports (the same functions the dashboard calls)."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ivr_engine.stats import reports
from ivr_engine.stats.privacy import (
    SECRET_ENV,
    CallerKeyer,
    CallerSecretError,
    caller_keyer,
)
from ivr_engine.stats.store import StatsStore, StatsStoreError

DEFAULT_URL = "sqlite:///var/stats.db"
_AGE = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(text: str) -> dt.timedelta:
    """'90d', '12h', '30m'."""
    match = _AGE.match(text)
    if not match:
        raise click.BadParameter(f"expected an age such as 90d, 12h or 30m, got {text!r}")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_moment(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO 8601 date or date-time (UTC unless it has an offset), or an age back from now ('7d')."""
    if _AGE.match(text):
        return (now or dt.datetime.now(dt.UTC)) - parse_age(text)
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"expected an ISO 8601 date or date-time, or an age like 7d, got {text!r}") from None
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class _Moment(click.ParamType):
    name = "WHEN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        return value if isinstance(value, dt.datetime) else parse_moment(str(value))


@dataclass(slots=True)
class _Options:
    url: str
    flt: reports.ReportFilter
    fmt: str
    limit: int

    @contextlib.contextmanager
    def open(self, keyer: CallerKeyer | None = None) -> Iterator[StatsStore]:
        """The store for one command, closed however the command ends."""
        try:
            store = StatsStore.open(self.url, keyer=keyer)
        except StatsStoreError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            yield store
        finally:
            store.close()


class _StatsGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        """A database that is down, locked or not ours is an error message, not a traceback."""
        import sqlalchemy as sa

        try:
            return super().invoke(ctx)
        except sa.exc.SQLAlchemyError as exc:
            url = ctx.obj.url if isinstance(ctx.obj, _Options) else "the statistics database"
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise click.ClickException(f"{url}: {reason}") from None


@click.group(cls=_StatsGroup)
@click.option("--db", "url", envvar="IVR_STATS_URL", default=DEFAULT_URL, show_default=True, help="Database URL.")
@click.option("--flow", "flow_id", help="Only this flow id.")
@click.option("--flow-version", help="Only this flow version.")
@click.option("--since", type=_Moment(), help="From this time (ISO 8601, UTC unless given; or an age like 7d).")
@click.option("--until", type=_Moment(), help="Up to this time (exclusive).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="Rows of top and paths.")
@click.pass_context
def stats(
    ctx: click.Context,
    url: str,
    flow_id: str | None,
    flow_version: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    fmt: str,
    limit: int,
) -> None:
    """Node-hit statistics: reports, import, retention."""
    ctx.obj = _Options(url, reports.ReportFilter(flow_id, flow_version, since, until), fmt, limit)


def _emit(fmt: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], payload: Any) -> None:
    if fmt == "json":
        click.echo(json.dumps(payload, indent=2, default=str))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console(width=200).print(table)


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


@stats.command()
@click.pass_obj
def migrate(opts: _Options) -> None:
    """Create or upgrade the statistics schema."""
    with opts.open():
        pass
    click.echo(f"statistics schema is up to date in {opts.url}")


@stats.command()
@click.pass_obj
def summary(opts: _Options) -> None:
    """Calls, outcomes, abandonment and zero-out rates, time to leaf."""
    with opts.open() as store:
        result = reports.summary(store, opts.flt)
    rows: list[Sequence[Any]] = [
        ("calls", result.calls),
        ("visits", result.visits),
        *((f"outcome {o}", n) for o, n in sorted(result.by_outcome.items())),
        ("served rate", _share(result.served_rate)),
        ("abandonment rate", _share(result.abandonment_rate)),
        ("zero-out rate", _share(result.zero_out_rate)),
        ("mean seconds to leaf", _seconds(result.mean_seconds_to_leaf)),
        ("p95 seconds to leaf", _seconds(result.p95_seconds_to_leaf)),
    ]
    _emit(opts.fmt, ("figure", "value"), rows, dataclasses.asdict(result))


@stats.command()
@click.pass_obj
def personal(opts: _Options) -> None:
    """Personal menus in service: calls offered one, shortcuts taken, time to a service of each."""
    with opts.open() as store:
        use = reports.personal_use(store, opts.flt)
    groups = (
        ("took a shortcut", use.via_shortcut),
        ("offered, went through the menus", use.offered_not_taken),
        ("not offered", use.not_offered),
    )
    rows: list[Sequence[Any]] = [
        (name, g.calls, _share(reports.rate(g.calls, use.calls)), g.reached,
         _seconds(g.mean_seconds_to_leaf), _seconds(g.p95_seconds_to_leaf))
        for name, g in groups
    ]  # fmt: skip
    if opts.fmt == "table":
        click.echo(
            f"{use.calls} calls; a personal menu offered on {_share(use.offered_rate) or '-'} of them, a "
            f"shortcut taken on {_share(use.shortcut_rate) or '-'} of those; {use.bookmarks} bookmarks set"
        )
    columns = ("calls", "count", "share", "reached a service", "mean s to service", "p95 s to service")
    _emit(opts.fmt, columns, rows, dataclasses.asdict(use))


def _node_rows(nodes: list[reports.NodeStats]) -> list[Sequence[Any]]:
    return [
        (
            n.node_id, n.kind, n.hits, n.calls, " ".join(f"{k}:{c}" for k, c in n.exits.items()),
            n.timeouts, n.invalid_keys, n.abandoned_here, n.zeroed_out_here, _seconds(n.mean_seconds),
        )
        for n in nodes
    ]  # fmt: skip


NODE_COLUMNS = ("node", "kind", "hits", "calls", "exits", "timeouts", "invalid", "abandoned", "zeroed_out", "mean_s")


@stats.command()
@click.pass_obj
def top(opts: _Options) -> None:
    """The most visited nodes."""
    with opts.open() as store:
        nodes = reports.top_nodes(store, opts.flt, opts.limit)
    _emit(opts.fmt, NODE_COLUMNS, _node_rows(nodes), [dataclasses.asdict(n) for n in nodes])


@stats.command()
@click.pass_obj
def nodes(opts: _Options) -> None:
    """Every visited node: entries, exits by key, timeouts, invalid keys, abandonment, zero-outs."""
    with opts.open() as store:
        found = reports.node_stats(store, opts.flt)
    _emit(opts.fmt, NODE_COLUMNS, _node_rows(found), [dataclasses.asdict(n) for n in found])


@stats.command()
@click.pass_obj
def paths(opts: _Options) -> None:
    """The most common paths through the flow."""
    with opts.open() as store:
        found = reports.common_paths(store, opts.flt, opts.limit)
    rows = [(p.calls, " > ".join(p.path)) for p in found]
    _emit(opts.fmt, ("calls", "path"), rows, [dataclasses.asdict(p) for p in found])


def _keyer(dev_dir: Path | None) -> CallerKeyer:
    try:
        return caller_keyer(os.environ.get(SECRET_ENV), dev_dir=dev_dir)
    except CallerSecretError as exc:
        raise click.ClickException(str(exc)) from None


@stats.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--dev-secret-dir", type=click.Path(file_okay=False, path_type=Path),
    help=f"Dev mode: without {SECRET_ENV}, keep a generated caller-hash secret in this directory.",
)  # fmt: skip
@click.pass_obj
def import_(opts: _Options, files: tuple[Path, ...], dev_secret_dir: Path | None) -> None:
    """Load call paths from JSON-lines files (see docs/stats.md); re-importing changes nothing."""
    from ivr_engine.stats.importer import ImportFileError, import_file

    keyer = _keyer(dev_secret_dir)
    with opts.open(keyer) as store:
        for path in files:
            try:
                result = import_file(store, path, keyer)
            except ImportFileError as exc:
                raise click.ClickException(f"nothing imported from {path}:\n{exc}") from None
            click.echo(f"{path}: {result.calls} calls ({result.new_calls} new), {result.visits} visits")


@stats.command()
@click.option("--older-than", required=True, help="Age such as 90d, 12h or 30m.")
@click.pass_obj
def purge(opts: _Options, older_than: str) -> None:
    """Delete calls, visits and caller counts older than the given age (bookmarks stay)."""
    cutoff = dt.datetime.now(dt.UTC) - parse_age(older_than)
    with opts.open() as store:
        result = store.purge(cutoff)
    click.echo(
        f"purged before {cutoff.isoformat(timespec='seconds')}: {result.calls} calls, "
        f"{result.visits} visits, {result.caller_leaf} caller counts"
    )


@stats.command()
@click.argument("flow_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help=".svg, .png, .pdf or .dot"
)
@click.pass_obj
def tree(opts: _Options, flow_file: Path, output: Path) -> None:
    """Draw the flow tree coloured by hits, with the number of calls on each edge."""
    from ivr_engine.cli.flow import _output
    from ivr_engine.flow.diagnostics import FlowError
    from ivr_engine.flow.loader import load_flow
    from ivr_engine.stats.heat import render_heatmap

    try:
        flow = load_flow(flow_file)
    except FlowError as exc:
        raise click.ClickException(str(exc)) from None
    with opts.open() as store:
        try:
            flt = dataclasses.replace(opts.flt, flow_id=flow.id)
            render_heatmap(store, flow, flt, _output(output, "--output"))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {output}")
