"""Stats: propositions measured from observations, without any model. Cheap and accurate.

Five measurements over the last `window_days`: time share per app, usual
working hours, frequent sites, projects (editor titles and file paths) and
frequent files. Each is one revision group, found again by the tag that
ends its reasoning ("(stats: app_time)"), so a new measurement revises it
instead of piling up duplicates, and the tag survives export and import.

- Time is counted in minutes of a timeline. A record with a duration (a
  window record) covers its span; a frame without one covers the time
  until the next frame, at most `max_hold_s`. Idle stretches (input
  records) are taken out. A minute counts once, for the last app seen in
  it, so a window record and the frames inside it are not counted twice.
- Texts carry only rounded or ordered figures (shares to 5%, hours to the
  half hour), so small changes do not make a new version every run; the
  exact figures go in the reasoning. A new version is written when the
  text changes or confidence moves by `min_confidence_change`.
- Confidence uses the same rule as model claims (confidence.py), with one
  session per day measured: "usually" needs several days.
- A stats proposition the user rejected stays rejected: that measurement
  is not written again.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition, SearchFilters, Support, utcnow
from tacitd.memory.vectors import Vector

from .activity import app_name, file_in_title, path_of, project_in_title, project_of_path, site
from .confidence import ConfidenceParams, confidence
from .segment import is_idle

EVIDENCE_PER_FACT = 5
Embed = Callable[[str], Vector | None]


@dataclass(frozen=True)
class StatsParams:
    window_days: float = 30.0
    max_hold_s: float = 300.0  # a frame without duration counts until the next, at most this long
    min_active_min: int = 30  # less activity than this says nothing about habits
    min_day_active_min: int = 30  # a day counts for working hours with at least this much activity
    min_days_for_hours: int = 2
    min_item_min: int = 5  # a site, project or file needs this many minutes (or file events)
    min_visits: int = 2  # a frequent site was visited at least this many separate times
    top: int = 3
    half_life_days: float = 30.0
    min_confidence_change: float = 0.05
    prior: float = 0.9  # what a measurement would claim; capped per session like a model's claim


@dataclass(frozen=True)
class Fact:
    """One measurement, ready to become (or revise) a stats proposition."""

    key: str
    text: str
    reasoning: str
    days: int
    evidence: tuple[int, ...]

    @property
    def tag(self) -> str:
        return tag(self.key)


@dataclass
class StatsReport:
    added: list[int] = field(default_factory=list)
    revised: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    rejected_kept: list[str] = field(default_factory=list)  # keys the user rejected: not written again


def tag(key: str) -> str:
    return f"(stats: {key})"


def _minute(t: datetime) -> int:
    return int(t.timestamp() // 60)


def timeline(observations: Sequence[Observation], params: StatsParams) -> dict[int, Observation]:
    """Minute (since the epoch) -> the observation that says what the user was on in it."""
    with_app = sorted((o for o in observations if o.app), key=lambda o: (o.captured_at, o.id or 0))
    minutes: dict[int, Observation] = {}
    nexts: list[Observation | None] = [*with_app[1:], None] if with_app else []
    for o, nxt in zip(with_app, nexts, strict=True):
        if o.duration_s > 0:
            end = o.captured_at + timedelta(seconds=o.duration_s)
        else:
            hold = o.captured_at + timedelta(seconds=params.max_hold_s)
            end = min(hold, nxt.captured_at) if nxt else hold
        for m in range(_minute(o.captured_at), max(_minute(end), _minute(o.captured_at) + 1)):
            minutes[m] = o
    for o in observations:
        if is_idle(o):
            start = o.captured_at if o.duration_s else o.captured_at - timedelta(seconds=o.meta["idle_s"])
            for m in range(_minute(start), _minute(start + timedelta(seconds=o.duration_s or o.meta["idle_s"]))):
                minutes.pop(m, None)
    return minutes


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _hours(minutes: float) -> str:
    return f"{minutes / 60:.1f} h" if minutes >= 90 else f"{minutes:.0f} min"


class _Days:
    """Calendar days in `tz`, or in the machine's zone (daylight saving included) when None."""

    def __init__(self, tz: tzinfo | None):
        self.tz = tz

    def local(self, minute: int) -> datetime:
        return datetime.fromtimestamp(minute * 60, self.tz)

    def of(self, minute: int) -> date:
        return self.local(minute).date()

    def count(self, minutes: Iterable[int]) -> int:
        return len({self.of(m) for m in minutes})


