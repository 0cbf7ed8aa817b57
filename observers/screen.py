"""The screen observer: capture, skip what did not change, OCR only what did.

Per frame: grab all monitors with mss; compare a downscaled greyscale copy
with the previous one; if nothing changed, stop there. Otherwise OCR the
changed region (the whole frame when most of it changed), drop lines the
previous frames already gave, and emit the rest with per-stage timings.
Nothing at all happens while tacit is paused; capture also stops while the
user is idle, a frame showing an excluded window is dropped before capture,
and a frame during which the desktop changed is retaken or dropped.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

from tacitd.memory.types import Observation, utcnow

from .base import Observer, Sink
from .platform import Desktop
from .privacy import PrivacyFilter, WindowInfo

Reader = Callable[[Image.Image], str]
SCALE = 8  # change detection works on a 1/8-size greyscale copy
DIFF_THRESHOLD = 12  # grey levels; below is noise (cursor blink, anti-aliasing)
FULL_FRAME_SHARE = 0.5  # OCR the whole frame when more than this share changed


def grab(monitor_index: int = 0) -> Image.Image:
    import mss

    with mss.MSS() as sct:
        shot = sct.grab(sct.monitors[monitor_index])  # 0: all monitors together
        return Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")


def changed_box(prev: np.ndarray | None, cur: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of changed cells on the small image, or None."""
    if prev is None or prev.shape != cur.shape:
        return 0, 0, cur.shape[1], cur.shape[0]
    mask = np.abs(cur.astype(np.int16) - prev.astype(np.int16)) > DIFF_THRESHOLD
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@dataclass(frozen=True)
class DesktopState:
    """What was on screen around a capture: the windows (in stacking order) and the active one."""

    windows: tuple[WindowInfo, ...]
    active: WindowInfo | None


def _identity(window: WindowInfo | None) -> str | None:
    """Which window is active, as far as the platform tells: its app (a title may tick)."""
    return window.app if window else None


@dataclass
class Frame:
    captured_at: datetime
    image: Image.Image
    small: np.ndarray
    text: str
    full: bool
    region: tuple[int, int]
    timings: dict[str, float]


