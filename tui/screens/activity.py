"""Where the time went: per app, hour by hour today, and day by day for the last week."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header

from ..widgets.activity_chart import ActivityChart, Usage
from ..widgets.status_bar import StatusBar

DAYS = 7


class ActivityScreen(Screen[None]):
    """Fetches /v1 activity for the last 7 days on show and on refresh."""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="activity"):
            yield ActivityChart(id="activity-chart")
        yield StatusBar(id="status-bar")
        yield Footer(compact=True)

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.app.call(self.app.client.activity, DAYS, then=self._show, group="activity", exclusive=True)

    def _show(self, report: Any) -> None:
        self.query_one(ActivityChart).show(Usage(h.app, h.hour, h.seconds) for h in report.hours)
