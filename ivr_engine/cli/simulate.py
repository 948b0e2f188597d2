"""`ivr simulate`: try a flow without a phone, through the same engine that serves real calls.

    ivr simulate flows/hotline-12320.yaml --caller 13800000000 --keys "2 2 1"
    ivr simulate flows/hotline-12320.yaml --keys "2 2 1" --typeahead --json
    ivr simulate flows/hotline-12320.yaml            # interactive: type keys as the caller
    ivr simulate flows/hotline-12320.yaml --stats var/sim.db --caller 13800000000 --keys "2 2 1 **"

Key scripts: keys are pressed by a caller who knows what they want, right after the option they
want has been heard; `-` lets one wait for a key time out; `h` hangs up (see runtime/console.py).
Time passes on a virtual clock (prompt durations from the built audio, else estimated), so the
seconds reported are what a real caller would spend.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import json
import sys
import tempfile
import threading
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ivr_engine.flow.diagnostics import FlowError
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import Flow
from ivr_engine.logs import configure_logging
from ivr_engine.prompts.catalog import PromptCatalog
from ivr_engine.prompts.manifest import Manifest, ManifestError
from ivr_engine.runtime.channel import CallInfo
from ivr_engine.runtime.console import HANG_UP, ConsoleChannel, parse_script
from ivr_engine.runtime.engine import CallResult, RuntimeSettings, run_call
from ivr_engine.runtime.events import CallObserver
from ivr_engine.runtime.personal import Personalizer
from ivr_engine.runtime.prompt_source import CatalogPrompts


def _read_key_line(question: str) -> str:
    click.echo(f"  > {question}: ", nl=False, err=True)
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else HANG_UP  # end of input: the caller is gone


def _parse_at(value: str | None) -> dt.datetime | None:
    """The --at moment as written; without an offset it is naive, read later in the flow's zone."""
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date and time like 2026-11-23T10:00+08:00", param_hint="--at"
        ) from None


def _call_time(moment: dt.datetime | None, flow: Flow) -> dt.datetime:
    if moment is None:
        return dt.datetime.now(dt.UTC)
    # The validator has checked the flow's time zone.
    return moment if moment.tzinfo else moment.replace(tzinfo=zoneinfo.ZoneInfo(flow.timezone))


def _voicemail_dir(path: Path | None) -> Path:
    """Made and written to once up front: a directory that cannot take a message is a usage error,
    not a call that fails with a traceback when it reaches the voicemail node."""
    if path is None:
        return Path(tempfile.mkdtemp(prefix="ivr-simulate-voicemail-"))
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.BadParameter(f"{path} cannot take messages: {reason}", param_hint="--voicemail-dir") from None
    return path


@contextlib.contextmanager
def _statistics(
    stats_url: str | None, dev_secret_dir: Path | None, flow: Flow, prompts: CatalogPrompts, moment: dt.datetime
) -> Iterator[tuple[CallObserver | None, Personalizer | None]]:
    """With a statistics database, the call is recorded as the service records one, and the personal
    menus are the service's, loaded from that database: a caller it knows hears their shortcuts and
    `**` bookmarks. The call is only worth recording if it is recorded: a database that cannot take
    it is an error, not a spool no engine will replay."""
    if stats_url is None:
        yield None, None
        return
    from ivr_engine.personal.menus import PersonalMenus
    from ivr_engine.service import FanOut
    from ivr_engine.stats.privacy import CallerSecretError, caller_keyer_from_env
    from ivr_engine.stats.recorder import StatsRecorder
    from ivr_engine.stats.store import StatsStore, StatsStoreError, database_url

    url = database_url(stats_url)
    try:
        keyer = caller_keyer_from_env(dev_dir=dev_secret_dir, create=False)
        store = StatsStore.open(url, keyer=keyer)
    except (CallerSecretError, StatsStoreError) as exc:
        raise click.ClickException(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="ivr-simulate-spool-") as spool:
        recorder = StatsRecorder(store, Path(spool)).start()
        try:
            menus = PersonalMenus.from_store(store, [(flow, prompts)], clock=moment.timestamp)
            yield FanOut([recorder, menus]), menus
        finally:
            recorder.close()
            store.close()
        if recorder.counts().spooled:
            raise click.ClickException(f"{stats_url}: the database did not take the call; it is not recorded")


class _DaemonThreads(concurrent.futures.ThreadPoolExecutor):
    """Each job in a daemon thread of its own. A plain hook outliving its lookup's timeout keeps
    running in its thread, and the pool's threads are joined at exit: the command would end long
    after the call. A pool in type only, as asyncio's default executor must be; it has no threads
    to wait for at shutdown. (The service keeps a real pool: it does not exit after a call.)"""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to whoever awaits the future, as an executor does
                future.set_exception(exc)

        threading.Thread(target=work, daemon=True, name="ivr-simulate-worker").start()
        return future


