"""The daemon's log: one logfmt line per event on stderr (`time=… level=… logger=… msg="…"`).

logfmt reads as text in a terminal and parses as key=value pairs in the
journal or the log file. Observation text and search queries are never
logged at INFO: the access log is kept at WARNING, because request URLs
carry queries (`/v1/search?q=…`).

The log file (`tacit daemon --log-file`, what `tacit start` and the launchd
agent run) is bounded: `LogPump` points the daemon's stdout and stderr,
file descriptors 1 and 2, at a pipe, and a small process copies what comes
through it into a `RotatingFileHandler` (daemon.log, .1, .2; mode 0600).
Pointing the descriptors, not only Python's handlers, is what bounds what
native code writes (llama.cpp and ggml print to fd 2, and abort messages
come that way), in the daemon and in the model child, which inherits them.
A separate process, not a thread, so that the last words of a daemon that
crashes (a traceback, a fatal signal's dump) still reach the file.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import select
import signal
import subprocess
import sys
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import BinaryIO

QUIET = ("uvicorn.access", "apscheduler", "httpx", "httpcore", "watchdog")
MAX_LINE = 64 * 1024  # a longer run without a newline is cut into lines of this size
PIPE_BYTES = 1 << 20  # the most an unprivileged process may ask for (/proc/sys/fs/pipe-max-size)
PUMP_EXIT_S = 2.0  # how long an exiting daemon waits for the pump to write what it printed


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


# -- the bounded log file ----------------------------------------------------------------------------------


def pump(path: Path, source: BinaryIO, max_bytes: int, backups: int, marker: bytes = b"",
         acks: BinaryIO | None = None) -> None:
    """Copy lines from `source` into `path`, rotated at `max_bytes`, until every writer has closed its end.

    A line equal to `marker` is not copied: it is answered on `acks` once all before it is in the file.
    """
    os.umask(0o077)  # the files it creates on rotation, like the first one, are 0600
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8",
                                  errors="backslashreplace")
    handler.setFormatter(logging.Formatter("%(message)s"))
    for raw in iter(lambda: source.readline(MAX_LINE), b""):
        if marker and raw == marker and acks is not None:
            with contextlib.suppress(OSError):
                acks.write(b"written\n")
                acks.flush()
            continue
        line = raw.decode("utf-8", "backslashreplace").removesuffix("\n")
        handler.emit(logging.makeLogRecord({"msg": line}))  # a write error is printed, and the pump goes on
    handler.close()


def pump_main() -> None:
    """`python -c …` entry point: the pump process (argv: path, max bytes, backups, marker)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # it ends when the daemon's output does
        signal.signal(sig, signal.SIG_IGN)
    path, max_bytes, backups, marker = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    pump(path, sys.stdin.buffer, max_bytes, backups, f"{marker}\n".encode(), sys.stdout.buffer)


class LogPump:
    """This process's stdout and stderr, and those of the children it starts, into a rotated file."""

    def __init__(self, path: Path, max_mb: float, backups: int):
        """`max_mb` per file, `backups` rotated files kept ([daemon] log_max_mb and log_backups)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))  # fails here, not in the pump
        os.chmod(path, 0o600)  # a file an older tacit left with the umask's mode
        self.path = path
        self._marker = f"tacit-log-written-{secrets.token_hex(8)}"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tacitd.daemon.logs import pump_main; pump_main()",
             str(path), str(max(1, int(max_mb * 2**20))), str(backups), self._marker],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # its own errors: to the stderr it found
        assert self.proc.stdin is not None
        pipe = self.proc.stdin.fileno()
        with contextlib.suppress(ImportError, AttributeError, OSError):  # Linux: room for a burst; else 64 KiB
            import fcntl

            fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        # A pump that is gone makes writes fail (EPIPE; Python ignores SIGPIPE); one that is stuck would make
        # them wait: non-blocking, they fail instead (the lines are lost) and the daemon goes on.
        os.set_blocking(pipe, False)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(pipe, 1)
        os.dup2(pipe, 2)
        self.proc.stdin.close()
        atexit.register(self.close)  # after an uncaught traceback or click's error line is printed

    def close(self, timeout_s: float = PUMP_EXIT_S) -> None:
        """Wait until what we printed is in the file, then let go of the pipe.

        Not until the pump exits: that is when every holder of the pipe has gone, and multiprocessing's
        resource tracker holds it until after this process exits.
        """
        with contextlib.suppress(ValueError, OSError):
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(2, f"{self._marker}\n".encode())
            assert self.proc.stdout is not None
            if select.select([self.proc.stdout], [], [], timeout_s)[0]:
                self.proc.stdout.readline()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
