"""Daemon threads for the TUI's calls to the daemon, so quitting never waits for a reply that is not coming."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class DaemonThreadPool(ThreadPoolExecutor):
    """Runs every call on a daemon thread of its own; `shutdown` waits for none of them.

    A ThreadPoolExecutor's threads are joined when asyncio's loop closes and
    again when Python exits, so one request to a daemon that took the
    connection and stopped answering (`kill -STOP`) held `tacit tui` for the
    client's 30 s timeout after `q`. It subclasses ThreadPoolExecutor because
    asyncio accepts nothing else as a loop's default executor (which Textual's
    thread workers run on). It has no bound of its own: `TacitApp.call` keeps
    one call per exclusive group out (the searches typed to a stopped daemon
    wait for the one out, not in a thread each), so the threads are a few.
    """

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to whoever awaits the future, as ThreadPoolExecutor does
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=run, name=self._thread_name_prefix or "tacit-call", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to wait for: each thread ends with its call, or with the process."""
