"""/v1/events: server-sent events that tail the store's events table (memory/events.py).

Every process's changes land in that table through SQL triggers, so the
stream carries what the CLI did as well as what the daemon did. Each
stream polls it on a worker thread, every `POLL_S` after an event and
backing off to `IDLE_POLL_S` while nothing happens; an event's SSE id is
its row id, so a client that reconnects with Last-Event-ID misses nothing
that is still in the table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
from starlette.requests import Request

from tacitd.memory.store import Store

POLL_S = 0.25  # right after an event
IDLE_POLL_S = 2.0  # the wait doubles up to this while nothing happens: idle streams cost little CPU
MAX_ID = 2**63 - 1


def parse_last_id(header: str | None) -> int | None:
    """The Last-Event-ID a reconnecting client sends, if it is one of ours (a row id SQLite can hold)."""
    if not header or not header.strip().isdigit():
        return None
    value = int(header)
    return value if value <= MAX_ID else None


def stopping(request: Request) -> bool:
    """Set by server.serve_api when the daemon stops: streams end so the shutdown does not wait on them."""
    return bool(getattr(request.app.state, "stopping", False))


async def tail(store: Callable[[], Store], after: int, request: Request) -> AsyncIterator[dict[str, str]]:
    """Events after `after`, as SSE messages, until the client goes away or the server stops."""
    last, wait = after, POLL_S
    while not stopping(request) and not await request.is_disconnected():
        batch = await anyio.to_thread.run_sync(lambda: store().events.after(last))
        for event in batch:
            last = event.id
            yield {"id": str(event.id), "event": event.kind, "data": event.model_dump_json()}
        wait = POLL_S if batch else min(wait * 2, IDLE_POLL_S)
        if not batch:
            await _sleep_unless_stopping(request, wait)


async def _sleep_unless_stopping(request: Request, seconds: float) -> None:
    """Sleep in POLL_S steps (no query, no thread), so a stopping server never waits a whole idle wait."""
    slept = 0.0
    while slept < seconds and not stopping(request):
        await anyio.sleep(POLL_S)
        slept += POLL_S
