"""Serving the API on a Unix socket that only this user can reach.

Three layers keep other users out: the socket lives in a 0700 directory,
the socket file is 0600, and on Linux each connection's peer uid is read
with SO_PEERCRED and anything but our own uid is closed before a byte is
read. The check sits in `connection_made` of a uvicorn protocol subclass,
so it holds for every route, streaming ones included.

A client that opens a connection and never completes its request is cut
off after `HEADER_TIMEOUT_S`; bodies have their own deadline (limits.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import struct
import sys
import threading
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .paths import ENV_VAR, default_socket_path

__all__ = ["ServerThread", "SocketError", "default_socket_path", "serve_api"]

HEADER_TIMEOUT_S = 10.0
# Routes run on anyio's thread pool (40 threads by default), each thread with its own Store (stores.py) and
# so its own SQLite page cache. 4 keep that memory small; at 50 clients on 2 cores, 4 did as well as 8 and
# better than 2 (bench/api.py, TACIT_BENCH_API_THREADS), since the work queues on the CPU and the embedder.
API_THREADS = 4
log = logging.getLogger(__name__)


class SocketError(RuntimeError):
    """The socket cannot be served safely (wrong owner, in use); says what to do."""


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end, where the platform says (Linux); else None."""
    if sys.platform != "linux":
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


class PeerCheckedProtocol(H11Protocol):
    """uvicorn's h11 protocol, refusing peers of another uid and clients that never send a request."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        uid = peer_uid(sock) if sock is not None else None
        if uid is not None and uid != os.getuid():
            log.warning("refused a connection from uid %d", uid)
            transport.abort()
            return
        super().connection_made(transport)
        self._accepted = True
        self._deadline: asyncio.TimerHandle | None = self.loop.call_later(HEADER_TIMEOUT_S, self._too_slow)

    def data_received(self, data: bytes) -> None:
        """Each request's headers get HEADER_TIMEOUT_S from their first byte, keep-alive requests too."""
        super().data_received(data)
        waiting = self.conn.their_state is h11.IDLE  # a request's headers have begun but not ended
        if waiting and self._deadline is None:
            self._deadline = self.loop.call_later(HEADER_TIMEOUT_S, self._too_slow)
        elif not waiting and self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not getattr(self, "_accepted", False):
            return  # refused in connection_made: uvicorn never saw it
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)


def prepare_directory(directory: Path) -> None:
    """Create the socket's directory 0700; refuse an existing one that another user owns or can enter.

    An existing directory is never chmod-ed: TACIT_SOCKET=~/tacit.sock must not lock the user's home,
    nor a root daemon's /tmp/tacit.sock lock /tmp.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = directory.stat()
    if st.st_uid != os.getuid():
        raise SocketError(f"{directory} belongs to uid {st.st_uid}, not to you; set {ENV_VAR} to a path of yours")
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise SocketError(f"{directory} is open to other users (mode {stat.S_IMODE(st.st_mode):o}); the socket "
                          f"needs a private directory: set {ENV_VAR} to a path in a new or 0700 directory")


def bind_socket(path: Path) -> socket.socket:
    """A listening Unix socket at `path`, mode 0600 from the start (a stale socket file is replaced)."""
    prepare_directory(path.parent)
    if path.exists() or path.is_symlink():
        if _answers(path):
            raise SocketError(f"another tacit daemon is serving {path}; stop it first (`tacit stop`)")
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise SocketError(f"{path} exists and is not a socket; move it aside or set {ENV_VAR}")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # no moment where the socket file is open to others
    try:
        sock.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the daemon owns SIGTERM/SIGHUP and sets `stop` instead."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


def config(app: Any) -> uvicorn.Config:
    # log_config=None: uvicorn's loggers propagate to the daemon's handler (logfmt) instead of its own format.
    return uvicorn.Config(app, http=PeerCheckedProtocol, lifespan="off", log_level="warning", access_log=False,
                          timeout_keep_alive=30, timeout_graceful_shutdown=3, ws="none", log_config=None)


async def serve_api(app: Any, socket_path: Path, stop: asyncio.Event) -> None:
    """Serve `app` on `socket_path` until `stop` is set; the socket file is removed on the way out."""
    sock = bind_socket(socket_path)
    anyio.to_thread.current_default_thread_limiter().total_tokens = API_THREADS
    server = _Server(config(app))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        app.state.stopping = True  # event streams end (events.tail) instead of holding the shutdown up
        server.should_exit = True
        await serving
    finally:
        stopping.cancel()
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            socket_path.unlink()


class ServerThread:
    """serve_api on its own event loop in a thread: for tests, benchmarks and tools that are not the daemon."""

    def __init__(self, app: Any, socket_path: Path):
        self.app, self.socket_path = app, socket_path
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tacit-api", daemon=True)

    def start(self, timeout: float = 20.0) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(timeout) or self.error:
            raise SocketError(f"the API server did not start on {self.socket_path}: {self.error!r}")
        return self

    def _run(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            task = asyncio.create_task(serve_api(self.app, self.socket_path, self._stop))
            while not self.socket_path.exists() and not task.done():
                await asyncio.sleep(0.01)
            self._ready.set()
            await task

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start() and stop()
            self.error = exc
            self._ready.set()

    def stop(self, timeout: float = 15.0) -> None:
        if self._loop and self._stop and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self.error:
            raise self.error
