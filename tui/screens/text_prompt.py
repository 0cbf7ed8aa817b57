"""Asks for one line of text: a note for a rejection, or the corrected wording of a belief."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from ..format import one_line


class TextPromptScreen(ModalScreen[str | None]):
    """Dismisses with the text (maybe empty, when `allow_empty`), or None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "", ok: str = "OK",
                 allow_empty: bool = True) -> None:
        super().__init__()
        self.question, self.placeholder, self.ok = question, placeholder, ok
        self.value = one_line(value)  # the Input holds one line
        self.allow_empty = allow_empty

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.question), classes="dialog-question")  # belief text is data, not markup
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.ok, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._finish(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._finish(self.query_one("#prompt-input", Input).value)
        else:
            self.dismiss(None)

    def _finish(self, text: str) -> None:
        text = text.strip()
        if text or self.allow_empty:
            self.dismiss(text)
        else:
            self.notify("Type some text, or press Escape to cancel.", severity="warning")
