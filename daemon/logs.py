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

When the pump fails, it says so rather than losing the log silently:
- at start, it answers `ready` only once the file is open; `LogPump` waits
  for that (READY_S) and otherwise raises LogFileError, one line naming the
  file, before the daemon has started anything (`tacit daemon` exits 1);
- later (killed, out of memory): it is not restarted (the model child would
  keep writing into the dead pipe anyway), but a thread waiting on it notes
  when, appends one line saying so to the file, and `LogPump.status()` puts
  it in the daemon's status (`tacit status`: `log: …`); restarting the
  daemon brings the log back;
- a write that fails (a full disk) loses that line: the pump counts such
  lines and says so on its own stderr at most once a minute, one line (not
  a traceback per line: under `tacit start` that stderr is a file too), and
  in the file once writing works again.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, BinaryIO

QUIET = ("uvicorn.access", "apscheduler", "httpx", "httpcore", "watchdog")
MAX_LINE = 64 * 1024  # a longer run without a newline is cut into lines of this size
PIPE_BYTES = 1 << 20  # the most an unprivileged process may ask for (/proc/sys/fs/pipe-max-size)
PUMP_EXIT_S = 2.0  # how long an exiting daemon waits for the pump to write what it printed
READY_S = 5.0  # how long the daemon waits for the pump to open the file
REPORT_EVERY_S = 60.0  # the pump's complaints about failed writes, at most this often


class LogFileError(Exception):
    """The log file cannot be written (one line for the user, naming the file)."""


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


class _Handler(RotatingFileHandler):
    """A RotatingFileHandler whose failed writes are counted, not each printed as a traceback."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lost = 0  # lines not written since the last report
        self._reported = -REPORT_EVERY_S
        self._failed = False

    def emit(self, record: logging.LogRecord) -> None:
        self._failed = False
        super().emit(record)  # calls handleError on failure
        if not self._failed and self.lost:
            lost, self.lost = self.lost, 0
            super().emit(logging.makeLogRecord({"msg": f"tacit log: writing failed for {lost} line(s) before "
                                                       "this point; some or all of them are missing"}))

    def handleError(self, record: logging.LogRecord) -> None:
        self._failed = True
        self.lost += 1
        now = time.monotonic()
        if now - self._reported >= REPORT_EVERY_S:
            self._reported = now
            with contextlib.suppress(Exception):
                sys.stderr.write(f"tacit log pump: cannot write {self.baseFilename} ({sys.exc_info()[1]}); "
                                 f"{self.lost} line(s) lost so far, reported at most once a minute\n")
                sys.stderr.flush()


def pump(path: Path, source: BinaryIO, max_bytes: int, backups: int, marker: bytes = b"",
         acks: BinaryIO | None = None) -> None:
    """Copy lines from `source` into `path`, rotated at `max_bytes`, until every writer has closed its end.

    Answers `ready` on `acks` once the file is open (raises OSError if it cannot be). A line equal to
    `marker` is not copied: it is answered on `acks` once all before it is in the file; an empty line just
    before it is dropped too (the daemon sends one, in case its last output did not end its line).
    """
    os.umask(0o077)  # the files it creates on rotation, like the first one, are 0600
    handler = _Handler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", errors="backslashreplace")
    if handler.stream is not None and stat.S_ISREG(os.fstat(handler.stream.fileno()).st_mode):
        os.fchmod(handler.stream.fileno(), 0o600)  # a file an older tacit left with the umask's mode
    handler.setFormatter(logging.Formatter("%(message)s"))
    _ack(acks, b"ready\n")
    blank = False  # an empty line held back: it may be the one before a marker
    for raw in iter(lambda: source.readline(MAX_LINE), b""):
        if marker and raw == marker:
            blank = False
            _ack(acks, b"written\n")
            continue
        if blank:
            handler.emit(logging.makeLogRecord({"msg": ""}))
        blank = raw == b"\n"
        if not blank:
            handler.emit(logging.makeLogRecord({"msg": raw.decode("utf-8", "backslashreplace").removesuffix("\n")}))
    if blank:
        handler.emit(logging.makeLogRecord({"msg": ""}))
    with contextlib.suppress(OSError):  # its last flush, on a full disk
        handler.close()


def _ack(acks: BinaryIO | None, what: bytes) -> None:
    if acks is not None:
        with contextlib.suppress(OSError):
            acks.write(what)
            acks.flush()


def pump_main() -> None:
    """`python -c …` entry point: the pump process (argv: path, max bytes, backups, marker)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # it ends when the daemon's output does
        signal.signal(sig, signal.SIG_IGN)
    path, max_bytes, backups, marker = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    try:
        pump(path, sys.stdin.buffer, max_bytes, backups, f"{marker}\n".encode(), sys.stdout.buffer)
    except OSError as exc:  # the file cannot be opened: the daemon says so, in one line
        _ack(sys.stdout.buffer, f"failed {exc}\n".encode())
        raise SystemExit(1) from None


