"""One Store per thread, for the API's thread pool.

A Store serialises its callers on one connection lock (memory/db.py). The
routes run on up to `server.API_THREADS` pool threads; sharing one Store
would queue every search behind the others, while SQLite in WAL mode lets
separate connections read side by side (writers still take turns, in
SQLite).
Stores are opened on a thread's first call and all closed by `close()`.
`bench/api.py --json` measures this against one shared Store.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from tacitd.memory.store import Store
from tacitd.models.embed import Embedder

from ..config import Settings
from ..ops import embed_for


class ThreadStores:
    """A Store per live thread. The pool retires idle threads and starts new ones, so each new thread's
    first call closes the Stores of threads that have ended: open connections never outnumber live threads.

    API writes are acknowledged as durable, so these connections commit with `synchronous = FULL`: a
    commit survives a power cut too, not only a crash of tacit (WAL with NORMAL, the store's default,
    may lose the last commits to a power cut).
    """

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._by_thread: dict[threading.Thread, Store] = {}
        self._lock = threading.Lock()
        self._closed = False

    def __call__(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self._open()
        return store

    def _open(self) -> Store:
        with self._lock:
            if self._closed:
                raise RuntimeError("the API's stores are closed")
            ended = [t for t in self._by_thread if not t.is_alive()]
            for thread in ended:
                self._by_thread.pop(thread).close()
            store = Store(self.path)
            store.db.execute("PRAGMA synchronous = FULL")  # before any other thread can see it
            self._by_thread[threading.current_thread()] = store
            return store

    @property
    def open_count(self) -> int:
        return len(self._by_thread)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            stores, self._by_thread = list(self._by_thread.values()), {}
        for store in stores:
            store.close()


class LocalServices:
    """The API's Services over a data dir, without the daemon's runtime: no observers, no model child.

    For tests and benchmarks that serve `create_app` on their own; the
    daemon's Services (daemon/runtime.py) adds its status and pipeline.
    One lock around the embedder: llama.cpp contexts are not thread-safe.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.stores = ThreadStores(settings.db_path)
        self.embedder = embedder
        self._embed_lock = threading.Lock()
        self.wakes = 0

    def store(self) -> Store:
        return self.stores()

    def embed(self, text: str, query: bool = False) -> np.ndarray | None:
        with self._embed_lock:
            return embed_for(self.store(), self.embedder, text, query)

    def status(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "worker": "none", "observers": []}

    def wake_pipeline(self) -> None:
        self.wakes += 1

    def close(self) -> None:
        self.stores.close()