def _latest(minutes: dict[int, Observation], keep: Callable[[Observation], bool]) -> list[int]:
    ids = []
    for m in sorted(minutes, reverse=True):
        o = minutes[m]
        if keep(o) and o.id is not None and o.id not in ids:
            ids.append(o.id)
        if len(ids) >= EVIDENCE_PER_FACT:
            break
    return ids


def app_time(minutes: dict[int, Observation], days: _Days, user: str, params: StatsParams) -> Fact | None:
    total = len(minutes)
    per_app = Counter(app_name(o) for o in minutes.values())
    shares = [(app, 5 * round(100 * n / total / 5)) for app, n in per_app.most_common(params.top)]
    shares = [(app, share) for app, share in shares if share >= 5]
    if not shares:
        return None
    text = f"{user} spends most of their computer time in {_join([f'{a} ({s}%)' for a, s in shares])}"
    exact = ", ".join(f"{a} {_hours(n)}" for a, n in per_app.most_common(params.top))
    top = {a for a, _ in shares}
    return Fact("app_time", text, f"measured over {_hours(total)} of activity: {exact}",
                days.count(minutes), tuple(_latest(minutes, lambda o: app_name(o) in top)))


def working_hours(minutes: dict[int, Observation], days: _Days, user: str, params: StatsParams) -> Fact | None:
    per_day: dict[date, list[int]] = defaultdict(list)
    for m in minutes:
        per_day[days.of(m)].append(m)
    spans = [(min(ms), max(ms) + 1) for ms in per_day.values() if len(ms) >= params.min_day_active_min]
    if len(spans) < params.min_days_for_hours:
        return None

    def clock(minute: int) -> int:  # minutes after local midnight
        t = days.local(minute)
        return t.hour * 60 + t.minute

    starts, ends = [clock(s) for s, _ in spans], [clock(e) for _, e in spans]

    def half_hour(m: float) -> str:
        m = 30 * round(m / 30) % (24 * 60)
        return f"{int(m // 60):02d}:{int(m % 60):02d}"

    text = f"{user} usually works between {half_hour(statistics.median(starts))} and " \
           f"{half_hour(statistics.median(ends))} (local time)"
    reasoning = (f"first and last activity on {len(spans)} days: starts {half_hour(min(starts))}–"
                 f"{half_hour(max(starts))}, ends {half_hour(min(ends))}–{half_hour(max(ends))}")
    return Fact("working_hours", text, reasoning, len(spans), tuple(_latest(minutes, lambda o: True)))


def _ranked(counts: Counter[str], params: StatsParams) -> list[str]:
    return [k for k, n in counts.most_common(params.top) if n >= params.min_item_min]


def visits(minutes: dict[int, Observation], key: Callable[[Observation], str]) -> Counter[str]:
    """How many separate times each value was seen: a run of minutes ends when something else comes."""
    counts: Counter[str] = Counter()
    previous: tuple[int, str] | None = None
    for m in sorted(minutes):
        value = key(minutes[m])
        if value and previous != (m - 1, value):
            counts[value] += 1
        previous = (m, value)
    return counts


def frequent_sites(minutes: dict[int, Observation], days: _Days, user: str, params: StatsParams) -> Fact | None:
    """Sites by time, among those visited at least `min_visits` separate times (one long look is not frequent)."""
    per_site = Counter(s for o in minutes.values() if (s := site(o.url)))
    often = visits(minutes, lambda o: site(o.url))
    top = [s for s, n in per_site.most_common()
           if n >= params.min_item_min and often[s] >= params.min_visits][:params.top]
    if not top:
        return None
    seen = [m for m, o in minutes.items() if site(o.url) in top]
    return Fact("sites", f"{user} often uses {_join(top)}",
                "time and visits: " + ", ".join(f"{s} {_hours(per_site[s])} in {often[s]}" for s in top),
                days.count(seen), tuple(_latest(minutes, lambda o: site(o.url) in top)))


def _file_events(observations: Sequence[Observation]) -> list[tuple[int, Observation, str]]:
    return [(_minute(o.captured_at), o, p) for o in observations if o.observer == "files" and (p := path_of(o))]


