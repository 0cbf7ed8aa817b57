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
    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._all: list[Store] = []
        self._lock = threading.Lock()
        self._closed = False

    def __call__(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the API's stores are closed")
                store = self._local.store = Store(self.path)
                self._all.append(store)
        return store

    def close(self) -> None:
        with self._lock:
            self._closed = True
            stores, self._all = self._all, []
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
