"""Times as people type and read them in the CLI; storage stays in UTC.

Reading: `90s`, `15m`, `2h`, `3d`, `1w` (that long ago), or an ISO date/time.
An ISO value without an offset is the user's local time, so `2026-11-20`
means local midnight, not UTC midnight. Showing: local time with its UTC
offset, so a reader never has to guess the zone. Both follow the process's
local zone (the `TZ` environment variable, else the system's).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_when(spec: str, now: datetime | None = None) -> datetime:
    """A point in time, in UTC: `2d` means two days ago; ISO text without an offset is local time."""
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
    # astimezone() reads a naive value as local time, the zone the user typed it in.
    return when.astimezone(UTC)


def format_local(value: datetime) -> str:
    """`2026-11-20 09:30 +05:30`: local wall-clock time and its offset from UTC."""
    local = value.astimezone()
    offset = local.strftime("%z")  # +0530; strftime has no colon form
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def parse_span(spec: str) -> timedelta:
    """A duration such as `30m` or `2h`."""
    if match := _RELATIVE.match(spec.lower()):
        return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    raise ValueError(f"cannot read duration {spec!r}: use e.g. 30m, 2h, 1d")


def utc_offset_minutes(at: datetime | None = None) -> int:
    """The local zone's offset from UTC, in minutes: what turns a stored UTC time into the user's calendar day."""
    offset = (at or datetime.now(UTC)).astimezone().utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0

