"""An API server for tests: `create_app` over a small Services, served by uvicorn on a real Unix socket.

The daemon's own Services (daemon/runtime.py) is tested end to end with
tests/daemon_proc.py; this one lets API tests run without observers or a
model child, on the same socket code (server.serve_api) the daemon uses.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from tacitd.daemon import ops
from tacitd.daemon.api.app import create_app
from tacitd.daemon.api.server import serve_api
from tacitd.daemon.api.stores import ThreadStores
from tacitd.daemon.config import Settings, load_settings
from tacitd.memory.store import Store


class TestServices:
    """Services over a data dir and an optional real embedder (one lock: llama.cpp is not thread-safe)."""

    __test__ = False

    def __init__(self, data_dir: Path, embedder: Any = None):
        self.settings: Settings = load_settings(data_dir / "config.toml", data_dir=data_dir)
        self.stores = ThreadStores(self.settings.db_path)
        self.embedder = embedder
        self._embed_lock = threading.Lock()
        self.wakes = 0

    def store(self) -> Store:
        return self.stores()

    def embed(self, text: str, query: bool = False) -> np.ndarray | None:
        with self._embed_lock:
            return ops.embed_for(self.store(), self.embedder, text, query)

    def status(self) -> dict[str, Any]:
        return {"pid": 0, "observers": [], "worker": "test"}

    def wake_pipeline(self) -> None:
        self.wakes += 1


class ApiServer:
    """serve_api in a thread with its own event loop; `stop()` ends it and waits."""

    def __init__(self, services: Any, socket_path: Path | None = None):
        self._dir = Path(tempfile.mkdtemp(prefix="tacit-api-", dir="/tmp"))  # short: sun_path is 108 bytes
        self.socket_path = socket_path or self._dir / "run" / "tacit.sock"
        self.services = services
        self.app = create_app(services)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> ApiServer:
        self._thread.start()
        if not self._ready.wait(20) or self.error:
            raise RuntimeError(f"API server did not start: {self.error!r}")
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
        except BaseException as exc:  # reported by start() or stop()
            self.error = exc
            self._ready.set()

    def stop(self) -> None:
        if self._loop and self._stop and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        shutil.rmtree(self._dir, ignore_errors=True)
        if self.error:
            raise self.error
