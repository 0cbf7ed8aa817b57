"""Shown while no daemon answers: says so, gives the command that starts it, and keeps checking."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, Static

RETRY_S = 1.0


class DaemonDownScreen(Screen[None]):
    """The app pops this screen itself when a status call succeeds again."""

    BINDINGS = [Binding("q", "app.quit", "Quit"), Binding("ctrl+r,f5", "retry", "Retry now")]

    def __init__(self, socket_path: Path) -> None:
        super().__init__()
        self.socket_path = socket_path

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(Text.assemble(
                ("tacit's daemon is not running.\n\n", "bold red"),
                "Start it with\n\n",
                ("    tacit start\n\n", "bold"),
                "(or run it in the foreground with ", ("tacit daemon", "bold"), ").\n\n",
                (f"No answer on {self.socket_path} (TACIT_SOCKET sets another).\n", "dim"),
                ("Checking again every second; this screen goes away by itself.", "dim"),
            ), id="down-message")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(RETRY_S, self.action_retry)

    def on_screen_resume(self) -> None:
        """Back on top (Help closed) after the daemon came back meanwhile: step aside now."""
        if self.app.daemon_up:  # type: ignore[attr-defined]
            self.dismiss()
            self.app.action_refresh()

    def action_retry(self) -> None:
        self.app.refresh_status()  # type: ignore[attr-defined]
