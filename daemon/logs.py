"""The daemon's log: one logfmt line per event on stderr (`time=… level=… logger=… msg="…"`).

logfmt reads as text in a terminal and parses as key=value pairs in the
journal or the log file `tacit start` appends to. Observation text and
search queries are never logged at INFO: the access log is kept at
WARNING, because request URLs carry queries (`/v1/search?q=…`).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

QUIET = ("uvicorn.access", "apscheduler", "httpx", "httpcore", "watchdog")


def _value(v: object) -> str:
    s = str(v)
    if s and not any(c in s for c in ' "=\n\t'):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        parts = [f"time={when}", f"level={record.levelname}", f"logger={record.name}",
                 f"pid={record.process}", f"msg={_value(record.getMessage())}"]
        if record.exc_info:
            parts.append(f"exc={_value(self.formatException(record.exc_info))}")
        return " ".join(parts)


def setup_logging(level: str = "INFO") -> None:
    """Route every logger (uvicorn's too) to one stderr handler at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
