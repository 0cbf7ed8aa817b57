"""Segments the model failed on: what went wrong, what it said, and retry or drop."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ..format import clock
from ..widgets.status_bar import StatusBar
from .confirm import ConfirmScreen


class QuarantineScreen(Screen[None]):
    """A table of quarantined segments; the highlighted one's raw model output below it."""

    BINDINGS = [Binding("t", "retry", "Retry"), Binding("d", "drop", "Drop")]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(cursor_type="row", id="quarantine")
        with VerticalScroll(id="raw-output"):
            yield Static(id="raw")
        yield StatusBar(id="status-bar")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("segment", key="key", width=16)
        table.add_column("tries", key="tries", width=5)
        table.add_column("last failed", key="last", width=12)
        table.add_column("next try", key="next", width=12)
        table.add_column("error", key="error")

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.app.call(self.app.client.quarantine_list, then=self._show, group="quarantine", exclusive=True)

    def _show(self, entries: Any) -> None:
        table = self.query_one(DataTable)
        table.clear()
        self.entries = {e.key: e for e in entries}
        for e in entries:
            table.add_row(e.key, str(e.tries), clock(e.last_failed_at),
                          "by hand" if e.next_try_at is None else clock(e.next_try_at),
                          Text(e.error, no_wrap=True, overflow="ellipsis"), key=e.key)
        self._show_raw()

    @on(DataTable.RowHighlighted)
    def _show_raw(self) -> None:
        entry = self.current()
        raw = self.query_one("#raw", Static)
        if entry is None:
            raw.update(Text("Nothing in quarantine: every segment was processed.", style="dim"))
            return
        raw.update(Text.assemble((f"{entry.error}\n", "bold red"),
                                 (f"observations {', '.join(map(str, entry.observation_ids))}\n\n", "dim"),
                                 ("raw model output:\n", "bold"), entry.raw_output or "(none)"))

    def current(self) -> Any | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return self.entries.get(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or "")

    def action_retry(self) -> None:
        if (entry := self.current()) is not None:
            self.app.call(self.app.client.quarantine_retry, entry.key, then=lambda _: self._done("queued again"),
                          write="retry a quarantined segment")

    def action_drop(self) -> None:
        if (entry := self.current()) is None:
            return

        def send(yes: bool | None) -> None:
            if yes:
                self.app.call(self.app.client.quarantine_drop, entry.key, then=lambda _: self._done("dropped"),
                              write="drop a quarantined segment")

        self.app.push_screen(ConfirmScreen(f"Drop segment {entry.key}? Its observations will not be proposed from.",
                                           yes="Drop"), send)

    def _done(self, what: str) -> None:
        self.app.notify(f"Segment {what}")
        self.reload()
