"""Entry point of the `ivr` command: one click group, each concept adds its own commands.

Command modules are imported lazily by name so that `ivr validate` does not pay for importing
SQLAlchemy, Starlette or the AGI server.
"""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of a click command or group
COMMANDS: dict[str, str] = {
    "validate": "ivr_engine.cli.flow:validate",
    "flow": "ivr_engine.cli.flow:flow",
    "prompts": "ivr_engine.cli.prompts:prompts",
    "simulate": "ivr_engine.cli.simulate:simulate",
    "pbx": "ivr_engine.pbx.cli:pbx",
    "serve": "ivr_engine.cli.serve:serve",
    "demo": "ivr_engine.cli.demo:demo",
    "stats": "ivr_engine.cli.stats:stats",
    "menu": "ivr_engine.cli.menu:menu",
    "optimize": "ivr_engine.cli.optimize:optimize",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup)
@click.version_option(package_name="ivr-engine")
def main() -> None:
    """IVR and ACD engine for Asterisk."""


if __name__ == "__main__":
    main()
