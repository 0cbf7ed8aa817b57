"""The /v1 HTTP/JSON API: `create_app(services)` builds it over what the daemon provides.

Routes are thin: each parses its input into a schema, calls the function in
`daemon/ops.py` (or the Store method) that the CLI calls too, and returns
that function's model. They are plain `def`s, so FastAPI runs them on its
thread pool (server.API_THREADS), and each thread gets its own Store from
`services.store()` (stores.py): reads then run beside a long write in the
daemon (a backup, gc) instead of queueing on one connection's lock.

Bad input is a 4xx with a message and changes nothing: 422 for a body or
parameter that does not validate (unknown fields included), 400 for
malformed JSON or a request the store refuses, 404 for a missing id, 409
while paused, 413 for a body over `MAX_BODY` and 408 for one that stops
arriving (limits.py); 503 when the database stays locked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Protocol

import anyio
import numpy as np
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from sse_starlette import EventSourceResponse

from tacitd.memory import crypto
from tacitd.memory.db import DatabaseLocked, NotFound, StoreError
from tacitd.memory.forget import ForgetScope
from tacitd.memory.store import Store
from tacitd.memory.types import Proposition, SearchFilters, Source, Status
from tacitd.observers.privacy import PrivacyFilter

from .. import ops
from ..config import Settings
from ..observe import privacy_filter
from ..timespec import parse_when
from . import events, schemas
from .limits import MAX_BODY, BodyLimit

API_VERSION = "1"
MAX_ID = events.MAX_ID  # SQLite's INTEGER
PropositionId = Annotated[int, Path(ge=1, le=MAX_ID)]
Statuses = Annotated[list[Status] | None, Query(description="repeatable; default: current")]
Sources = Annotated[list[Source] | None, Query(description="repeatable; default: any")]


class Services(Protocol):
    """What the API needs from the daemon that serves it (daemon/runtime.py implements it)."""

    settings: Settings

    def store(self) -> Store:
        """A Store the calling thread may use (routes run on a thread pool): see stores.ThreadStores."""

    def embed(self, text: str, query: bool = False) -> np.ndarray | None:
        """The text's vector for this store's index, or None (full-text only). Thread-safe."""

    def status(self) -> dict[str, Any]:
        """The daemon's own facts (JSON-able): pid, uptime, observers, worker, model, last batch, crashes."""

    def wake_pipeline(self) -> None:
        """New observations are queued: process them soon. Must not block."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


# The most specific class wins (Starlette looks handlers up along the exception's MRO).
# A CHECK constraint the schemas should have caught first is still the caller's bad input, not a 500.
ERROR_STATUS: dict[type[Exception], int] = {
    NotFound: 404, DatabaseLocked: 503, StoreError: 400, ops.Paused: 409, ops.OpError: 400,
    **dict.fromkeys(crypto.errors("IntegrityError"), 400),
}


def _install_errors(app: FastAPI) -> None:
    for exc_type, status in ERROR_STATUS.items():
        app.add_exception_handler(exc_type, _answer_with(status))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(x) for x in first.get("loc", ()))
        status = 400 if first.get("type") == "json_invalid" else 422
        body = {"detail": f"invalid {where}: {first.get('msg')}", "errors": _plain(errors)}
        return JSONResponse(body, status_code=status)


def _answer_with(status: int) -> Any:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return _error(status, str(exc))

    return handler


def _plain(errors: Any) -> list[dict[str, Any]]:
    """Validation errors without their `ctx`/`input` objects, which may not be JSON (and echo the input)."""
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))} for e in errors]


def _json(model: BaseModel) -> Response:
    """The model's JSON as is: FastAPI would validate a returned model against `response_model` again,
    which costs more than the rest of the HTTP layer on a search (bench/api.py)."""
    return Response(model.model_dump_json(), media_type="application/json")


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value)
    except ValueError as exc:
        raise ops.OpError(f"{name}: {exc}") from None


def _known_query(request: Request) -> None:
    """A misspelt query parameter (`min_confidnce`) is a 422, as an unknown body field is, not ignored."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = {p.alias for p in dependant.query_params}
    if unknown := sorted(set(request.query_params) - known):
        raise RequestValidationError([{"loc": ("query", unknown[0]), "msg": f"unknown parameter; known: "
                                       f"{', '.join(sorted(known)) or 'none'}", "type": "extra_forbidden"}])


