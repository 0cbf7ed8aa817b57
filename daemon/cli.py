"""`tacit`: the command line over the memory store.

Every command takes `--json` for scripts; without it, output is for people.
People see local times with their UTC offset, and a date they type means
local midnight; JSON carries ISO 8601 times in UTC (`...Z`), as stored.
Errors that a user can fix (bad input, missing ids, a corrupt or locked
database, a bad config) print one clear line and exit 1 without changing
anything.

Each command is imported only when it runs (or when `--help` lists them):
`tacit tui` and `tacit status` should not pay for numpy, sqlite-utils and
the model backends that other commands need.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

from .cli_context import App

# Every command, by name, and where it is defined: registered here and only here.
COMMANDS: dict[str, str] = {
    **{name: "tacitd.daemon.cli_memory:" + name
       for name in ("add", "query", "recent", "show", "confirm", "reject", "edit", "forget", "walkthrough")},
    "export": "tacitd.daemon.cli_memory:export_",
    "import": "tacitd.daemon.cli_memory:import_",
    **{name: "tacitd.daemon.cli_models:" + name for name in ("models", "doctor")},
    **{name: "tacitd.daemon.observe:" + name for name in ("observe", "pause", "resume")},
    **{name: "tacitd.daemon.cli_pipeline:" + name for name in ("ingest", "process", "quarantine")},
    **{name: "tacitd.daemon.cli_storage:" + name for name in ("encrypt", "gc", "backup")},
    **{name: "tacitd.daemon.cli_daemon:" + name for name in ("daemon", "start", "stop", "status", "service")},
    "mcp": "tacitd.daemon.mcp_bridge:mcp",
    "tui": "tacitd.tui.command:tui",
}


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors a user can act on; imported only once one is being handled."""
    from tacitd.memory.db import StoreError
    from tacitd.models.errors import ModelError

    from . import ops
    from .config import ConfigError

    return StoreError, ConfigError, ModelError, ops.OpError


class TacitGroup(click.Group):
    """Loads commands by name from COMMANDS, and turns errors a user can act on into one line and exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, attr = where.split(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{where} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        from pydantic import ValidationError

        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise click.ClickException(f"invalid {where}: {err['msg']}") from exc
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if isinstance(exc, _user_errors()):
                raise click.ClickException(str(exc)) from exc
            raise


@click.group(cls=TacitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the database lives (default: the platform data dir; env TACIT_DATA_DIR).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Config file (default: the platform config dir's tacit/config.toml; env TACIT_CONFIG).")
@click.version_option(package_name="tacitd", prog_name="tacit")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, config_path: Path | None) -> None:
    """tacit: an on-device memory of what you work on, for your assistants.

    It stores confidence-weighted statements about you (propositions), with
    the observations behind them, in a local SQLite file, and finds them again
    with hybrid full-text + vector search. Nothing leaves the machine.
    """
    ctx.obj = App(config_path, data_dir)


def main() -> None:
    cli(prog_name="tacit")
