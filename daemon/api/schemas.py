"""What goes over the socket: request and response bodies of the /v1 API.

Requests forbid unknown fields, so a misspelt field is a 422 that names
it rather than a silent default. Responses are built from the memory
types (`memory.types`, `memory.events.Event`), so the API, the CLI's `--json` and the typed client
agree on one shape. The client (daemon/api/client.py) parses these models, so this module
imports nothing heavier than pydantic: the TUI's start-up waits on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tacitd.memory.events import Event
from tacitd.memory.types import (
    MAX_OBSERVATION_TEXT,
    Feedback,
    Hit,
    NonEmptyText,
    Observation,
    ObserverName,
    Proposition,
    QuarantineEntry,
    Support,
    Timestamp,
    utcnow,
)

__all__ = [
    "ActivityHour", "ActivityReport", "ContextBlock", "ContextLine", "Detail", "EditIn", "Event", "ForgetResult",
    "ForgetScopeIn", "Hit", "Listed", "Listing", "ObservationIn", "ObservationsIn", "PauseIn", "PauseOut",
    "PushReport", "QuarantineItem", "SearchOut", "StatementIn", "StatusOut", "VerdictIn",
]

MAX_BATCH = 1000  # observations per POST


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _printable(text: str) -> str:
    """Refuse control characters (tab and newline aside): SQLite's length() stops at NUL, so '\\0x' would
    pass as empty in one check and be stored as is by another."""
    if bad := sorted({f"U+{ord(c):04X}" for c in text if ord(c) < 32 and c not in "\t\n\r" or ord(c) == 127}):
        raise ValueError(f"control characters are not allowed ({', '.join(bad)})")
    return text


Statement = Annotated[NonEmptyText, AfterValidator(_printable)]
MAX_CLOCK_SKEW = timedelta(days=1)


def _local_if_naive(value: datetime) -> datetime:
    """A time without an offset is the user's local time, as `tacit forget --before` reads it."""
    return value.astimezone(UTC)  # astimezone() reads a naive value as local time


def _not_in_the_future(value: datetime) -> datetime:
    if value > utcnow() + MAX_CLOCK_SKEW:
        raise ValueError("captured_at is more than a day in the future")
    return value


LocalTime = Annotated[datetime, AfterValidator(_local_if_naive)]


# -- requests ---------------------------------------------------------------------------------------------


class StatementIn(_In):
    """A statement the user makes about themselves (POST /v1/propositions)."""

    text: Statement
    confidence: float = Field(default=1.0, ge=0, le=1)
    half_life_days: float = Field(default=180.0, gt=0, le=36500)
    reasoning: str = Field(default="", max_length=8000)


class EditIn(_In):
    """New text for a proposition: written as a new, user-sourced version (the old one is kept as history)."""

    text: Statement


class VerdictIn(_In):
    note: str = Field(default="", max_length=2000)


class ObservationIn(_In):
    """Text another app saw. `captured_at` is required: tacit keeps when things were seen, not when sent."""

    observer: ObserverName = "api"
    app: str | None = Field(default=None, max_length=200)
    window_title: str | None = Field(default=None, max_length=2000)
    url: str | None = Field(default=None, max_length=4000)
    text: str = Field(default="", max_length=MAX_OBSERVATION_TEXT)
    captured_at: Annotated[Timestamp, AfterValidator(_not_in_the_future)] = Field(
        description="when it was seen; without an offset, UTC (as in `tacit ingest` files)")
    duration_s: float = Field(default=0.0, ge=0, le=86400)
    meta: dict[str, Any] = Field(default_factory=dict)

    def observation(self) -> Observation:
        return Observation.model_validate(self.model_dump())


class ObservationsIn(_In):
    observations: list[ObservationIn] = Field(min_length=1, max_length=MAX_BATCH)


class PauseIn(_In):
    duration_s: float | None = Field(default=None, gt=0, le=366 * 86400, description="omit: until resumed")


class ForgetScopeIn(_In):
    """As `tacit forget --app/--since/--before/--observations-only`: at least one of app, since, before."""

    app: str | None = Field(default=None, min_length=1, max_length=200)
    since: LocalTime | None = Field(default=None, description="without an offset: local time, as in the CLI")
    before: LocalTime | None = Field(default=None, description="without an offset: local time, as in the CLI")
    observations_only: bool = False


# -- responses --------------------------------------------------------------------------------------------


class Listed(BaseModel):
    proposition: Proposition
    support: Support


class Listing(BaseModel):
    total: int = Field(description="how many pass the filters, for paging with offset")
    offset: int
    items: list[Listed]


class Detail(BaseModel):
    proposition: Proposition
    history: list[Proposition] = Field(description="every version of its revision group, oldest first")
    evidence: list[Observation]
    feedback: list[Feedback]
    support: Support


class SearchOut(BaseModel):
    query: str
    results: list[Hit]


class ContextLine(BaseModel):
    id: int
    text: str
    confidence: float
    source: str
    evidence_at: datetime = Field(description="newest supporting capture time (or last update when none)")
    line: str = Field(description="the Markdown line as it appears in the block")
    section: Literal["relevant", "profile"] = Field(description="relevant to the query, or the general profile")


class ContextBlock(BaseModel):
    query: str
    budget_tokens: int
    tokens: int = Field(description="estimated tokens of `markdown` (characters / 4), at most budget_tokens")
    markdown: str
    items: list[ContextLine]
    omitted: int = Field(description="relevant lines left out to stay within the budget")


class PushReport(BaseModel):
    received: int
    stored: int
    excluded: int = Field(description="dropped whole by the privacy rules")
    redacted: int = Field(description="stored with something redacted")
    ids: list[int]


class PauseOut(BaseModel):
    paused: bool
    until: datetime | None = Field(description="null while paused: until resumed")


class ForgetResult(BaseModel):
    propositions: int
    observations: int
    scrub_pending: bool


class QuarantineItem(QuarantineEntry):
    given_up: bool = Field(description="no automatic retry is planned; retry it by hand")


class ActivityHour(BaseModel):
    app: str
    hour: datetime = Field(description="start of the local hour, with its UTC offset")
    seconds: float


class ActivityReport(BaseModel):
    since: datetime
    days: int
    hours: list[ActivityHour]


class StatusOut(BaseModel):
    daemon: dict[str, Any] = Field(description="the daemon's own facts: pid, observers, worker, model...")
    paused: bool
    paused_until: datetime | None
    queue: dict[str, int]
    propositions: int = Field(description="current propositions")
    quarantined: int
    encrypted: bool
    last_event_id: int

