"""The shared contract: what tacit observes, what it believes, and why.

Every layer (observers, models, memory, daemon, tui) speaks in these types, so
they are deliberately small. Validation lives here, at the boundary, so that
nonsense such as a confidence of 1.7 is refused before it reaches the database.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

ObserverName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$", strip_whitespace=True)
]
NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Source = Literal["llm", "stats", "user"]
Status = Literal["current", "superseded", "rejected"]
FeedbackKind = Literal["confirm", "reject"]

MAX_DURATION_S = 7 * 24 * 3600.0


def capped_duration(seconds: float) -> float:
    """A span an observer measured, as an Observation holds it: a machine asleep for longer than a week
    counts as a week (MAX_DURATION_S), rather than failing validation in the observer."""
    return min(max(seconds, 0.0), MAX_DURATION_S)
MAX_OBSERVATION_TEXT = 100_000


def utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    """Naive times are taken as UTC; every stored time is UTC so they sort as text."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


Timestamp = Annotated[datetime, AfterValidator(_as_utc)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Observation(_Model):
    """One thing seen. `captured_at` is when it was seen, never when it was processed."""

    id: int | None = None
    observer: ObserverName
    app: str | None = None
    window_title: str | None = None
    url: str | None = None
    text: str = Field(default="", max_length=MAX_OBSERVATION_TEXT, description="Already redacted.")
    captured_at: Timestamp = Field(default_factory=utcnow)
    # Finite and at most a week (an idle stretch over a holiday): 1e400 parsed as infinity once wedged the
    # whole queue, because segmenting adds it to captured_at.
    duration_s: float = Field(default=0.0, ge=0, le=MAX_DURATION_S, allow_inf_nan=False)
    meta: dict[str, Any] = Field(default_factory=dict)


class Proposition(_Model):
    """One statement about the user, with how sure we are and how long it stays true.

    Recency weighting is exp(-ln2 * age / half_life_days): a larger half-life
    means a longer-lived fact (the reference implementation had this inverted).
    """

    id: int | None = None
    text: NonEmptyText
    reasoning: str = Field(default="", max_length=8000)
    confidence: float = Field(ge=0.0, le=1.0)
    half_life_days: float = Field(default=30.0, gt=0, le=36500)
    source: Source = "llm"
    status: Status = "current"
    version: int = Field(default=1, ge=1)
    revision_group: int | None = None
    supersedes: int | None = None
    valid_from: Timestamp = Field(default_factory=utcnow)
    valid_to: Timestamp | None = None
    created_at: Timestamp = Field(default_factory=utcnow)
    updated_at: Timestamp = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _check_validity_window(self) -> Proposition:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be earlier than valid_from")
        return self

    def recency(self, now: datetime | None = None) -> float:
        """1.0 for a fact touched just now, 0.5 after one half-life, and so on."""
        age_days = max(0.0, ((now or utcnow()) - self.updated_at).total_seconds() / 86400)
        return math.exp(-math.log(2) * age_days / self.half_life_days)


class EvidenceLink(_Model):
    """Ties a proposition to an observation that supports it."""

    proposition_id: int
    observation_id: int
    created_at: Timestamp = Field(default_factory=utcnow)


class Feedback(_Model):
    """The user's verdict on a proposition: confirm sets confidence to 1, reject retires it."""

    id: int | None = None
    proposition_id: int
    kind: FeedbackKind
    note: str = Field(default="", max_length=2000)
    created_at: Timestamp = Field(default_factory=utcnow)


class SearchFilters(_Model):
    """What a caller may narrow retrieval (and listings) to.

    `since`/`until` apply to `updated_at`: when a proposition was last
    supported, confirmed or changed.
    """

    since: Timestamp | None = None
    until: Timestamp | None = None
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    status: tuple[Status, ...] = ("current",)
    source: tuple[Source, ...] | None = None
    app: str | None = None


class Segment(_Model):
    """One activity: the unit the pipeline proposes from, one segment per model call.

    Contiguous observations of the same app and window-title family (see
    daemon/pipeline/segment.py). `observation_ids` are every member: the
    evidence, and what `key` was derived from when the segment was formed, so
    the same observations always make the same segment. `observations` are
    what the model may see: text-bearing members and window records (title,
    duration), with lines that repeat an earlier frame dropped and the text
    kept under a token cap. Input and idle records are members for their
    duration only.
    """

    key: str = Field(pattern=r"^[0-9a-f]{16}$")
    app: str | None = None
    family: str = Field(default="", description="window-title family or site; '' when the app is the activity")
    observation_ids: list[int] = Field(min_length=1)
    observations: list[Observation] = Field(default_factory=list)
    started_at: Timestamp
    ended_at: Timestamp

    @model_validator(mode="after")
    def _check_span(self) -> Segment:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at must not be earlier than started_at")
        return self

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def has_text(self) -> bool:
        """Whether anything here can be proposed from (window titles alone cannot)."""
        return any(o.text.strip() for o in self.observations)


class Support(_Model):
    """How much independent evidence backs a proposition, derived from its evidence links.

    `sessions` counts distinct segments among its evidence observations, `days`
    distinct local days of their capture times; `confirmed` says the user
    confirmed this text (in any version of its revision group).
    """

    sessions: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)
    confirmed: bool = False


class ScoreParts(BaseModel):
    """Why a search hit scored what it did (memory/retrieve.py computes them)."""

    bm25_rank: int | None = Field(description="1-based rank among BM25 candidates")
    vector_rank: int | None = Field(description="1-based rank among vector candidates")
    similarity: float | None = Field(description="cosine similarity to the query vector")
    lexical: float = Field(description="IDF-weighted share of the query's terms matched, in [0, 1]")
    semantic: float | None = Field(description="cosine mapped from the noise level (0) to 1")
    time_match: float | None = Field(description="share inside the queried time window, if the query named one")
    relevance: float = Field(description="weighted mean of the qualities, in [0, 1]")
    recency: float = Field(description="exp(-ln2 * age / half_life)")
    confidence: float


class Hit(BaseModel):
    """One search result: the proposition, its score and parts, why it matched, evidence snippets."""

    proposition: Proposition
    score: float
    parts: ScoreParts
    why: list[str]
    evidence: list[str]


class QuarantineEntry(BaseModel):
    """A segment that failed: what went wrong, what the model said, and when it is tried again."""

    key: str
    observation_ids: list[int]
    error: str
    raw_output: str
    tries: int
    next_try_at: Timestamp | None  # None: given up until `tacit quarantine retry`
    first_failed_at: Timestamp
    last_failed_at: Timestamp