def create_app(services: Services) -> FastAPI:
    """The FastAPI app for `services` (one per daemon); OpenAPI at /openapi.json."""
    app = FastAPI(title="tacit", version=API_VERSION, docs_url=None, redoc_url=None,
                  description="tacit's local memory API, served on a Unix socket.",
                  dependencies=[Depends(_known_query)])
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    _install_errors(app)
    _reading_routes(app, services)
    _writing_routes(app, services)
    _control_routes(app, services)
    return app


def _filters(since: str | None, min_confidence: float, status: list[Status] | None, source: list[Source] | None,
             app_name: str | None = None) -> SearchFilters:
    return SearchFilters(since=_when(since, "since"), min_confidence=min_confidence,
                         status=tuple(status or ("current",)), source=tuple(source) if source else None, app=app_name)


def _reading_routes(app: FastAPI, services: Services) -> None:
    @app.get("/v1/context", response_model=schemas.ContextBlock,
             responses={200: {"content": {"text/markdown": {}}}})
    def context(q: Annotated[str, Query(max_length=2000)] = "",
                budget_tokens: Annotated[int, Query(ge=50, le=32000)] = 1000,
                format: Literal["json", "markdown"] = "json") -> Any:
        """What tacit knows that is relevant to `q` (a profile when empty), within the token budget."""
        store = services.store()
        block = ops.context(store, services.settings, q, budget_tokens, lambda text: services.embed(text, query=True))
        if format == "markdown":
            return PlainTextResponse(block.markdown, media_type="text/markdown; charset=utf-8")
        return _json(block)

    @app.get("/v1/search", response_model=schemas.SearchOut)
    def search(q: Annotated[str, Query(min_length=1, max_length=2000)],
               limit: Annotated[int, Query(ge=1, le=200)] = 10,
               since: Annotated[str | None, Query(description="30m, 2d, or an ISO date/time")] = None,
               min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.0,
               status: Statuses = None, source: Sources = None,
               app_name: Annotated[str | None, Query(alias="app", max_length=200)] = None,
               floor: Annotated[float, Query(ge=0, le=1)] = 0.0) -> Response:
        """The hybrid search; each hit carries its score parts and why it matched."""
        filters = _filters(since, min_confidence, status, source, app_name)
        hits = ops.search(services.store(), services.settings, q, services.embed(q, query=True), limit, filters, floor)
        return _json(schemas.SearchOut(query=q, results=hits))

    @app.get("/v1/propositions/recent", response_model=schemas.Listing)
    def recent(limit: Annotated[int, Query(ge=1, le=1000)] = 50, offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
               status: Statuses = None, source: Sources = None,
               min_confidence: Annotated[float, Query(ge=0, le=1)] = 0.0,
               since: Annotated[str | None, Query(description="changed since: 30m, 2d, or an ISO date/time")] = None,
               ) -> Response:
        """Propositions most recently learned, supported or changed, with support; page with offset."""
        return _json(ops.listing(services.store(), limit, offset, _filters(since, min_confidence, status, source)))

    @app.get("/v1/propositions/{proposition_id}", response_model=schemas.Detail)
    def get(proposition_id: PropositionId) -> Response:
        """One proposition with its version history, evidence, feedback and support."""
        return _json(ops.detail(services.store(), proposition_id))

    @app.get("/v1/activity", response_model=schemas.ActivityReport)
    def activity(days: Annotated[int, Query(ge=1, le=31)] = 7) -> schemas.ActivityReport:
        """Time per app per local hour, from local midnight `days - 1` days ago (1: today)."""
        return ops.activity(services.store(), days)

    @app.get("/v1/quarantine", response_model=list[schemas.QuarantineItem])
    def quarantine() -> list[schemas.QuarantineItem]:
        """Segments whose processing failed, with the error and the model's raw output."""
        return ops.quarantine_list(services.store())


