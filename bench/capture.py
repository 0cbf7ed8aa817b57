"""Screen-capture cost on a scripted Xvfb desktop where a small region changes every 2 s.

    python bench/capture.py --json [--seconds 60]

Reports per-frame milliseconds for capture, change detection, full-frame OCR,
changed-region OCR (both on the same changes) and redaction of the text read
(privacy filter, before storage), and the screen observer's
CPU seconds per minute at default settings: its own thread's CPU plus the
Tesseract processes it ran, scaled to 60 s. Xvfb's own CPU is the display
server's and is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from xdesktop import XServer  # noqa: E402

from tacitd.observers.ocr import TesseractReader  # noqa: E402
from tacitd.observers.platform import X11Desktop  # noqa: E402
from tacitd.observers.privacy import PrivacyFilter  # noqa: E402
from tacitd.observers.screen import ScreenObserver  # noqa: E402

PAGE = [
    "Sprint 42 planning - data platform team",
    "1. Migrate nightly ETL from Airflow to Dagster",
    "2. Add data contracts for the billing events",
    "3. Fix flaky Kafka consumer lag alerts",
    "4. Review dbt incremental models",
    "Notes: budget review on Thursday at 10:00",
]


def changer(server: XServer, stop: threading.Event, every_s: float = 2.0) -> None:
    """A clock widget whose text changes every `every_s` seconds (painted from this thread only)."""
    from PIL import Image, ImageDraw, ImageFont

    clock = server.show("Clock", "Clock", ["--:--:--"], x=900, y=700, width=360, height=80)
    font = ImageFont.load_default(size=28)
    n = 0
    while not stop.wait(every_s):
        n += 1
        image = Image.new("RGB", (360, 80), "white")
        ImageDraw.Draw(image).text((20, 20), f"Build {n} passed in {40 + n % 9}s", fill="black", font=font)
        server.paint(clock, image)


def ms(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else 0.0


def run(seconds: float) -> dict[str, object]:
    server = XServer()
    os.environ["DISPLAY"] = server.display_name
    server.show("plan.md - Editor", "Gedit", PAGE, width=880, height=420)
    desktop = X11Desktop(server.display_name)
    reader = TesseractReader()
    observer = ScreenObserver(lambda o: None, PrivacyFilter(), reader, desktop)  # default interval and idle
    stop = threading.Event()
    thread = threading.Thread(target=changer, args=(server, stop), daemon=True)
    thread.start()
    time.sleep(0.5)  # let the clock window appear before the first frame

    capture, diff, full, region, redact = [], [], [], [], []
    observer.observe_frame()  # first frame: read whole
    children0 = os.times()
    cpu0, wall0 = time.thread_time(), time.monotonic()
    while time.monotonic() - wall0 < seconds:
        observer.observe_frame()
        t = observer.last_timings
        capture.append(t["capture_ms"])
        diff.append(t["diff_ms"])
        if "ocr_region_ms" in t:
            region.append(t["ocr_region_ms"])
        if "redact_ms" in t:
            redact.append(t["redact_ms"])
        time.sleep(observer.interval_s)
    cpu = time.thread_time() - cpu0
    children = os.times()
    child_cpu = (children.children_user - children0.children_user) + (children.children_system - children0.children_system)
    wall = time.monotonic() - wall0

    for _ in range(5):  # full-frame OCR of the same screen, for comparison
        frame = observer.capture()
        start = time.perf_counter()
        reader(frame)
        full.append((time.perf_counter() - start) * 1000)
    stop.set()
    thread.join()
    desktop.close()
    server.stop()
    return {
        "seconds": round(wall, 1),
        "interval_s": observer.interval_s,
        "frames": observer.stats["frames"],
        "capture_ms": ms(capture),
        "change_detection_ms": ms(diff),
        "ocr_full_frame_ms": ms(full),
        "ocr_changed_region_ms": ms(region),
        "region_vs_full_ocr_ratio": round(ms(region) / ms(full), 3) if region and full else None,
        "redact_ms": ms(redact),
        "cpu_s_per_min": round((cpu + child_cpu) * 60 / wall, 2),
        "stats": observer.stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to observe")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()
    print(json.dumps(run(args.seconds), indent=None if args.json else 2))


if __name__ == "__main__":
    main()
