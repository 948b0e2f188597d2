"""`ivr serve`: run the engine from one config file plus environment variables."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from ivr_engine.config import ConfigError, Settings, load_settings
from ivr_engine.flow.diagnostics import FlowError
from ivr_engine.logs import configure_logging
from ivr_engine.stats.privacy import CallerSecretError


def read_settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except (ConfigError, CallerSecretError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.option(
    "--config",
    "-c",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML settings file; IVR_* environment variables override it (secrets come only from there).",
)
def serve(config: Path | None) -> None:
    """Serve calls over FastAGI, with statistics, personal menus and the dashboard."""
    from ivr_engine.app import run_engine

    settings = read_settings(config)
    configure_logging(settings.log_level)
    try:
        asyncio.run(run_engine(settings))
    except FlowError as exc:
        raise click.ClickException(f"cannot start, the flows have errors:\n{exc}") from None
    except (ConfigError, CallerSecretError) as exc:
        raise click.ClickException(str(exc)) from None
