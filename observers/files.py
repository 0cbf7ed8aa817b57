"""Files touched in the directories the user opted into: path, size and type, never content.

Paths from excluded contexts (a password vault, ~/.ssh, a private-browsing download folder,
a folder named after an excluded app) are dropped as the event arrives, and nothing is
queued while tacit is paused.
"""

from __future__ import annotations

import mimetypes
import threading
import time
from pathlib import Path

from tacitd.memory.types import Observation, utcnow

from .base import Observer, Sink
from .privacy import PrivacyFilter

IGNORED_PARTS = {".git", "node_modules", "__pycache__", ".cache", ".venv", "venv", ".mypy_cache",
                 ".pytest_cache", ".tox", ".idea", "dist", "build", ".DS_Store"}
IGNORED_SUFFIXES = (".tmp", ".swp", ".swx", ".part", ".crdownload", "~", ".lock", ".pyc")


def ignored(path: Path) -> bool:
    return bool(IGNORED_PARTS.intersection(path.parts)) or path.name.endswith(IGNORED_SUFFIXES) \
        or path.name.startswith(".#")


class FilesObserver(Observer):
    """watchdog events, debounced: a file saved ten times in a second is one observation."""

    name = "files"

    def __init__(self, sink: Sink, privacy: PrivacyFilter, paths: list[Path], debounce_s: float = 2.0,
                 interval_s: float = 1.0):
        super().__init__(sink, privacy)
        self.paths, self.debounce_s, self.interval_s = [Path(p).expanduser() for p in paths], debounce_s, interval_s
        self._pending: dict[Path, tuple[str, float]] = {}
        self.dropped = 0  # events refused as they arrived: paused, or an excluded path
        self._lock = threading.Lock()
        self._watcher = None

    def start_watching(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer as Watcher

        outer = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:  # noqa: ANN001
                if event.is_directory or event.event_type not in ("created", "modified", "moved"):
                    return
                path = Path(getattr(event, "dest_path", "") or event.src_path)
                if ignored(path):
                    return
                if outer.privacy.paused() or outer.privacy.excluded_path(path):
                    outer.dropped += 1
                    return
                with outer._lock:
                    outer._pending[path] = (event.event_type, time.monotonic())

        self._watcher = Watcher()
        for path in self.paths:
            if path.is_dir():
                self._watcher.schedule(Handler(), str(path), recursive=True)
        self._watcher.start()

    def poll(self) -> None:
        if self._watcher is None:
            self.start_watching()
        self.flush()

    def flush(self, now: float | None = None) -> list[Observation]:
        """Emit the events that have settled. While paused, drop what is queued instead."""
        now = time.monotonic() if now is None else now
        if self.privacy.paused():
            with self._lock:
                self._pending.clear()
            return []
        with self._lock:
            ready = {p: ev for p, ev in self._pending.items() if now - ev[1] >= self.debounce_s}
            for p in ready:
                del self._pending[p]
        out = []
        for path, (event, _) in ready.items():
            if self.privacy.excluded_path(path):
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue  # gone again: a temp file under another name
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            obs = Observation(observer="files", text=f"{event} {path}", captured_at=utcnow(),
                              meta={"path": str(path), "size": size, "type": kind, "event": event})
            if (passed := self.emit(obs)) is not None:
                out.append(passed)
        return out

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.join(timeout=5)
