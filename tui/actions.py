"""Confirm, reject, forget, edit and copy: the same keys on the beliefs list and in the detail view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.binding import Binding

from tacitd.memory.types import Proposition

from .screens.confirm import ConfirmScreen
from .screens.text_prompt import TextPromptScreen

if TYPE_CHECKING:
    from .app import TacitApp

BELIEF_BINDINGS = [
    Binding("c", "confirm", "Confirm"),
    Binding("r", "reject", "Reject"),
    Binding("f", "forget", "Forget"),
    Binding("e", "edit", "Edit"),
    Binding("y", "copy", "Copy"),
]


class BeliefActions:
    """Mixed into a Screen that knows which proposition is selected (`selected()`)."""

    app: TacitApp

    def selected(self) -> Proposition | None:
        raise NotImplementedError

    def action_confirm(self) -> None:
        if (p := self.selected()) is not None:
            self.app.call(self.app.client.confirm, p.id, "", then=lambda q: self._done("confirmed", q),
                          write=f"confirm “{short(p.text)}”")

    def action_reject(self) -> None:
        if (p := self.selected()) is None:
            return

        def send(note: str | None) -> None:
            if note is not None:
                self.app.call(self.app.client.reject, p.id, note, then=lambda q: self._done("rejected", q),
                              write=f"reject “{short(p.text)}”")

        self.app.push_screen(TextPromptScreen(f"Reject “{short(p.text)}”? Add a note if you like (optional):",
                                              placeholder="why it is wrong", ok="Reject"), send)

    def action_forget(self) -> None:
        if (p := self.selected()) is None:
            return

        def send(yes: bool | None) -> None:
            if yes:
                self.app.call(self.app.client.forget, p.id, then=lambda _: self._forgotten(p),
                              write=f"forget “{short(p.text)}”")

        self.app.push_screen(ConfirmScreen(
            f"Forget “{short(p.text)}” for good?\n\nEvery version and its evidence are deleted; this cannot be undone."),
            send)

    def action_edit(self) -> None:
        if (p := self.selected()) is None:
            return

        def send(text: str | None) -> None:
            if text and text != p.text:
                self.app.call(self.app.client.edit, p.id, text, then=lambda q: self._edited(p, q),
                              write=f"edit “{short(p.text)}”")

        self.app.push_screen(TextPromptScreen("Correct the wording (saved as a new version from you):",
                                              value=p.text, ok="Save", allow_empty=False), send)

    def action_copy(self) -> None:
        if (p := self.selected()) is not None:
            self.app.copy_to_clipboard(p.text)
            self.app.notify("Copied to the clipboard")

    def _done(self, kind: str, p: Any) -> None:
        self.app.notify(f"{kind.capitalize()}: {short(p.text)}", markup=False)
        self.app.changed.publish((kind, p.id))

    def _forgotten(self, p: Proposition) -> None:
        self.app.notify(f"Forgotten: {short(p.text)}", markup=False)
        self.app.changed.publish(("forgotten", p.id))

    def _edited(self, old: Proposition, new: Any) -> None:
        self.app.notify(f"Saved as version {new.version}: {short(new.text)}", markup=False)
        self.app.changed.publish(("superseded", old.id))
        self.app.changed.publish(("revised", new.id))


def short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
