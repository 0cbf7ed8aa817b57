"""Time words in a query ("last Tuesday", "yesterday evening", "on 3 November") as a window.

"What was Sam doing last Tuesday" cannot be answered from words or meaning:
the answer lives in the stored times. Retrieval turns the phrase into a
window in the caller's clock and zone (the tz of `now`), drops the phrase
from the text it matches, and favours propositions that happened inside it.

Dates are counted in wall-clock days of the zone's own rules, so a window
that spans a change of summer time starts at that day's real midnight (and
lasts 23 or 25 hours). That needs a zone with rules: a ZoneInfo, or
`local_now()`'s zone; a fixed offset (`datetime.now().astimezone()`) knows
only today's offset and would put last week's midnight an hour off.

Only unambiguous, past-facing phrases are read; plural weekdays ("on Sundays")
are habits, not dates, and are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_PARTS = {"morning": (5, 12), "afternoon": (12, 18), "evening": (18, 24), "night": (18, 24)}
_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen".split())}

_DAY = r"(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?!s)"
_MON = r"(?P<mon>" + "|".join(m[:3] + r"(?:" + m[3:] + r")?" for m in _MONTHS) + r")\.?"
_PART = r"(?:\s+(?P<part>morning|afternoon|evening|night))?"
_PATTERNS = [
    ("daybefore", r"\bthe\s+day\s+before\s+yesterday" + _PART),
    ("yesterday", r"\byesterday" + _PART),
    ("today", r"\b(?:today|(?P<this>this)\s+(?P<part>morning|afternoon|evening)|tonight)\b"),
    ("ago", r"\b(?P<n>\d{1,3}|" + "|".join(_NUMBERS) + r"|a)\s+(?P<unit>days?|weeks?)\s+ago\b"),
    ("week", r"\b(?P<which>this|last|past|previous)\s+week\b"),
    ("weekend", r"\b(?P<which>this|last|past|previous|the)\s+weekend\b"),
    ("month", r"\b(?P<which>this|last|past|previous)\s+month\b"),
    ("iso", r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b"),
    ("date", r"\b(?:on\s+)?(?:the\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MON + r"(?:\s+(?P<y>\d{4}))?\b"),
    ("date", r"\b(?:on\s+)?" + _MON + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{4}))?\b"),
    ("weekday", r"\b(?:(?:on|last|this|past|previous)\s+)?" + _DAY + _PART + r"\b"),
]
_COMPILED = [(kind, re.compile(p, re.IGNORECASE)) for kind, p in _PATTERNS]


class _SystemZone(tzinfo):
    """The system's local zone with its summer-time rules (TZ or /etc/localtime, as libc reads them).

    The stdlib has no such tzinfo: `astimezone()` gives a fixed offset. A naive
    datetime's `astimezone()` applies the rules for *that* date, so each
    offset is asked of it.
    """

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None if dt is None else dt.replace(tzinfo=None).astimezone().utcoffset()

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None if dt is None else dt.replace(tzinfo=None).astimezone().tzname()

    def fromutc(self, dt: datetime) -> datetime:
        local = dt.replace(tzinfo=UTC).astimezone()
        wall = local.replace(tzinfo=self)
        return wall if wall.utcoffset() == local.utcoffset() else wall.replace(fold=1)  # the repeated hour

    def __repr__(self) -> str:
        return "LOCAL"


LOCAL = _SystemZone()


def local_now() -> datetime:
    """The time now in the system's zone, with its rules: the default clock for time words."""
    return datetime.now(LOCAL)


@dataclass(frozen=True)
class TimeWindow:
    start: datetime
    end: datetime
    phrase: str
    rest: str  # the query without the phrase

    def contains(self, when: datetime) -> bool:
        return self.start <= when < self.end

    def share_inside(self, start: datetime, end: datetime) -> float:
        """The share of [start, end] that falls inside the window (1.0 for an instant inside it)."""
        if end <= start:
            return 1.0 if self.contains(start) else 0.0
        overlap = (min(end, self.end) - max(start, self.start)).total_seconds()
        return max(0.0, overlap) / (end - start).total_seconds()


def find_window(text: str, now: datetime) -> TimeWindow | None:
    """The first time phrase in `text` as a window in `now`'s zone, or None.

    `now` must be timezone-aware: "yesterday" starts at the user's midnight.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    for kind, pattern in _COMPILED:
        if match := pattern.search(text):
            span = _span(kind, match, now)
            if span is not None:
                rest = " ".join((text[: match.start()] + " " + text[match.end():]).split())
                return TimeWindow(_fixed(span[0]), _fixed(span[1]), match.group(0).strip(), rest)
    return None


def _fixed(when: datetime) -> datetime:
    """The same instant at its own fixed offset: aware datetimes that share a zone subtract by wall clock."""
    return when.astimezone(timezone(when.utcoffset()))


def _midnight(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _with_part(day: datetime, part: str | None) -> tuple[datetime, datetime]:
    if not part:
        return day, day + timedelta(days=1)
    lo, hi = _PARTS[part.lower()]
    return day + timedelta(hours=lo), day + timedelta(hours=hi)


def _span(kind: str, m: re.Match[str], now: datetime) -> tuple[datetime, datetime] | None:
    today = _midnight(now)
    groups = m.groupdict()
    part = groups.get("part")
    if kind in ("daybefore", "yesterday"):
        return _with_part(today - timedelta(days=2 if kind == "daybefore" else 1), part)
    if kind == "today":
        start, end = _with_part(today, part)
        return start, min(end, now) if start < now else end
    if kind == "ago":
        n = groups["n"].lower()
        count = 1 if n == "a" else _NUMBERS[n] if n in _NUMBERS else int(n)
        days = count * (7 if groups["unit"].lower().startswith("week") else 1)
        return today - timedelta(days=days), today - timedelta(days=days - 1)
    if kind in ("week", "weekend"):
        monday = today - timedelta(days=today.weekday())
        which = groups["which"].lower()
        if kind == "week":
            return (monday, now) if which == "this" else (monday - timedelta(days=7), monday)
        saturday = monday + timedelta(days=5)
        if which in ("this", "the") and now >= saturday:
            return saturday, now
        return saturday - timedelta(days=7), monday
    if kind == "month":
        first = today.replace(day=1)
        if groups["which"].lower() == "this":
            return first, now
        return (first - timedelta(days=1)).replace(day=1), first
    if kind in ("iso", "date"):
        return _date(groups, today)
    if kind == "weekday":
        back = (today.weekday() - _WEEKDAYS.index(groups["wd"].lower())) % 7
        said_last = m.group(0).lower().startswith(("last", "past", "previous"))
        if back == 0 and (said_last or not part):
            back = 7  # "last Friday" on a Friday is a week ago; plain "Friday" too, today is "today"
        return _with_part(today - timedelta(days=back), part)
    return None


def _date(groups: dict[str, str | None], today: datetime) -> tuple[datetime, datetime] | None:
    """A calendar day; without a year, the most recent one not after today."""
    month = int(groups["m"]) if groups.get("m") else _MONTHS.index(
        next(name for name in _MONTHS if name.startswith(groups["mon"].lower()[:3]))) + 1
    year = int(groups["y"]) if groups.get("y") else today.year
    try:
        day = today.replace(year=year, month=month, day=int(groups["d"]))
    except ValueError:
        return None
    if not groups.get("y") and day > today:
        day = day.replace(year=year - 1)
    return day, day + timedelta(days=1)
