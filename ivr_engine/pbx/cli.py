"""`ivr pbx`: build, start, stop and call the local Asterisk harness."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import click

from ivr_engine.pbx.asterisk import Pbx, PbxError
from ivr_engine.pbx.root import RootError, build_root, default_root
from ivr_engine.pbx.sipp import SippError


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc)) from None


@click.group()
def pbx() -> None:
    """Local Asterisk 22 (chrooted, cached in ~/.cache/ivr-engine or $IVR_ASTERISK_ROOT) and SIPp calls.

    Ports: SIP 127.0.0.1:15060, AMI 127.0.0.1:15038 (user ivr-engine, secret $IVR_AMI_SECRET),
    RTP 31000-31999, agent phones agent1..agent4 at 15071..15074; move them with IVR_PBX_SIP_PORT,
    IVR_PBX_AMI_PORT, IVR_PBX_RTP_START/END, IVR_PBX_AGENT_PORT_BASE.
    Calls go to the FastAGI service at $IVR_AGI_URL (default agi://127.0.0.1:4573/default).
    """


@pbx.command()
def build() -> None:
    """Build the Asterisk root with mmdebstrap (about a minute), unless it is already complete."""
    try:
        click.echo(build_root())
    except RootError as exc:
        _fail(exc)


@pbx.command()
@click.option(
    "--background",
    is_flag=True,
    help="Return once Asterisk is up and leave it running; `ivr pbx stop` stops it.",
)
@click.option(
    "--sounds",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of prompts to install as sounds/ivr/ (STREAM FILE ivr/<lang>/<id>).",
)
@click.option("--agi-url", help="FastAGI service for calls (default: $IVR_AGI_URL).")
def start(background: bool, sounds: Path | None, agi_url: str | None) -> None:
    """Start Asterisk. In the foreground (the default) it runs until Ctrl-C, then stops."""
    harness = Pbx(agi_url=agi_url, sounds=sounds)
    try:
        harness.start()
    except (RootError, PbxError) as exc:
        _fail(exc)
    click.echo(
        f"Asterisk up in {harness.root_dir}: SIP 127.0.0.1:{harness.ports.sip}, "
        f"AMI 127.0.0.1:{harness.ports.ami}; logs in {harness.log_dir}"
    )
    click.echo(
        f"AMI secret: $IVR_AMI_SECRET or {harness.root_dir}/etc/asterisk/local/manager.conf"
    )
    if background:
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while harness.running_pid() is not None:
            time.sleep(1)
        click.echo("Asterisk exited:\n" + harness.log_tail(20), err=True)
    except KeyboardInterrupt:
        pass
    finally:
        harness.stop()


@pbx.command()
def stop() -> None:
    """Stop the Asterisk running in the root (started in the background or left behind)."""
    harness = Pbx()
    pid = harness.running_pid()
    harness.stop()
    click.echo(f"stopped pid {pid}" if pid else "not running")


@pbx.command()
def status() -> None:
    """Whether Asterisk runs, its agents' reachability and its queues."""
    harness = Pbx()
    pid = harness.running_pid()
    if pid is None:
        click.echo(f"not running (root {default_root()})")
        raise SystemExit(3)
    click.echo(f"running, pid {pid}, root {harness.root_dir}")
    for command in ("core show uptime", "pjsip show contacts", "queue show"):
        click.echo(harness.cli(command))


@pbx.command()
@click.option(
    "--keys",
    default="",
    help='Keys to press, e.g. "2 1 3" or "1*#"; one every --gap seconds.',
)
@click.option("--gap", default=1.0, show_default=True, help="Seconds before each key.")
@click.option(
    "--from",
    "from_user",
    default="1000",
    show_default=True,
    help="Caller number (From user).",
)
@click.option("--service", default="12320", show_default=True, help="Number dialled.")
@click.option(
    "--hold",
    default=5.0,
    show_default=True,
    help="Seconds to stay on after the last key.",
)
@click.option(
    "--until-hangup",
    is_flag=True,
    help="Ignore --hold: stay on until the PBX hangs up (at most 2 minutes).",
)
def call(
    keys: str, gap: float, from_user: str, service: str, hold: float, until_hangup: bool
) -> None:
    """Place one real SIP call (SIPp) into the running PBX and report how it went."""
    harness = Pbx()
    if harness.running_pid() is None:
        _fail(PbxError("the PBX is not running: `ivr pbx start --background` first"))
    try:
        plan = [(gap, key) for key in keys if not key.isspace()]
        result = harness.place_call(
            plan,
            hold_seconds=None if until_hangup else hold,
            from_user=from_user,
            service=service,
        )
    except (SippError, ValueError) as exc:
        _fail(exc)
    click.echo(
        f"answered={result.answered} hung_up_by={result.hung_up_by} keys={result.keys!r} "
        f"setup={result.setup_seconds}s talk={result.talk_seconds}s sipp_exit={result.exit_code}"
    )
    if result.errors:
        click.echo(result.errors, err=True)
    if not result.ok:
        raise SystemExit(1)
