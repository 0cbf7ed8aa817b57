"""Human time specs for the CLI: `90s`, `15m`, `2h`, `3d`, `1w`, or an ISO date/time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_when(spec: str, now: datetime | None = None) -> datetime:
    """A point in time: `2d` means two days ago; ISO text is taken as UTC unless it says otherwise."""
    now = now or datetime.now(UTC)
    if match := _RELATIVE.match(spec.lower()):
        amount, unit = float(match.group(1)), match.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        when = datetime.fromisoformat(spec.strip())
    except ValueError:
        raise ValueError(
            f"cannot read time {spec!r}: use a span such as 30m, 2h, 3d, 1w, or an ISO date like 2026-01-31"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_span(spec: str) -> timedelta:
    """A duration such as `30m` or `2h`."""
    if match := _RELATIVE.match(spec.lower()):
        return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    raise ValueError(f"cannot read duration {spec!r}: use e.g. 30m, 2h, 1d")