class LogPump:
    """This process's stdout and stderr, and those of the children it starts, into a rotated file."""

    def __init__(self, path: Path, max_mb: float, backups: int, ready_s: float = READY_S):
        """`max_mb` per file, `backups` rotated files kept ([daemon] log_max_mb and log_backups).

        Raises LogFileError, with nothing redirected, when the file cannot be written.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogFileError(f"cannot write the log file {path}: {exc.strerror or exc}") from None
        self.path = path
        self.gone: str | None = None  # why and since when the pump no longer writes, once it has exited
        self._closing = False
        self._marker = f"tacit-log-written-{secrets.token_hex(8)}"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tacitd.daemon.logs import pump_main; pump_main()",
             str(path), str(max(1, int(max_mb * 2**20))), str(backups), self._marker],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # a crash's traceback: to the stderr it found
        self._wait_ready(ready_s)
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
        threading.Thread(target=self._watch, name="log-pump-watch", daemon=True).start()
        atexit.register(self.close)  # after an uncaught traceback or click's error line is printed

    def _wait_ready(self, timeout_s: float) -> None:
        """The pump's first answer: `ready`, or why it could not open the file; else it is stopped here."""
        assert self.proc.stdout is not None
        answered = select.select([self.proc.stdout], [], [], timeout_s)[0]
        answer = self.proc.stdout.readline() if answered else b""
        if answer == b"ready\n":
            return
        self.proc.kill()
        code = self.proc.wait()
        for end in (self.proc.stdin, self.proc.stdout):
            if end is not None:
                end.close()
        if answer:
            why = answer.decode("utf-8", "replace").removeprefix("failed ").strip()
        elif answered:
            why = f"the log pump exited with status {code} before it opened it"
        else:
            why = f"the log pump did not open it within {timeout_s:g} s"
        raise LogFileError(f"cannot write the log file {self.path}: {why}")

    def _watch(self) -> None:
        """Wait for the pump; if it exits while we still run, say so in the file and in `status()`."""
        code = self.proc.wait()
        if self._closing:
            return
        when = datetime.now(UTC)
        self.gone = (f"the log pump exited (status {code}) at {when.isoformat(timespec='seconds')}; nothing is "
                     "written to the log since, until the daemon is restarted")
        record = logging.makeLogRecord({"msg": self.gone, "levelno": logging.ERROR, "levelname": "ERROR",
                                        "name": "tacit.log", "created": when.timestamp()})
        with contextlib.suppress(OSError), open(self.path, "a", encoding="utf-8") as fh:
            fh.write(LogfmtFormatter().format(record) + "\n")

    def status(self) -> dict[str, Any]:
        """For the daemon's status: the file, and whether it is still written."""
        return {"file": str(self.path), "ok": self.gone is None, "error": self.gone}

    def close(self, timeout_s: float = PUMP_EXIT_S) -> None:
        """Wait until what we printed is in the file, then let go of the pipe.

        Not until the pump exits: that is when every holder of the pipe has gone, and multiprocessing's
        resource tracker holds it until after this process exits.
        """
        self._closing = True
        with contextlib.suppress(ValueError, OSError):
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(2, f"\n{self._marker}\n".encode())  # the newline ends a last line that had none
            assert self.proc.stdout is not None
            if select.select([self.proc.stdout], [], [], timeout_s)[0]:
                self.proc.stdout.readline()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
