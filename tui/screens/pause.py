"""Pause capture for a while: the durations people actually pick, or until resumed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

# (label, seconds); None = until `resume`.
DURATIONS: list[tuple[str, int | None]] = [
    ("15 minutes", 15 * 60), ("1 hour", 3600), ("4 hours", 4 * 3600), ("12 hours", 12 * 3600),
    ("until I resume", None),
]


class PauseScreen(ModalScreen[int | None | bool]):
    """Dismisses with seconds, None for "until I resume", or False when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Pause capture for how long? Nothing is observed while paused.", classes="dialog-question")
            yield OptionList(*(Option(label, id=str(i)) for i, (label, _) in enumerate(DURATIONS)), id="durations")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(DURATIONS[int(event.option.id or 0)][1])
