"""One proposition in full: reasoning, evidence, version history and feedback, with the same keys as the list."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header

from tacitd.memory.types import Proposition

from ..actions import BELIEF_BINDINGS, BeliefActions
from ..widgets.detail_pane import DetailPane, Match
from ..widgets.status_bar import StatusBar


class DetailScreen(BeliefActions, Screen[None]):
    """Shows proposition `proposition_id`; follows it to its new version after an edit.

    `match`: opened from a search hit, why it matched (shown in full; it was
    for this version's text, so an edit drops it).
    """

    BINDINGS = [Binding("escape,backspace", "back", "Back"), *BELIEF_BINDINGS]

    def __init__(self, proposition_id: int, match: Match | None = None) -> None:
        super().__init__()
        self.proposition_id = proposition_id
        self.match = match
        self.proposition: Proposition | None = None
        self.gone = False  # forgotten (here or elsewhere)
        self.left = False  # dismissed already

    def compose(self) -> ComposeResult:
        yield Header()
        yield DetailPane(id="detail")
        yield StatusBar(id="status-bar")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.app.changed.subscribe(self, self._on_changed)
        self.reload()

    def reload(self) -> None:
        self.app.call(self.app.client.get, self.proposition_id, then=self._show, group="detail", exclusive=True)

    def _show(self, detail: Any) -> None:
        self.proposition = detail.proposition
        self.sub_title = f"#{self.proposition_id}"
        self.query_one(DetailPane).show(detail.proposition, detail.history, detail.evidence, detail.feedback,
                                        detail.support, self.match)

    def selected(self) -> Proposition | None:
        return None if self.gone else self.proposition

    def action_back(self) -> None:
        self.dismiss()

    def _on_changed(self, change: tuple[str, int]) -> None:
        kind, pid = change
        if pid != self.proposition_id or self.gone:
            return
        if kind == "forgotten":
            self.gone = True  # our own forget and the daemon's event both arrive: leave once
            self._leave_if_on_top()
        else:
            self.reload()

    def on_screen_resume(self) -> None:
        self._leave_if_on_top()

    def _leave_if_on_top(self) -> None:
        """A forgotten belief's detail closes; with a dialog over it, once the dialog is gone."""
        # `is_current` is also true under a modal dialog: only the screen on top may leave, and only once.
        if self.gone and self.app.screen is self and not self.left:
            self.left = True
            self.dismiss()

    def _edited(self, old: Proposition, new: Any) -> None:
        self.proposition_id = new.id
        self.match = None
        super()._edited(old, new)
