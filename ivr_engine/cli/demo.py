"""`ivr demo`: Asterisk, the engine, a real demo call through the hotline, and the dashboard."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from ivr_engine.logs import configure_logging


@click.command()
@click.option("--keys", default="2 1 1 1", show_default=True, help="What the demo caller presses.")
@click.option("--caller", default="13800000000", show_default=True, help="The caller's number.")
@click.option("--web-port", default=8080, show_default=True, type=int, help="Dashboard port (127.0.0.1).")
@click.option(
    "--workdir", default=Path("var/demo"), show_default=True, type=click.Path(path_type=Path),
    help="Statistics database, spool and voice messages of the demo.",
)  # fmt: skip
@click.option("--wait/--no-wait", default=True, help="Keep the dashboard up until Ctrl-C.")
def demo(keys: str, caller: str, web_port: int, workdir: Path, wait: bool) -> None:
    """Run the product: a real SIP call walks the hotline; prints what the caller heard and pressed."""
    from ivr_engine.demo import run_demo

    configure_logging("warning", json=False)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(run_demo(keys=keys, caller=caller, workdir=workdir, web_port=web_port, wait=wait))
    except KeyboardInterrupt:
        pass