class ScreenObserver(Observer):
    name = "screen"

    def __init__(self, sink: Sink, privacy: PrivacyFilter, reader: Reader, desktop: Desktop | None,
                 interval_s: float = 5.0, idle_after_s: float = 120.0, capture: Callable[[], Image.Image] = grab,
                 keep_screenshots_dir: Path | None = None, keep_ttl: timedelta | None = None):
        super().__init__(sink, privacy)
        self.reader, self.desktop, self.capture = reader, desktop, capture
        self.interval_s, self.idle_after_s = interval_s, idle_after_s
        self.keep_dir, self.keep_ttl = keep_screenshots_dir, keep_ttl
        self._small: np.ndarray | None = None
        self._recent_lines: deque[set[str]] = deque(maxlen=3)
        self.stats = {"frames": 0, "unchanged": 0, "idle": 0, "paused": 0, "excluded": 0, "unstable": 0,
                      "ocr_full": 0, "ocr_region": 0}
        self.last_timings: dict[str, float] = {}

    def poll(self) -> None:
        self.observe_frame()

    def once(self) -> Observation | None:
        return self.observe_frame()

    def observe_frame(self) -> Observation | None:
        """One capture cycle; returns what was emitted, if anything.

        Pause comes first: while paused nothing is captured, read or written. The desktop is
        read before the capture and again right after it, before OCR. The frame is dropped
        when an excluded window shows in either reading (one may appear between the check and
        the capture), and retaken once when the active window changed in between (focus moved
        during the capture), so text goes to the window that was active when it was captured.
        Other windows' titles may change freely (a player's clock, "Inbox (3)", a running
        terminal): what the frame shows of them is attributed to no one but the active window.
        """
        if self.privacy.paused():
            self.stats["paused"] += 1
            return None
        if self.desktop and (idle := self.desktop.idle_seconds()) is not None and idle > self.idle_after_s:
            self.stats["idle"] += 1
            return None
        for _ in range(2):
            before = self._desktop_state()
            if self._blocked(before):
                return None
            t0, captured_at = time.perf_counter(), utcnow()
            image = self.capture()
            capture_ms = (time.perf_counter() - t0) * 1000
            after = self._desktop_state()
            if self._blocked(after):
                return None
            if _identity(after.active) != _identity(before.active):
                self.stats["unstable"] += 1
                continue
            frame = self._read(image, captured_at, capture_ms)
            return None if frame is None else self._commit(frame, after)
        return None

    def _blocked(self, state: DesktopState) -> bool:
        if not self.privacy.blocks_frame(state.windows):
            return False
        self.stats["excluded"] += 1
        self._small = None  # so the next allowed frame is read whole
        return True

    def _desktop_state(self) -> DesktopState:
        if self.desktop is None:
            return DesktopState((), None)
        return DesktopState(tuple(self.desktop.windows()), self.desktop.active_window())

    def _read(self, image: Image.Image, captured_at: datetime, capture_ms: float) -> Frame | None:
        """OCR what changed in a captured image since the last kept frame; None when nothing did."""
        t1 = time.perf_counter()
        small = np.asarray(image.convert("L").resize((max(1, image.width // SCALE), max(1, image.height // SCALE))))
        box = changed_box(self._small, small)
        t2 = time.perf_counter()
        self.stats["frames"] += 1
        self.last_timings = {"capture_ms": capture_ms, "diff_ms": (t2 - t1) * 1000}
        if box is None:
            self.stats["unchanged"] += 1
            return None
        region, full = self._region(image, small, box)
        text = self.reader(region)
        t3 = time.perf_counter()
        self.stats["ocr_full" if full else "ocr_region"] += 1
        self.last_timings[f"ocr_{'full' if full else 'region'}_ms"] = (t3 - t2) * 1000
        return Frame(captured_at, image, small, text, full, (region.width, region.height), self.last_timings)

    def _commit(self, frame: Frame, state: DesktopState) -> Observation | None:
        """A frame taken on a steady desktop: keep its change baseline, its lines and (if asked) its PNG."""
        if self.privacy.paused():  # paused while the frame was being read
            return None
        self._small = frame.small
        self._keep(frame.image, frame.captured_at)
        t0 = time.perf_counter()
        text = self.privacy.redact(frame.text)  # whole frame at once: a secret split over lines is seen whole
        frame.timings["redact_ms"] = (time.perf_counter() - t0) * 1000
        new_lines = self._new_lines(text)
        if not new_lines:
            return None
        active = state.active
        obs = Observation(
            observer="screen", app=active.app if active else None, window_title=active.title if active else None,
            url=active.url if active else None, text="\n".join(new_lines), captured_at=frame.captured_at,
            meta={"timings_ms": {k: round(v, 1) for k, v in frame.timings.items()}, "full_frame": frame.full,
                  "region": list(frame.region)},
        )
        return self.emit(obs, state.windows)

    def _region(self, frame: Image.Image, small: np.ndarray, box: tuple[int, int, int, int]) -> tuple[Image.Image, bool]:
        x0, y0, x1, y1 = box
        share = (x1 - x0) * (y1 - y0) / small.size
        if share > FULL_FRAME_SHARE:
            return frame, True
        pad = 2  # small-image cells of margin, so glyphs cut by the box edge survive
        crop = (max(0, (x0 - pad) * SCALE), max(0, (y0 - pad) * SCALE),
                min(frame.width, (x1 + pad) * SCALE), min(frame.height, (y1 + pad) * SCALE))
        return frame.crop(crop), False

    def _new_lines(self, text: str) -> list[str]:
        lines = [" ".join(line.split()) for line in text.splitlines()]
        lines = [line for line in lines if len(line) > 1]
        seen = set().union(*self._recent_lines) if self._recent_lines else set()
        self._recent_lines.append(set(lines))
        return [line for line in dict.fromkeys(lines) if line not in seen]

    def _keep(self, frame: Image.Image, when: datetime) -> None:
        """Only when the user set keep_screenshots: 0600 files, deleted after their TTL."""
        if self.keep_dir is None or self.keep_ttl is None:
            return
        self.keep_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.keep_dir / f"{when:%Y%m%dT%H%M%S%f}.png"
        with open(path, "wb", opener=lambda p, flags: os.open(p, flags, 0o600)) as fh:
            frame.save(fh, format="PNG")
        prune_screenshots(self.keep_dir, when - self.keep_ttl)


def prune_screenshots(folder: Path, older_than: datetime) -> int:
    """Delete the kept screenshots written before `older_than`; how many went (also run by `tacit gc`)."""
    cutoff, gone = older_than.timestamp(), 0
    for old in folder.glob("*.png") if folder.is_dir() else ():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
            gone += 1
    return gone
