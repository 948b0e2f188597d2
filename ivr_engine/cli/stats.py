"""`ivr stats`: node-hit reports, import, retention and the heat-map tree; a thin layer over
ivr_engine.stats.reports (the same functions the dashboard calls)."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import functools
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from ivr_engine.stats import reports
from ivr_engine.stats.privacy import SECRET_ENV, CallerKeyer, CallerSecretError, caller_keyer_from_env
from ivr_engine.stats.store import StatsStore, StatsStoreError, database_reason

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_URL = "sqlite:///var/stats.db"
_AGE = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(text: str) -> dt.timedelta:
    """'90d', '12h', '30m'."""
    match = _AGE.match(text)
    if not match:
        raise click.BadParameter(f"expected an age such as 90d, 12h or 30m, got {text!r}")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})  # too large: OverflowError, for ago()


def ago(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """The moment the age `text` ('90d') back from now."""
    try:
        return reports.in_range((now or dt.datetime.now(dt.UTC)) - parse_age(text), text)
    except (OverflowError, reports.MomentOutOfRange):
        raise click.BadParameter(str(reports.MomentOutOfRange(text))) from None


def parse_moment(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO 8601 date or date-time (UTC unless it has an offset), or an age back from now ('7d')."""
    if _AGE.match(text):
        return ago(text, now)
    try:
        return reports.parse_moment(text)
    except reports.MomentOutOfRange as exc:
        raise click.BadParameter(str(exc)) from None
    except ValueError:
        raise click.BadParameter(f"expected an ISO 8601 date or date-time, or an age like 7d, got {text!r}") from None


class _Moment(click.ParamType):
    name = "WHEN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        return value if isinstance(value, dt.datetime) else parse_moment(str(value))


class _Ago(click.ParamType):
    """An age ('90d'), converted to the moment that long ago, so a bad one names its option."""

    name = "AGE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        return value if isinstance(value, dt.datetime) else ago(str(value))


@dataclass(slots=True)
class _Options:
    url: str
    flt: reports.ReportFilter
    fmt: str
    limit: int

    @contextlib.contextmanager
    def open(self, keyer: CallerKeyer | None = None, *, create: bool = False) -> Iterator[StatsStore]:
        """The store for one command, closed however the command ends. Only a command that records
        `create`s the database: a report on a mistyped path must fail, not show an empty one."""
        try:
            store = StatsStore.open(self.url, keyer=keyer, create=create)
        except StatsStoreError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            yield store
        finally:
            store.close()

    @contextlib.contextmanager
    def report(self) -> Iterator[StatsStore]:
        """The store for a report on `flt`: a --flow no call was stored for is a typo to point out,
        not a flow to show zeros for."""
        with self.open() as store:
            flow_id = self.flt.flow_id
            if flow_id is not None and not reports.has_calls(store, flow_id):
                known = ", ".join(reports.flow_ids(store)) or "none"
                raise click.BadParameter(
                    f"no calls are stored for flow id {flow_id!r} (flows with calls: {known})", param_hint="'--flow'"
                )
            yield store


class _StatsGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        """A database that is down, locked or not ours is an error message, not a traceback."""
        import sqlalchemy as sa

        try:
            return super().invoke(ctx)
        except sa.exc.SQLAlchemyError as exc:
            url = ctx.obj.url if isinstance(ctx.obj, _Options) else "the statistics database"
            raise click.ClickException(f"{url}: {database_reason(exc)}") from None


_FILTERS = ("flow_id", "flow_version", "since", "until")
_OUTPUT = ("fmt", "limit")


def _options(names: tuple[str, ...], *, defaults: bool) -> Callable[[F], F]:
    """The report options `names`, for the group (`defaults`) or for a report command, where None
    means "as given before the command": `ivr stats --format csv nodes` and `ivr stats nodes
    --format csv` are the same report."""
    show = {"show_default": True} if defaults else {}
    declared = {
        "flow_id": click.option("--flow", "flow_id", help="Only this flow id."),
        "flow_version": click.option("--flow-version", help="Only this flow version."),
        "since": click.option(
            "--since", type=_Moment(), help="From this time (ISO 8601, UTC unless given; or an age like 7d)."
        ),
        "until": click.option("--until", type=_Moment(), help="Up to this time (exclusive)."),
        "fmt": click.option(
            "--format", "fmt", type=click.Choice(["table", "csv", "json"]),
            default="table" if defaults else None, **show,
        ),
        "limit": click.option(
            "--limit", type=click.IntRange(min=1), default=10 if defaults else None,
            help="Rows of top and paths.", **show,
        ),
    }

    def decorate(command: F) -> F:
        for name in reversed(names):
            command = declared[name](command)
        return command

    return decorate


def _check_window(flt: reports.ReportFilter) -> None:
    if why := reports.empty_window(flt.since, flt.until, "--until"):
        raise click.BadParameter(why, param_hint="'--since'")


@click.group(cls=_StatsGroup)
@click.option("--db", "url", envvar="IVR_STATS_URL", default=DEFAULT_URL, show_default=True, help="Database URL.")
@_options(_FILTERS + _OUTPUT, defaults=True)
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
    flt = reports.ReportFilter(flow_id, flow_version, since, until)
    _check_window(flt)
    ctx.obj = _Options(url, flt, fmt, limit)