def projects(minutes: dict[int, Observation], observations: Sequence[Observation], days: _Days, user: str,
             params: StatsParams) -> Fact | None:
    """Projects from editor titles (minutes) and file paths (one per file event)."""
    where: dict[str, set[int]] = defaultdict(set)
    evidence: dict[str, list[int]] = defaultdict(list)
    for m, o in minutes.items():
        if name := project_in_title(o):
            where[name].add(m)
    for m, o, path in _file_events(observations):
        if name := project_of_path(path):
            where[name].add(m)
            evidence[name].append(o.id or 0)
    top = _ranked(Counter({k: len(v) for k, v in where.items()}), params)
    if not top:
        return None
    ids = _latest(minutes, lambda o: project_in_title(o) in top) + [i for n in top for i in evidence[n][-2:]]
    return Fact("projects", f"{user} works on the projects {_join(top)}",
                "minutes and file events: " + ", ".join(f"{n} {len(where[n])}" for n in top),
                days.count(m for n in top for m in where[n]), tuple(dict.fromkeys(ids))[:EVIDENCE_PER_FACT])


def frequent_files(minutes: dict[int, Observation], observations: Sequence[Observation], days: _Days, user: str,
                   params: StatsParams) -> Fact | None:
    """Files by name, from editor titles (minutes) and file events."""
    where: dict[str, set[int]] = defaultdict(set)
    for m, o in minutes.items():
        if name := file_in_title(o):
            where[name].add(m)
    for m, _o, path in _file_events(observations):
        where[path.replace("\\", "/").rsplit("/", 1)[-1]].add(m)
    top = [k for k, n in Counter({k: len(v) for k, v in where.items()}).most_common(params.top + 2)
           if n >= params.min_item_min]
    if not top:
        return None
    ids = _latest(minutes, lambda o: file_in_title(o) in top)
    return Fact("files", f"{user} works most often on the files {_join(top)}",
                "minutes and file events: " + ", ".join(f"{n} {len(where[n])}" for n in top),
                days.count(m for n in top for m in where[n]), tuple(ids))


def measure(observations: Sequence[Observation], user: str = "the user", tz: tzinfo | None = None,
            params: StatsParams = StatsParams()) -> list[Fact]:
    """Every measurement the observations support; pure, no store."""
    days = _Days(tz)
    minutes = timeline(observations, params)
    if len(minutes) < params.min_active_min:
        return []  # too little to say anything about habits
    facts = [app_time(minutes, days, user, params), working_hours(minutes, days, user, params),
             frequent_sites(minutes, days, user, params), projects(minutes, observations, days, user, params),
             frequent_files(minutes, observations, days, user, params)]
    return [f for f in facts if f is not None]


def _existing(store: Store) -> dict[str, list[Proposition]]:
    """Current and rejected stats propositions by their tag."""
    found: dict[str, list[Proposition]] = defaultdict(list)
    for p in store.recent(10_000, SearchFilters(source=("stats",), status=("current", "rejected"))):
        if p.reasoning.endswith(")") and "(stats: " in p.reasoning:
            found[p.reasoning[p.reasoning.rindex("(stats: "):]].append(p)
    return found


def write(store: Store, facts: Sequence[Fact], params: StatsParams = StatsParams(),
          confidence_params: ConfidenceParams = ConfidenceParams(), embed: Embed | None = None) -> StatsReport:
    """Add or revise one stats proposition per fact, in one transaction.

    `embed` gives a new text its vector (for retrieval); without it, stats are found by full text only.
    """
    report = StatsReport()
    with store.transaction():
        existing = _existing(store)
        for fact in facts:
            level = confidence(params.prior, Support(sessions=fact.days, days=fact.days), confidence_params)
            reasoning = f"{fact.reasoning} {fact.tag}"
            versions = existing.get(fact.tag, [])
            current = next((p for p in versions if p.status == "current"), None)
            if current is None and versions:
                report.rejected_kept.append(fact.key)
            elif current is None:
                p = Proposition(text=fact.text, reasoning=reasoning, confidence=level,
                                half_life_days=params.half_life_days, source="stats")
                report.added += store.add_propositions([(p, fact.evidence, embed(p.text) if embed else None)])
            elif current.text == fact.text and abs(current.confidence - level) < params.min_confidence_change:
                report.unchanged.append(current.id or 0)
            else:
                vector = embed(fact.text) if embed and fact.text != current.text else None
                new = store.revise(current.id or 0, text=fact.text, reasoning=reasoning, confidence=level,
                                   evidence=fact.evidence, embedding=vector)
                report.revised.append(new.id or 0)
    return report


def update(store: Store, user: str = "the user", tz: tzinfo | None = None, params: StatsParams = StatsParams(),
           now: datetime | None = None, embed: Embed | None = None) -> StatsReport:
    """Measure the last `window_days` of observations and write the results."""
    since = (now or utcnow()) - timedelta(days=params.window_days)
    facts = measure(list(store.queue.activity_since(since)), user, tz, params)
    return write(store, facts, params, embed=embed)
