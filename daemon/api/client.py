"""TacitClient: the typed Python client for the daemon's /v1 API over its Unix socket.

The TUI and the MCP bridge reach the daemon only through this. Every
method returns the API's own pydantic models (daemon/api/schemas.py,
memory.types), so a caller never handles raw JSON. When no daemon is
listening, methods raise `DaemonNotRunning`, whose message says how to
start one; a refused request raises `ApiError` with the server's message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from tacitd.memory.types import Proposition

from .schemas import (
    ActivityReport,
    ContextBlock,
    Detail,
    Event,
    ForgetResult,
    Listing,
    ObservationIn,
    PauseOut,
    PushReport,
    QuarantineItem,
    SearchOut,
    StatusOut,
)
from .paths import default_socket_path

# The client and the types its methods return: a program (the TUI) that talks to the daemon imports
# them from here, not from the server's schemas.
__all__ = ["ActivityReport", "ApiError", "ContextBlock", "DaemonNotRunning", "Detail", "Event", "ForgetResult",
           "Listing", "PauseOut", "PushReport", "QuarantineItem", "SearchOut", "StatusOut", "TacitClient"]

M = TypeVar("M", bound=BaseModel)
BASE_URL = "http://tacit"  # the host is not used on a Unix socket; requests still need one
DEFAULT_TIMEOUT_S = 30.0


class DaemonNotRunning(RuntimeError):
    """Nothing answers on the socket."""

    def __init__(self, socket_path: Path, why: str = ""):
        self.socket_path = socket_path
        detail = f" ({why})" if why else ""
        super().__init__(f"the tacit daemon is not running (nothing answers on {socket_path}{detail}); "
                         "start it with `tacit start`")


class ApiError(RuntimeError):
    """The daemon refused a request: `status` is the HTTP status, the message is the daemon's."""

    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(f"{message} (HTTP {status})")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class TacitClient:
    """One connection pool to the daemon; use as a context manager or call close()."""

    def __init__(self, socket_path: Path | None = None, timeout: float = DEFAULT_TIMEOUT_S):
        self.socket_path = Path(socket_path) if socket_path else default_socket_path()
        self._http = httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket_path)), base_url=BASE_URL,
                                  timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TacitClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, FileNotFoundError, ConnectionRefusedError) as exc:
            raise DaemonNotRunning(self.socket_path, str(exc)) from None
        except httpx.RemoteProtocolError as exc:  # e.g. the peer check closed the connection
            raise DaemonNotRunning(self.socket_path, f"the daemon closed the connection: {exc}") from None
        if response.status_code >= 400:
            try:
                message = response.json().get("detail", response.text)
            except (ValueError, AttributeError):
                message = response.text
            raise ApiError(response.status_code, str(message))
        return response

    def _get(self, model: type[M], path: str, **params: Any) -> M:
        return model.model_validate_json(self._request("GET", path, params=_params(params)).content)

    def _post(self, model: type[M], path: str, body: Any = None) -> M:
        return model.model_validate_json(self._request("POST", path, json=body).content)

    # -- reading ----------------------------------------------------------------------------------------------

    def status(self) -> StatusOut:
        return self._get(StatusOut, "/v1/status")

    def running(self) -> bool:
        """Whether a daemon answers (no exception either way)."""
        try:
            self.status()
            return True
        except DaemonNotRunning:
            return False

    def context(self, q: str = "", budget_tokens: int = 1000) -> ContextBlock:
        return self._get(ContextBlock, "/v1/context", q=q, budget_tokens=budget_tokens)

    def context_markdown(self, q: str = "", budget_tokens: int = 1000) -> str:
        params = _params({"q": q, "budget_tokens": budget_tokens, "format": "markdown"})
        return self._request("GET", "/v1/context", params=params).text

    def search(self, q: str, limit: int = 10, since: datetime | str | None = None, min_confidence: float = 0.0,
               status: tuple[str, ...] = (), source: tuple[str, ...] = (), app: str | None = None,
               floor: float = 0.0) -> SearchOut:
        since = _iso(since) if isinstance(since, datetime) else since
        return self._get(SearchOut, "/v1/search", q=q, limit=limit, since=since, min_confidence=min_confidence,
                         status=list(status), source=list(source), app=app, floor=floor)

    def recent(self, limit: int = 50, offset: int = 0, status: tuple[str, ...] = (), source: tuple[str, ...] = (),
               min_confidence: float = 0.0, since: datetime | str | None = None) -> Listing:
        """Newest changes first; `since` keeps those learned, supported or changed since then."""
        since = _iso(since) if isinstance(since, datetime) else since
        return self._get(Listing, "/v1/propositions/recent", limit=limit, offset=offset, status=list(status),
                         source=list(source), min_confidence=min_confidence, since=since)

    def get(self, proposition_id: int) -> Detail:
        return self._get(Detail, f"/v1/propositions/{int(proposition_id)}")

    def activity(self, days: int = 7) -> ActivityReport:
        return self._get(ActivityReport, "/v1/activity", days=days)

    def quarantine_list(self) -> list[QuarantineItem]:
        response = self._request("GET", "/v1/quarantine")
        return TypeAdapter(list[QuarantineItem]).validate_json(response.content)

    # -- writing ----------------------------------------------------------------------------------------------

    def remember(self, text: str, confidence: float = 1.0, half_life_days: float = 180.0,
                 reasoning: str = "") -> Proposition:
        return self._post(Proposition, "/v1/propositions", {"text": text, "confidence": confidence,
                                                            "half_life_days": half_life_days, "reasoning": reasoning})

    def confirm(self, proposition_id: int, note: str = "") -> Proposition:
        return self._post(Proposition, f"/v1/propositions/{int(proposition_id)}/confirm", {"note": note})

    def reject(self, proposition_id: int, note: str = "") -> Proposition:
        return self._post(Proposition, f"/v1/propositions/{int(proposition_id)}/reject", {"note": note})

    def edit(self, proposition_id: int, text: str) -> Proposition:
        """New wording: returns the new, user-sourced version."""
        return self._post(Proposition, f"/v1/propositions/{int(proposition_id)}/edit", {"text": text})

    def forget(self, proposition_id: int) -> ForgetResult:
        return ForgetResult.model_validate_json(
            self._request("DELETE", f"/v1/propositions/{int(proposition_id)}").content)

    def forget_scope(self, app: str | None = None, since: datetime | None = None, before: datetime | None = None,
                     observations_only: bool = False) -> ForgetResult:
        return self._post(ForgetResult, "/v1/forget", {"app": app, "since": _iso(since), "before": _iso(before),
                                                       "observations_only": observations_only})

    def push_observations(self, observations: list[ObservationIn] | list[dict[str, Any]]) -> PushReport:
        """Queue text for the pipeline; once this returns, the observations are stored."""
        body = [o.model_dump(mode="json") if isinstance(o, BaseModel) else o for o in observations]
        return self._post(PushReport, "/v1/observations", {"observations": body})

    def pause(self, duration_s: float | None = None) -> PauseOut:
        return self._post(PauseOut, "/v1/pause", {"duration_s": duration_s})

    def resume(self) -> PauseOut:
        return self._post(PauseOut, "/v1/resume")

    def quarantine_retry(self, key: str) -> QuarantineItem:
        return self._post(QuarantineItem, f"/v1/quarantine/{key}/retry")

    def quarantine_drop(self, key: str) -> None:
        self._request("DELETE", f"/v1/quarantine/{key}")

    # -- events -----------------------------------------------------------------------------------------------

    def events(self, after: int | None = None, timeout: float | None = None) -> Iterator[Event]:
        """Changes as they happen (from `after`, else from now), until the caller stops iterating.

        `timeout` bounds the wait for each chunk (None: wait for ever); the
        daemon sends a keep-alive comment every 15 s.
        """
        params = _params({"after": after})
        try:
            with self._http.stream("GET", "/v1/events", params=params,
                                   timeout=httpx.Timeout(self._http.timeout.connect, read=timeout)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(response.status_code, response.text)
                yield from _parse_sse(response.iter_lines())
        except (httpx.ConnectError, FileNotFoundError) as exc:
            raise DaemonNotRunning(self.socket_path, str(exc)) from None


def _params(params: dict[str, Any]) -> dict[str, Any]:
    """Query parameters without the unset ones (None, empty lists)."""
    return {k: v for k, v in params.items() if v is not None and v != []}


def _parse_sse(lines: Iterator[str]) -> Iterator[Event]:
    data: list[str] = []
    for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            yield Event.model_validate(json.loads("\n".join(data)))
            data = []
