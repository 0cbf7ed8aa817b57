"""The operations that the CLI and the API's routes both call, so there is one way to do each thing.

The CLI does not go through the daemon: it opens the store itself and
calls these, whether or not a daemon runs. One code path works in both
cases (a CLI that needed the daemon up would need a second one for when it
is not); SQLite (WAL, BEGIN IMMEDIATE) keeps the two processes' writes
apart; and the events table's triggers (memory/events.py) put the CLI's
changes into the daemon's /v1/events as they commit. The cost: a CLI
search loads the embedder itself (~0.3 s) instead of using the daemon's.

Each takes the store (and settings or an embed function where it needs
them) and returns a model from `daemon/api/schemas.py`: the CLI prints it
or dumps it as JSON, a route returns it. Errors are the store's
(`StoreError`, `NotFound`) or `OpError` for a request that cannot be done
as asked; nothing is changed when one is raised.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from tacitd.memory import retrieve
from tacitd.memory.forget import ForgetReport, ForgetScope
from tacitd.memory.queue import QuarantineEntry
from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition, SearchFilters, utcnow
from tacitd.observers.privacy import PauseState, PrivacyFilter

from .api.schemas import (
    ActivityHour,
    ActivityReport,
    ContextBlock,
    ContextLine,
    Detail,
    ForgetResult,
    Listed,
    Listing,
    PauseOut,
    PushReport,
    QuarantineItem,
)
from .config import Settings
from .pipeline.ingest import IngestReport, admit
from .pipeline.queue import enqueue
from .pipeline.segment import CHARS_PER_TOKEN
from .pipeline.stats import StatsParams, timeline
from .timespec import format_local, utc_offset_minutes

Embed = Callable[[str], "np.ndarray | None"]
Warn = Callable[[str], Any]

PROFILE_POOL = 200  # current propositions considered for the profile block (no query)
PROFILE_WITH_QUERY = 5  # most confident other beliefs shown after a query's relevant ones
CONTEXT_POOL = 40  # search hits considered for a query's block
# A hit is relevant from MIN_RELEVANCE up, and from RELATIVE_RELEVANCE of the best hit's: chosen on the tuning
# half of bench/context_floor.py (Sam's ~1,050 beliefs, MiniLM; 314 answerable questions and 65 with no answer)
# as the floor that leaves the most unanswerable questions with "Nothing relevant is known.", then shows them
# the fewest lines, while answerable recall drops by at most 0.05. Held-out half, before (0.05, 0.3, the name
# in the embedded query) -> now (0.125, 0.4, `without_name`): answerable recall 0.875 -> 0.846 (a right line
# shown: 0.924 -> 0.892), unanswerable left empty 3% -> 21%, wrong lines shown per unanswerable question
# 28.5 -> 15.6, answerable lines 34 -> 22. Relevance separates questions about the world (far ones, empty
# 7% -> 47%) but not plausible ones about the user that another person's belief or a neighbouring topic
# matches ("is Sam learning German" against "Priya is learning German"; AUC of the best relevance,
# answerable vs not, 0.71): no floor tells those apart without losing answers.
MIN_RELEVANCE = 0.125
RELATIVE_RELEVANCE = 0.4
TITLE_QUERY_CHARS = 80  # the query echoed in the block's title, at most
EDIT_REASONING = "Edited by the user."


class OpError(ValueError):
    """A request that cannot be done as asked (nothing was changed)."""


class Paused(OpError):
    """Capture is paused: pushed observations are refused, like captured ones."""


# -- embedding ------------------------------------------------------------------------------------------


def embed_for(store: Store, embedder: Any, text: str, query: bool = False, warn: Warn | None = None) -> np.ndarray | None:
    """The text's vector, if it can go into (or be matched against) this store's vector index.

    None without an embedder (full-text only), or when the index was built by
    another embedder (then `warn` is told how to fix it). A query is embedded
    as one: models such as e5 prefix queries differently from passages.
    """
    if embedder is None:
        return None
    index = store.vector_index()
    if index is None:
        store.ensure_vector_index(embedder.name, embedder.dim)
    elif index != (embedder.name, embedder.dim):
        if warn:
            warn(f"memories are indexed with {index[0]}, not {embedder.name}; run `tacit models reembed`")
        return None
    return (embedder.embed_query if query else embedder.embed)([text])[0]


# -- reading --------------------------------------------------------------------------------------------


def search(store: Store, settings: Settings, text: str, embedding: np.ndarray | None, limit: int = 10,
           filters: SearchFilters | None = None, floor: float = 0.0) -> list[retrieve.Hit]:
    """The hybrid search, with the configured retrieval parameters."""
    return retrieve.search(store, text, embedding=embedding, limit=limit, floor=floor,
                           params=settings.retrieval, filters=filters)


def listing(store: Store, limit: int, offset: int = 0, filters: SearchFilters | None = None) -> Listing:
    """A page of propositions, most recently changed first, each with its support (sessions, days)."""
    filters = filters or SearchFilters()
    with store.snapshot():
        items = store.recent(limit, filters, offset)
        support = store.queue.support([p.id for p in items if p.id is not None], utc_offset_minutes())
        total = store.count(filters)
    return Listing(total=total, offset=offset,
                   items=[Listed(proposition=p, support=support[p.id or 0]) for p in items])


def detail(store: Store, proposition_id: int) -> Detail:
    """One proposition with its version history, evidence, feedback and support."""
    with store.snapshot():
        return Detail(proposition=store.get(proposition_id), history=store.history(proposition_id),
                      evidence=store.evidence_for(proposition_id), feedback=store.feedback_for(proposition_id),
                      support=store.queue.support([proposition_id], utc_offset_minutes())[proposition_id])


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def context(store: Store, settings: Settings, query: str, budget_tokens: int, embed: Embed | None) -> ContextBlock:
    """What tacit knows that bears on `query`, then a short labelled profile, as Markdown within the budget.

    Relevant lines come first, most relevant first: the search hits that
    `relevant` keeps, the query's meaning taken without the user's name
    (`without_name`; `embed` embeds a query, None: words only). A few of the most
    confident other beliefs follow under their own heading (all of them, most
    confident first, when the query is empty). Each line carries its
    confidence and the time of its newest evidence. Lines that would pass the
    budget are left out and counted.
    """
    query = " ".join(query.split())
    block = _Block(budget_tokens)
    profile_limit = PROFILE_POOL
    if query:
        shown = query if len(query) <= TITLE_QUERY_CHARS else query[:TITLE_QUERY_CHARS - 1] + "…"
        block.header(f"# What tacit knows about the user relevant to: {shown}\n(confidence 0–1; time = newest evidence)")
        embedding = embed(without_name(query, settings.daemon.user_name)) if embed else None
        hits = relevant(search(store, settings, query, embedding, limit=CONTEXT_POOL))
        block.add(store, [h.proposition for h in hits], "relevant")
        if not hits:
            block.header("Nothing relevant is known.")
        heading: str | None = "## Also known about the user"
        profile_limit = PROFILE_WITH_QUERY
    else:
        block.header("# What tacit knows about the user\n(confidence 0–1; time = newest evidence)")
        heading = None
    taken = {item.id for item in block.items}
    profile = sorted(store.recent(PROFILE_POOL), key=lambda p: (-p.confidence, -p.updated_at.timestamp()))
    block.add(store, [p for p in profile if p.id not in taken][:profile_limit], "profile", heading)
    return block.result(query)


def without_name(query: str, user_name: str) -> str:
    """The query as its meaning is matched for a context block: without the user's own name.

    Every stored belief names the user ("Sam runs ...", or "the user ..."),
    so with MiniLM a query that names them too is close to every belief:
    "does Sam collect stamps" has cosine 0.54 to "Sam's birthday is on the 14th
    of November". Left out, the meaning that remains is what is compared
    (bench/context_floor.py). The query is kept whole if nothing else is left.

    A name is matched as written (or in capitals), so a name that is also a
    word ("Will", "Mark") does not take "will" or "mark" out of the query; each
    capitalised part of a longer name goes too, since people say "Sam" of
    "Sam Rivera". A name with no capital ("the user") is a phrase, any case.
    """
    name = unicodedata.normalize("NFC", " ".join(user_name.split()))
    if not name:
        return query
    query = unicodedata.normalize("NFC", query)
    forms = {name} | ({p for p in name.split() if p[0].isupper() and len(p) > 1} if " " in name else set())
    forms |= {f.upper() for f in forms}
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    pattern = rf"(?<!\w)(?:{alternatives})(?:['’]s)?(?!\w)"
    flags = 0 if any(c.isupper() for c in name) else re.IGNORECASE
    return " ".join(re.sub(pattern, " ", query, flags=flags).split()) or query


def relevant(hits: Sequence[retrieve.Hit], min_relevance: float = MIN_RELEVANCE,
             relative: float = RELATIVE_RELEVANCE) -> list[retrieve.Hit]:
    """The hits a context block shows as relevant: relevance at least `min_relevance` and `relative` of the best's.

    A separate function so that bench/context_floor.py measures the very
    rule the block applies.
    """
    floor = max(min_relevance, relative * max((h.parts.relevance for h in hits), default=0.0))
    return [h for h in hits if h.parts.relevance >= floor]


class _Block:
    """Markdown built line by line within a token budget; a heading costs its tokens too."""

    def __init__(self, budget_tokens: int):
        self.budget, self.used, self.omitted = budget_tokens, 0, 0
        self.parts: list[str] = []
        self.items: list[ContextLine] = []

    def _fits(self, text: str) -> bool:
        cost = estimate_tokens(text + "\n")
        if self.used + cost > self.budget:
            return False
        self.used += cost
        self.parts.append(text)
        return True

    def header(self, text: str) -> None:
        self._fits(text)

    def add(self, store: Store, props: Sequence[Proposition], section: str, heading: str | None = None) -> None:
        """The lines that fit; `heading` goes before the first of them, and only with it (no empty section)."""
        for p, at in zip(props, _evidence_times(store, props), strict=True):
            line = f"- {p.text} (confidence {p.confidence:.2f}; {p.source}; {format_local(at)})"
            if self._fits(line if heading is None else f"{heading}\n{line}"):
                heading = None
                self.items.append(ContextLine(id=p.id or 0, text=p.text, confidence=p.confidence, source=p.source,
                                              evidence_at=at, line=line, section=section))
            else:
                self.omitted += 1

    def result(self, query: str) -> ContextBlock:
        markdown = "".join(f"{part}\n" for part in self.parts)
        return ContextBlock(query=query, budget_tokens=self.budget, tokens=estimate_tokens(markdown),
                            markdown=markdown, items=self.items, omitted=self.omitted)


def _evidence_times(store: Store, props: Sequence[Proposition]) -> list[datetime]:
    times = []
    for p in props:
        newest = store.evidence_for(p.id or 0, limit=1)
        times.append(newest[0].captured_at if newest else p.updated_at)
    return times


def activity(store: Store, days: int, now: datetime | None = None) -> ActivityReport:
    """Time per app per local hour, from local midnight `days - 1` days ago (1: today) until now.

    Measured as the stats are (pipeline/stats.timeline): each minute goes to
    the app the user was on, and idle stretches count for none.
    """
    now = (now or utcnow()).astimezone()
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    seen = list(store.queue.activity_since(since.astimezone(UTC)))
    minutes = timeline(seen, StatsParams()) if seen else {}  # timeline() of nothing raises (stats.py, zip strict)
    seconds: dict[tuple[str, datetime], float] = defaultdict(float)
    for minute, o in minutes.items():
        local = datetime.fromtimestamp(minute * 60, UTC).astimezone()
        if local < since:
            continue
        hour = local.replace(minute=0, second=0, microsecond=0)
        seconds[(o.app or "", hour)] += 60.0
    hours = [ActivityHour(app=app, hour=hour, seconds=s) for (app, hour), s in sorted(seconds.items(),
                                                                                     key=lambda kv: (kv[0][1], kv[0][0]))]
    return ActivityReport(since=since, days=days, hours=hours)


def quarantine_list(store: Store) -> list[QuarantineItem]:
    return [_item(e) for e in store.queue.quarantined()]


def _item(entry: QuarantineEntry) -> QuarantineItem:
    return QuarantineItem(**entry.model_dump(), given_up=entry.next_try_at is None)


# -- writing --------------------------------------------------------------------------------------------


def remember(store: Store, text: str, embed: Embed, confidence: float = 1.0, half_life_days: float = 180.0,
             reasoning: str = "") -> Proposition:
    """A statement the user makes about themselves: a user-sourced proposition."""
    p = Proposition(text=text, confidence=confidence, half_life_days=half_life_days, reasoning=reasoning,
                    source="user")
    return store.add_proposition(p, embedding=embed(p.text))


def edit(store: Store, proposition_id: int, text: str, embed: Embed) -> Proposition:
    """The user's own wording: a new version, user-sourced and confirmed by writing it (confidence 1)."""
    new = Proposition(text=text, confidence=1.0)  # validates the text before anything is read or written
    old = store.get(proposition_id)
    if old.text == new.text:
        raise OpError(f"proposition {proposition_id} already says that; nothing was changed")
    return store.revise(proposition_id, text=new.text, source="user", confidence=1.0, reasoning=EDIT_REASONING,
                        embedding=embed(new.text))


