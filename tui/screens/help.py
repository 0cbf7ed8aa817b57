"""What the keys do, and what the columns mean."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("type / or click the search box", "search: results narrow as you type, each with why it matched"),
    ("Enter", "open the belief: reasoning, evidence, version history, feedback"),
    ("c", "confirm: it is true (confidence becomes 1)"),
    ("r", "reject, with an optional note: kept so it is not proposed again"),
    ("f", "forget: delete it for good, every version and its evidence (asks first)"),
    ("e", "edit the wording: saved as a new version from you"),
    ("y", "copy its text"),
    ("s", "sort by confidence, recency or support"),
    ("1 2 3", "beliefs, activity, quarantine (in quarantine: t retry, d drop)"),
    ("p", "pause capture for a while, or resume it"),
    ("Ctrl+R / F5", "refresh"),
    ("Esc", "back, or clear the search"),
    ("q", "quit"),
]
COLUMNS = "support: sessions and days of evidence behind it (✓ confirmed by you) · age: since it was last supported"


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        with VerticalScroll(classes="dialog", id="help"):
            yield Static(Text("tacit: what it believes about you, and why", style="bold"))
            yield Static(table)
            yield Static(Text(COLUMNS, style="dim"))
            yield Static(Text("Esc closes this.", style="dim"))