def _report(names: tuple[str, ...]) -> Callable[[Callable[..., None]], click.Command]:
    """A report subcommand taking its `_Options` with the report options `names`, which may also
    follow the command's name and then win over those before it."""

    def decorate(body: Callable[..., None]) -> click.Command:
        @functools.wraps(body)
        @click.pass_obj
        def command(opts: _Options, **given: Any) -> None:
            later = {name: value for name in names if (value := given.pop(name)) is not None}
            filters = {name: value for name, value in later.items() if name in _FILTERS}
            flt = dataclasses.replace(opts.flt, **filters)
            _check_window(flt)
            output = {name: value for name, value in later.items() if name in _OUTPUT}
            body(dataclasses.replace(opts, flt=flt, **output), **given)

        return stats.command()(_options(names, defaults=False)(command))

    return decorate


@dataclass(frozen=True, slots=True)
class _Figure:
    """A number as a table shows it to people ("81.2%", "36.10"), kept whole for CSV, which is for
    programs: a share as the fraction, seconds unrounded."""

    value: float | None
    text: str

    def __str__(self) -> str:
        return self.text


def _emit(fmt: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], payload: Any) -> None:
    if fmt == "json":
        click.echo(json.dumps(payload, indent=2, default=str))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([v.value if isinstance(v, _Figure) else v for v in row] for row in rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console(width=200).print(table)


def _share(value: float | None) -> _Figure:
    return _Figure(value, "" if value is None else f"{value:.1%}")


def _seconds(value: float | None) -> _Figure:
    return _Figure(value, "" if value is None else f"{value:.2f}")


@stats.command()
@click.pass_obj
def migrate(opts: _Options) -> None:
    """Create or upgrade the statistics schema."""
    with opts.open(create=True):
        pass
    click.echo(f"statistics schema is up to date in {opts.url}")


@_report(_FILTERS + _OUTPUT)
def summary(opts: _Options) -> None:
    """Calls, outcomes, abandonment and zero-out rates, time to leaf."""
    with opts.report() as store:
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


@_report(_FILTERS + _OUTPUT)
def personal(opts: _Options) -> None:
    """Personal menus in service: calls offered one, shortcuts taken, time to a service of each."""
    with opts.report() as store:
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
            f"{use.calls} calls; a personal menu offered on {_share(use.offered_rate).text or '-'} of them, a "
            f"shortcut taken on {_share(use.shortcut_rate).text or '-'} of those; {use.bookmarks} bookmarks set"
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


@_report(_FILTERS + _OUTPUT)
def top(opts: _Options) -> None:
    """The most visited nodes."""
    with opts.report() as store:
        nodes = reports.top_nodes(store, opts.flt, opts.limit)
    _emit(opts.fmt, NODE_COLUMNS, _node_rows(nodes), [dataclasses.asdict(n) for n in nodes])


@_report(_FILTERS + _OUTPUT)
def nodes(opts: _Options) -> None:
    """Every visited node: entries, exits by key, timeouts, invalid keys, abandonment, zero-outs."""
    with opts.report() as store:
        found = reports.node_stats(store, opts.flt)
    _emit(opts.fmt, NODE_COLUMNS, _node_rows(found), [dataclasses.asdict(n) for n in found])


@_report(_FILTERS + _OUTPUT)
def paths(opts: _Options) -> None:
    """The most common paths through the flow."""
    with opts.report() as store:
        found = reports.common_paths(store, opts.flt, opts.limit)
    rows = [(p.calls, " > ".join(p.path)) for p in found]
    _emit(opts.fmt, ("calls", "path"), rows, [dataclasses.asdict(p) for p in found])


def _keyer(dev_dir: Path | None) -> CallerKeyer:
    try:
        return caller_keyer_from_env(dev_dir=dev_dir)
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
    with opts.open(keyer, create=True) as store:
        for path in files:
            try:
                result = import_file(store, path, keyer)
            except ImportFileError as exc:
                raise click.ClickException(f"nothing imported from {path}:\n{exc}") from None
            click.echo(f"{path}: {result.calls} calls ({result.new_calls} new), {result.visits} visits")


@stats.command()
@click.option("--older-than", "cutoff", required=True, type=_Ago(), help="Age such as 90d, 12h or 30m.")
@click.pass_obj
def purge(opts: _Options, cutoff: dt.datetime) -> None:
    """Delete calls, visits and caller counts older than the given age (bookmarks stay)."""
    with opts.open() as store:
        result = store.purge(cutoff)
    click.echo(
        f"purged before {result.cutoff.isoformat(timespec='seconds')}: {result.calls} calls, "
        f"{result.visits} visits, {result.caller_leaf} caller counts"
    )


@_report(("flow_version", "since", "until"))  # the flow is the file's
@click.argument("flow_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help=".svg, .png, .pdf or .dot"
)
def tree(opts: _Options, flow_file: Path, output: Path) -> None:
    """Draw the flow tree coloured by hits, with the number of calls on each edge."""
    from ivr_engine.cli.flow import _output, write_drawing
    from ivr_engine.flow.diagnostics import FlowError
    from ivr_engine.flow.loader import load_flow
    from ivr_engine.stats.heat import render_heatmap

    try:
        flow = load_flow(flow_file)
    except FlowError as exc:
        raise click.ClickException(str(exc)) from None
    with opts.open() as store:
        flt = dataclasses.replace(opts.flt, flow_id=flow.id)
        write_drawing(
            lambda: render_heatmap(store, flow, flt, _output(output, "'-o' / '--output'")), output, "'-o' / '--output'"
        )
    click.echo(f"wrote {output}")
