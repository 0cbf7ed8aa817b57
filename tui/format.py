"""How the TUI writes numbers and times for people: bars, ages, local clock times.

Times arrive in UTC from the daemon and are always shown in the local zone,
because "captured 09:30" means the user's 09:30.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text

BAR_CELLS = 8
_EIGHTHS = " ▏▎▍▌▋▊▉█"


def one_line(text: str) -> str:
    """Text for a single line of the screen: every run of whitespace, newlines too, one space."""
    return " ".join(text.split())


def confidence_bar(confidence: float, cells: int = BAR_CELLS) -> Text:
    """`██████▍  0.81`: a bar in eighths of a cell, coloured by how sure tacit is."""
    eighths = round(max(0.0, min(1.0, confidence)) * cells * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[part] if part else "")
    style = "green" if confidence >= 0.75 else "yellow" if confidence >= 0.4 else "red"
    return Text.assemble((bar.ljust(cells), style), f" {confidence:.2f}")


def age(when: datetime, now: datetime | None = None) -> str:
    """`now`, `12m`, `3h`, `5d`, `7w`: how long ago, in one short unit (under a minute is `now`)."""
    seconds = max(0.0, ((now or datetime.now(UTC)) - when).total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return "now"


def local(when: datetime | None, seconds: bool = False) -> str:
    """`2026-11-20 09:30 +0100`: local wall-clock time with its offset; `—` when unknown."""
    if when is None:
        return "—"
    value = when.astimezone()
    return value.strftime("%Y-%m-%d %H:%M:%S %z" if seconds else "%Y-%m-%d %H:%M %z")


def clock(when: datetime | None) -> str:
    """`09:30` today, `Nov 20 09:30` on another day, in local time."""
    if when is None:
        return "—"
    value = when.astimezone()
    if value.date() == datetime.now().astimezone().date():
        return value.strftime("%H:%M")
    return value.strftime("%b %d %H:%M")


def duration(seconds: float) -> str:
    """`2h05m`, `14m`, `40s`."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    if hours:
        return f"{hours}h{rest // 60:02d}m"
    return f"{rest // 60}m" if rest >= 60 else f"{rest}s"
