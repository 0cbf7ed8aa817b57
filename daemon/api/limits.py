"""Request bodies over a size limit, or arriving too slowly, are refused before any route sees them.

A pure ASGI middleware: the body is read here, counted as it streams in
(a missing or false Content-Length cannot get past the count), and handed
to the app only when it is whole and within the limit.
"""

from __future__ import annotations

import json
from typing import Any

import anyio

MAX_BODY = 1 << 20  # bytes
BODY_TIMEOUT_S = 10.0  # to receive a whole body once the headers are in

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyLimit:
    def __init__(self, app: Any, limit: int = MAX_BODY, timeout_s: float = BODY_TIMEOUT_S):
        self.app, self.limit, self.timeout_s = app, limit, timeout_s

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await _refuse(send, 400, "Content-Length is not a number; nothing was changed")
            return
        if declared is not None and int(declared) > self.limit:
            await _refuse(send, 413, f"request body over {self.limit} bytes; nothing was changed")
            return
        chunks, size = [], 0
        try:
            with anyio.fail_after(self.timeout_s):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return  # the client went away
                    size += len(message.get("body", b""))
                    if size > self.limit:
                        await _refuse(send, 413, f"request body over {self.limit} bytes; nothing was changed")
                        return
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await _refuse(send, 408, f"request body not received within {self.timeout_s:.0f} s")
            return
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect

    return replay


async def _refuse(send: Any, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
