"""One Store per thread, for the API's thread pool.

A Store serialises its callers on one connection lock (memory/db.py). The
routes run on up to 40 pool threads; sharing one Store would queue every
search behind the others, while SQLite in WAL mode lets separate
connections read side by side (writers still take turns, in SQLite).
Stores are opened on a thread's first call and all closed by `close()`.
"""

from __future__ import annotations

import threading
from pathlib import Path

from tacitd.memory.store import Store


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
