"""Time per app, drawn: today hour by hour as sparklines, and the last 7 days as bars."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ..format import duration

SPARKS = " ▁▂▃▄▅▆▇█"
TOP_APPS = 12
DAY_BAR = 30


@dataclass(frozen=True)
class Usage:
    """Seconds spent in one app during the hour that starts at `hour` (any zone; drawn in local time)."""

    app: str
    hour: datetime
    seconds: float


def sparkline(values: list[float], top: float) -> str:
    """One character per value, `▁`..`█` scaled to `top`; a blank for nothing at all."""
    if top <= 0:
        return " " * len(values)
    return "".join(SPARKS[0] if v <= 0 else SPARKS[max(1, round(v / top * (len(SPARKS) - 1)))] for v in values)


class ActivityChart(Static):
    """Renders `Usage` rows; `today` is the local date the hourly panel shows."""

    def show(self, usage: Iterable[Usage], today: date | None = None) -> None:
        self.update(chart(list(usage), today or datetime.now().astimezone().date()))


def chart(usage: list[Usage], today: date) -> Group | Text:
    if not usage:
        return Text("No activity recorded in the last 7 days (observers off, or paused).", style="dim")
    by_hour: dict[str, list[float]] = defaultdict(lambda: [0.0] * 24)
    days = [today - timedelta(days=n) for n in range(6, -1, -1)]
    by_day: dict[str, dict[date, float]] = defaultdict(lambda: dict.fromkeys(days, 0.0))
    for u in usage:
        when = u.hour.astimezone()
        if when.date() == today:
            by_hour[u.app][when.hour] += u.seconds
        if when.date() in by_day[u.app]:
            by_day[u.app][when.date()] += u.seconds
    return Group(_today(by_hour), Text(""), _week(by_day, days))


def _today(by_hour: dict[str, list[float]]) -> Table | Text:
    title = Text("Today, hour by hour (local time)", style="bold underline")
    if not by_hour:
        return Text.assemble(title, ("\nnothing yet today", "dim"))
    table = Table(box=None, title=title, title_justify="left", header_style="bold", pad_edge=False)
    table.add_column("app", no_wrap=True, max_width=24)
    table.add_column("00    06    12    18   ", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    top = max(max(v) for v in by_hour.values())
    ranked = sorted(by_hour.items(), key=lambda kv: -sum(kv[1]))[:TOP_APPS]
    for app, hours in ranked:
        table.add_row(Text(app), Text(sparkline(hours, top), style="cyan"), duration(sum(hours)))
    return table


def _week(by_day: dict[str, dict[date, float]], days: list[date]) -> Table:
    title = Text("Last 7 days", style="bold underline")
    table = Table(box=None, title=title, title_justify="left", header_style="bold", pad_edge=False)
    table.add_column("app", no_wrap=True, max_width=24)
    table.add_column(" ".join(d.strftime("%a")[:2] for d in days), no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    totals = {app: sum(v.values()) for app, v in by_day.items()}
    most = max(totals.values(), default=0) or 1
    top = max(max(v.values()) for v in by_day.values()) or 1  # one scale for every app, so rows compare
    for app, per_day in sorted(by_day.items(), key=lambda kv: -totals[kv[0]])[:TOP_APPS]:
        cells = " ".join(SPARKS[max(1, round(v / top * 8))] * 2 if v > 0 else "  " for v in per_day.values())
        bar = "█" * max(1, round(totals[app] / most * DAY_BAR))
        table.add_row(Text(app), Text(cells, style="cyan"), duration(totals[app]), Text(bar, style="green"))
    return table
