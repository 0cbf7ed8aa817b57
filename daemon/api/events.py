"""/v1/events: server-sent events that tail the store's events table (memory/events.py).

Every process's changes land in that table through SQL triggers, so the
stream carries what the CLI did as well as what the daemon did. Each
stream polls it every `POLL_S` on a worker thread; an event's SSE id is
its row id, so a client that reconnects with Last-Event-ID misses nothing
that is still in the table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
from starlette.requests import Request

from tacitd.memory.store import Store

POLL_S = 0.25
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
    last = after
    while not stopping(request) and not await request.is_disconnected():
        batch = await anyio.to_thread.run_sync(lambda: store().events.after(last))
        for event in batch:
            last = event.id
            yield {"id": str(event.id), "event": event.kind, "data": event.model_dump_json()}
        if not batch:
            await anyio.sleep(POLL_S)