def forget(store: Store, proposition_id: int) -> ForgetResult:
    return _forgotten(store.forget(proposition_id))


def forget_scope(store: Store, scope: ForgetScope) -> ForgetResult:
    return _forgotten(store.forget_scope(scope))


def _forgotten(report: ForgetReport) -> ForgetResult:
    return ForgetResult(propositions=report.propositions, observations=report.observations,
                        scrub_pending=report.scrub_pending)


def push_observations(store: Store, settings: Settings, privacy: PrivacyFilter,
                      observations: Sequence[Observation]) -> PushReport:
    """Observations from another app: privacy-filtered, stored and queued in one transaction.

    Committed before this returns, so an acknowledged push survives a crash.
    Refused while capture is paused: the user asked for nothing to be taken in.
    """
    if (state := pause_state(settings)).paused:
        until = f" until {format_local(state.until)}" if state.until else " until `tacit resume`"
        raise Paused(f"capture is paused{until}; nothing was stored")
    report = IngestReport()
    passed = admit(observations, privacy, report)
    report.ids = enqueue(store, passed) if passed else []
    return PushReport(received=report.read, stored=len(report.ids), excluded=report.excluded,
                      redacted=report.redacted, ids=report.ids)


def quarantine_retry(store: Store, keys: Sequence[str]) -> list[QuarantineItem]:
    """Try these segments again with a fresh count; all of them or, on an unknown key, none."""
    with store.transaction():
        return [_item(store.queue.retry(k)) for k in keys]


def quarantine_drop(store: Store, keys: Sequence[str]) -> None:
    with store.transaction():
        for key in keys:
            store.queue.drop(key)


# -- pause ----------------------------------------------------------------------------------------------


def pause(settings: Settings, duration: timedelta | None) -> PauseOut:
    """Stop all capture now (until resumed when no duration); persisted, so a restart keeps it."""
    until = PauseState(settings.pause_path).pause(duration)
    return PauseOut(paused=True, until=until)


def resume(settings: Settings) -> PauseOut:
    PauseState(settings.pause_path).resume()
    return PauseOut(paused=False, until=None)


def pause_state(settings: Settings) -> PauseOut:
    state = PauseState(settings.pause_path)
    paused = state.paused()
    return PauseOut(paused=paused, until=state.until() if paused else None)