def _variables(pairs: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--variable")
        result[name] = value
    return result


def _load(flow_file: Path, audio_dir: Path | None) -> tuple[Flow, CatalogPrompts]:
    try:
        flow = load_flow(flow_file)
        if flow.prompts is None:
            raise click.ClickException(f"{flow_file}: the flow names no prompt texts (prompts:)")
        catalog = PromptCatalog.load(Path(flow.prompts))
    except FlowError as exc:
        raise click.ClickException("\n".join(str(d) for d in exc.diagnostics)) from None
    try:
        manifest = Manifest.load(audio_dir) if audio_dir is not None else None
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from None
    return flow, CatalogPrompts.as_served(catalog, manifest)


def report(flow: Flow, result: CallResult, channel: ConsoleChannel, voicemail_dir: Path) -> dict[str, Any]:
    return {
        "flow": {"id": flow.id, "version": flow.version},
        "call_id": result.call_id,
        "caller": channel.info.caller,
        "language": result.language,
        "visited": result.path,
        "final_node": result.final_node,
        "outcome": result.outcome.value,
        "leaf": result.leaf,
        "seconds_to_leaf": result.seconds_to_leaf,
        "seconds": round(result.seconds, 3),
        "keypresses": [{"at": p.at, "key": p.key} for p in channel.presses],
        "unused_keys": list(channel.tokens),
        "variables": result.variables,
        "heard": [
            {
                "at": h.at,
                "prompt": h.prompt_id,
                "language": h.language,
                "text": h.text,
                "seconds": h.seconds,
                "complete": h.complete,
            }
            for h in channel.heard
        ],
        "visits": [
            {
                "node": v.node_id,
                "kind": v.node_kind,
                "key": v.key,
                "timeouts": v.timeouts,
                "invalid_keys": v.invalid_keys,
                "via_shortcut": v.via_shortcut,
            }
            for v in result.visits
        ],
        "actions": channel.actions,
        "voicemail_dir": str(voicemail_dir),
    }


@click.command()
@click.argument("flow_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--caller", default=None, help="The caller's number (ANI).")
@click.option(
    "--keys",
    default=None,
    help='Key script, e.g. "2 1 #"; "-" lets a wait time out, "h" hangs up. '
    "Without it, keys are read from the terminal.",
)
@click.option("--typeahead", is_flag=True, help="Press every key of the script at time 0.")
@click.option("--json", "as_json", is_flag=True, help="Print the call as JSON.")
@click.option("--language", default=None, help="The channel's language (default: the flow's).")
@click.option(
    "--at",
    "at",
    default=None,
    help="When the call happens, ISO 8601 (default: now); without an offset, in the flow's timezone.",
)
@click.option("--variable", "-V", "variables", multiple=True, help="NAME=VALUE from the dialplan, e.g. tier=vip.")
@click.option("--queue-status", default="CONTINUE", show_default=True, help="QUEUESTATUS the queue answers.")
@click.option("--dial-status", default="ANSWER", show_default=True, help="DIALSTATUS a transfer answers.")
@click.option(
    "--audio-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Built prompt audio (its manifest.json gives real durations).",
)
@click.option(
    "--voicemail-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where simulated messages go (default: a new temporary directory).",
)
@click.option(
    "--stats",
    "stats_url",
    default=None,
    help="Statistics database (a URL, or the path of a SQLite file): the call is recorded there, and a --caller "
    "it knows hears their personal menu; ** at a service bookmarks it. Callers are hashed with "
    "IVR_STATS_CALLER_KEY_SECRET.",
)
@click.option(
    "--dev-secret-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --stats, without IVR_STATS_CALLER_KEY_SECRET: the directory of the engine's generated secret.",
)
@click.option("--log-level", default="warning", show_default=True)
def simulate(
    flow_file: Path,
    caller: str | None,
    keys: str | None,
    typeahead: bool,
    as_json: bool,
    language: str | None,
    at: str | None,
    variables: tuple[str, ...],
    queue_status: str,
    dial_status: str,
    audio_dir: Path | None,
    voicemail_dir: Path | None,
    stats_url: str | None,
    dev_secret_dir: Path | None,
    log_level: str,
) -> None:
    """Walk FLOW_FILE for one simulated call and show what the caller heard and reached."""
    configure_logging(log_level, json=True, stream=sys.stderr)
    try:
        script = parse_script(keys) if keys is not None else []
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--keys") from None
    written_at = _parse_at(at)
    flow, prompts = _load(flow_file, audio_dir)
    if language is not None and language not in flow.languages:
        raise click.BadParameter(f"the flow speaks {', '.join(flow.languages)}", param_hint="--language")
    moment = _call_time(written_at, flow)
    voicemail_dir = _voicemail_dir(voicemail_dir)
    interactive = keys is None
    info = CallInfo(
        call_id=f"console-{uuid.uuid4().hex[:12]}",
        caller=caller,
        language=language or flow.default_language,
        variables=_variables(variables),
    )
    channel = ConsoleChannel(
        info,
        script,
        typeahead=typeahead,
        queue_status=queue_status.upper(),
        dial_status=dial_status.upper(),
        recordings_dir=voicemail_dir,
        ask=_read_key_line if interactive else None,
        show=None if as_json else click.echo,
    )
    settings = RuntimeSettings(voicemail_dir=voicemail_dir, clock=lambda: moment)
    with _statistics(stats_url, dev_secret_dir, flow, prompts, moment) as (observer, personal):
        with asyncio.Runner() as runner:
            runner.get_loop().set_default_executor(_DaemonThreads())
            call = run_call(
                flow,
                channel,
                prompts=prompts,
                observer=observer,
                personalizer=personal,
                settings=settings,
                channel_kind="console",
            )
            result = runner.run(call)
    document = report(flow, result, channel, voicemail_dir)
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"\n{result.outcome.value}: {' -> '.join(result.path)}"
        f"\nleaf {result.leaf or '-'} after {result.seconds_to_leaf if result.seconds_to_leaf is not None else '-'} s;"
        f" call {result.seconds:.2f} s; keys {''.join(p.key for p in channel.presses) or '-'}"
    )
    if result.variables:
        click.echo("variables: " + ", ".join(f"{k}={v}" for k, v in result.variables.items()))