def _writing_routes(app: FastAPI, services: Services) -> None:
    def embed(text: str) -> np.ndarray | None:
        return services.embed(text)

    @app.post("/v1/propositions", response_model=Proposition, status_code=201)
    def remember(body: schemas.StatementIn) -> Proposition:
        """A statement from the user about themselves; stored as a user-sourced proposition."""
        return ops.remember(services.store(), body.text, embed, body.confidence, body.half_life_days, body.reasoning)

    @app.post("/v1/propositions/{proposition_id}/confirm", response_model=Proposition)
    def confirm(proposition_id: PropositionId, body: schemas.VerdictIn | None = None) -> Proposition:
        """The user says it is true: its confidence becomes 1."""
        return services.store().confirm(proposition_id, body.note if body else "")

    @app.post("/v1/propositions/{proposition_id}/reject", response_model=Proposition)
    def reject(proposition_id: PropositionId, body: schemas.VerdictIn | None = None) -> Proposition:
        """The user says it is false; it is kept, rejected, so it is not proposed again."""
        return services.store().reject(proposition_id, body.note if body else "")

    @app.post("/v1/propositions/{proposition_id}/edit", response_model=Proposition, status_code=201)
    def edit(proposition_id: PropositionId, body: schemas.EditIn) -> Proposition:
        """New wording from the user: a new user-sourced version; the old one stays in the history."""
        return ops.edit(services.store(), proposition_id, body.text, embed)

    @app.delete("/v1/propositions/{proposition_id}", response_model=schemas.ForgetResult)
    def forget(proposition_id: PropositionId) -> schemas.ForgetResult:
        """Delete for real: every version, and the observations only it cites."""
        return ops.forget(services.store(), proposition_id)

    @app.post("/v1/forget", response_model=schemas.ForgetResult)
    def forget_scope(body: schemas.ForgetScopeIn) -> schemas.ForgetResult:
        """As `tacit forget --app/--since/--before/--observations-only`."""
        scope = ForgetScope(app=body.app, since=body.since, before=body.before,
                            observations_only=body.observations_only)
        return ops.forget_scope(services.store(), scope)

    built: list[tuple[Settings, PrivacyFilter]] = []  # one filter per settings object: a SIGHUP reload makes a new one

    @app.post("/v1/observations", response_model=schemas.PushReport, status_code=201)
    def observations(body: schemas.ObservationsIn) -> schemas.PushReport:
        """Text from another app: privacy-filtered, then stored and queued; committed before the reply."""
        settings = services.settings
        if not built or built[0][0] is not settings:
            built[:] = [(settings, privacy_filter(settings))]
        privacy = built[0][1]
        report = ops.push_observations(services.store(), settings, privacy,
                                       [o.observation() for o in body.observations])
        if report.stored:
            services.wake_pipeline()
        return report

    @app.post("/v1/quarantine/{key}/retry", response_model=schemas.QuarantineItem)
    def quarantine_retry(key: str) -> schemas.QuarantineItem:
        return ops.quarantine_retry(services.store(), [key])[0]

    @app.delete("/v1/quarantine/{key}", status_code=204)
    def quarantine_drop(key: str) -> Response:
        ops.quarantine_drop(services.store(), [key])
        return Response(status_code=204)


def _control_routes(app: FastAPI, services: Services) -> None:
    @app.post("/v1/pause", response_model=schemas.PauseOut)
    def pause(body: schemas.PauseIn | None = None) -> schemas.PauseOut:
        """Stop all capture now, for `duration_s` or until resumed."""
        seconds = body.duration_s if body else None
        return ops.pause(services.settings, timedelta(seconds=seconds) if seconds else None)

    @app.post("/v1/resume", response_model=schemas.PauseOut)
    def resume() -> schemas.PauseOut:
        return ops.resume(services.settings)

    @app.get("/v1/status", response_model=schemas.StatusOut)
    def status() -> schemas.StatusOut:
        """The daemon's facts and the store's: queue, pause, counts, encryption."""
        store = services.store()
        paused = ops.pause_state(services.settings)
        return schemas.StatusOut(
            daemon=services.status(), paused=paused.paused, paused_until=paused.until,
            queue=store.queue.counts(), propositions=store.count(), quarantined=len(store.queue.quarantined()),
            encrypted=store.encryption.encrypted, last_event_id=store.events.last_id())

    @app.get("/v1/events", response_class=EventSourceResponse,
             responses={200: {"content": {"text/event-stream": {}}}})
    async def stream(request: Request, after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
                     last_event_id: Annotated[str | None, Header()] = None) -> EventSourceResponse:
        """Server-sent events: new, revised, confirmed, rejected and forgotten propositions, from any process.

        Starts after `after` (or the Last-Event-ID header on a reconnect), else now.
        """
        start = after if after is not None else events.parse_last_id(last_event_id)
        if start is None:
            start = await anyio.to_thread.run_sync(lambda: services.store().events.last_id())
        source: AsyncIterator[dict[str, str]] = events.tail(services.store, start, request)
        return EventSourceResponse(source, ping=15)
