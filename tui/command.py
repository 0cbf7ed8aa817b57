"""`tacit tui`: the click command. Textual is imported only when the command runs, so other commands stay quick."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False, path_type=Path), envvar="TACIT_SOCKET",
              help="The daemon's socket (default: TACIT_SOCKET, else tacit.sock in the runtime dir).")
def tui(socket_path: Path | None) -> None:
    """Browse, search, confirm, reject, edit and forget what tacit believes (needs the daemon: tacit start)."""
    from .app import TacitApp

    TacitApp(socket_path).run()
