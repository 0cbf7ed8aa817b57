"""The model child: the pipeline's model work runs in a separate process, so a llama.cpp crash never
takes down capture or the API.

The child opens its own connection to the store (SQLite in WAL mode keeps
the two processes apart), loads the LLM and the embedder once, and runs
queue passes (pipeline/queue.py) when the daemon wakes it. The queue
commits each try of a segment before the model starts on it, so a child
that dies mid-segment has used up one try: the daemon restarts it with a
doubling delay, the next pass redoes the segment, and a segment that kills
the child every time is quarantined after `worker_max_tries` tries
(quarantine.record_crashes) instead of crashing it forever.

Messages are small tuples over a multiprocessing pipe:
parent -> child: ("run", flush) | ("stop",)
child -> parent: ("ready", info) | ("begin", key) | ("pass", summary) | ("fatal", message)
If the daemon dies (kill -9), the pipe closes and the child exits at once:
its unfinished segment is redone by the next daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from tacitd.memory.types import utcnow

from .config import Settings
from .logs import setup_logging

log = logging.getLogger("tacit.worker")

# Test-only fault injection, read only in the child, once a segment's try has begun (never set in real use):
# "exit": os._exit(70) each time; "segv": SIGSEGV each time, as a llama.cpp crash; "once": SIGSEGV on the
# first segment only (a marker file in the data dir remembers it); "hang": a model call that never returns.
FAULT_ENV = "TACIT_TEST_WORKER_FAULT"
KEEP_CALLS = 100  # model calls' stats kept in the child between passes
EXIT_UNREACHABLE = 69  # EX_UNAVAILABLE: the model server did not answer; the daemon restarts the child with backoff


# -- the child ----------------------------------------------------------------------------------------


class _Stop(Exception):
    """Raised between segments when the daemon asked the child to stop."""


def child_main(settings: Settings, conn: Connection) -> None:
    """Entry point of the model child (multiprocessing spawn)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the daemon's to handle
    faulthandler.enable()  # a llama.cpp crash (SIGSEGV, SIGABRT) leaves the Python stack in the log
    setup_logging(settings.daemon.log_level)
    from tacitd.models.errors import ModelUnreachable

    try:
        pipeline, info = _load(settings)
    except ModelUnreachable as exc:  # a model server that is down may come back: exit, and be restarted with backoff
        log.error("%s", exc)
        sys.exit(EXIT_UNREACHABLE)
    except Exception as exc:  # a missing model or a bad store: restarting will not help, say why and stop
        conn.send(("fatal", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", info))
    wake, stop = threading.Event(), threading.Event()
    flush = [False]
    threading.Thread(target=_listen, args=(conn, wake, stop, flush), daemon=True, name="parent-pipe").start()
    while not stop.is_set():
        wake.wait()
        wake.clear()
        if stop.is_set():
            break
        conn.send(("pass", _one_pass(pipeline, settings, conn, stop, flush[0])))
        flush[0] = False


def _listen(conn: Connection, wake: threading.Event, stop: threading.Event, flush: list[bool]) -> None:
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            os._exit(0)  # the daemon is gone: its successor redoes the unfinished segment
        if message[0] == "stop":
            stop.set()
            wake.set()
            return
        flush[0] = flush[0] or bool(message[1])
        wake.set()


def _load(settings: Settings) -> tuple[Any, dict[str, Any]]:
    from tacitd.memory.store import Store
    from tacitd.models.errors import ModelError

    from .backends import build_embedder, build_llm
    from .ops import embed_for
    from .pipeline.run import Pipeline

    start = time.perf_counter()
    store = Store(settings.db_path)
    llm = build_llm(settings.models, nice=19)  # capture, the API and the user's own work come first
    llm.load()  # a corrupt model is fatal here, before any segment is charged a try (not quarantined one by one)
    try:
        embedder = build_embedder(settings.models)
    except ModelError as exc:
        log.warning("no embedder, propositions get no vectors: %s", exc)
        embedder = None
    pipeline = Pipeline(store, llm, lambda text: embed_for(store, embedder, text), user=settings.daemon.user_name)
    return pipeline, {"model": llm.name, "load_s": round(time.perf_counter() - start, 2), "pid": os.getpid()}


def _one_pass(pipeline: Any, settings: Settings, conn: Connection, stop: threading.Event,
              flush: bool) -> dict[str, Any]:
    from .pipeline import queue
    from .pipeline.quarantine import RetryPolicy
    from .pipeline.run import Learned

    params = queue.PipelineParams(retry=RetryPolicy(max_tries=settings.daemon.worker_max_tries))
    calls_before = len(pipeline.llm.usage.calls)
    fault = os.environ.get(FAULT_ENV)

    def step(screened: Any) -> queue.Outcome:
        conn.send(("begin", screened.segment.key))
        if fault:
            _fault_for_tests(fault, settings)
        return pipeline.step(screened)

    def after(key: str, state: str) -> None:
        if stop.is_set():
            raise _Stop

    start = time.perf_counter()
    report = queue.RunReport()
    with contextlib.suppress(_Stop):
        report = queue.run(pipeline.store, step, params, flush=flush, on_segment=after)
    calls = pipeline.llm.usage.calls[calls_before:]
    tokens, seconds = sum(c.completion_tokens for c in calls), sum(c.seconds for c in calls)
    # A child runs for weeks: what each pass recorded for a one-shot report must not pile up.
    pipeline.learned = Learned()
    del pipeline.llm.usage.calls[:-KEEP_CALLS]
    return {**report.summary(), "finished_at": utcnow().isoformat(), "seconds": round(time.perf_counter() - start, 2),
            "llm_calls": len(calls), "tok_s": round(tokens / seconds, 2) if seconds else None}


def _fault_for_tests(mode: str, settings: Settings) -> None:
    if mode == "hang":
        threading.Event().wait()
    if mode == "once":
        marker = settings.data_dir / "test-worker-crashed"
        if marker.exists():
            return
        marker.touch()
        mode = "segv"
    if mode == "exit":
        os._exit(70)
    os.kill(os.getpid(), signal.SIGSEGV)


# -- the daemon's side ------------------------------------------------------------------------------


@dataclass
class WorkerStatus:
    state: str = "starting"  # off | starting | idle | busy | restarting | stopped
    reason: str = ""
    pid: int | None = None
    model: str | None = None
    load_s: float | None = None
    tok_s: float | None = None
    passes: int = 0
    current_segment: str | None = None
    last_batch: dict[str, Any] | None = None
    crashes: int = 0
    last_crash: dict[str, Any] | None = None
    restart_at: datetime | None = None
    history: list[str] = field(default_factory=list)  # the last few crashes, one line each

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "restart_at"}
        out["restart_at"] = self.restart_at.isoformat() if self.restart_at else None
        return out


class ModelWorker:
    """Starts the model child, wakes it, restarts it with backoff when it dies, and stops it."""

    def __init__(self, settings: Settings, on_batch: Callable[[dict[str, Any]], None] | None = None,
                 release: Callable[[str], None] | None = None):
        """`on_batch` hears of each pass that handled segments; `release(key)` takes back the try of a
        segment whose child was killed by `stop` (a shutdown is not the segment's fault)."""
        self.settings = settings
        self._on_batch, self._release = on_batch, release
        self.status = WorkerStatus()
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._stopping = False
        self._then: str | None = None  # what follows an exit we asked for: "restart" (new settings) or "off"
        self._delay = settings.daemon.worker_backoff_s
        self._started_at = 0.0
        self._restart: asyncio.TimerHandle | None = None
        self._pending_flush: bool | None = None  # a wake that came while the child was not ready (or held)
        self._held = 0  # `paused` blocks nesting: no new pass while > 0
        self._exited = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # never fork a process that has threads and an event loop
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=child_main, args=(self.settings, child), name="tacit-model", daemon=True)
        proc.start()
        child.close()
        self._proc, self._conn, self._started_at = proc, parent, time.monotonic()
        self._exited.clear()
        self.status.state, self.status.pid, self.status.reason = "starting", proc.pid, "loading the model"
        loop = asyncio.get_running_loop()
        loop.add_reader(parent.fileno(), self._on_readable)
        loop.add_reader(proc.sentinel, self._on_exit)
        log.info("model child started (pid %s)", proc.pid)

    def wake(self, flush: bool = False) -> None:
        """Ask for a pass over the queue; coalesced with one already asked for (and held while `paused`)."""
        if not self._held and self.status.state in ("idle", "busy") and self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(("run", flush))
                return
        self._pending_flush = bool(self._pending_flush) or flush

    @contextlib.asynccontextmanager
    async def paused(self, wait_s: float = 900.0) -> AsyncIterator[None]:
        """No new pass while inside; enters once the current segment is done (or after `wait_s`).

        For the daemon's long writes (retention's gc): the child's commit would otherwise wait behind
        them past the busy timeout and fail its segment's try.
        """
        self._held += 1
        try:
            deadline = time.monotonic() + wait_s
            while self.status.state == "busy" and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            yield
        finally:
            self._held -= 1
            if not self._held and self._pending_flush is not None:
                flush, self._pending_flush = self._pending_flush, None
                self.wake(flush)

    def _on_readable(self) -> None:
        conn = self._conn
        try:
            while conn is not None and conn.poll():
                self._handle(conn.recv())
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(conn.fileno())

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind, body = message[0], message[1] if len(message) > 1 else None
        s = self.status
        if kind == "ready":
            s.state, s.reason, s.model, s.load_s = "idle", "", body["model"], body["load_s"]
            log.info("model %s ready in %.1f s", body["model"], body["load_s"])
            if self._pending_flush is not None:
                flush, self._pending_flush = self._pending_flush, None
                self.wake(flush)
        elif kind == "begin":
            s.state, s.current_segment = "busy", body
            log.debug("segment %s: started", body)
        elif kind == "pass":
            s.state, s.current_segment, s.passes = "idle", None, s.passes + 1
            if body["segments"]:
                s.last_batch = body
                if self._on_batch is not None:
                    self._on_batch(body)
                log.info("pass: %s segment(s), %s processed, %s quarantined, %s proposition(s) written in %.1f s",
                         body["segments"], body["processed"], body["quarantined"], body["propositions_written"],
                         body["seconds"])
            s.tok_s = body["tok_s"] if body["tok_s"] is not None else s.tok_s
            if time.monotonic() - self._started_at >= self.settings.daemon.worker_max_backoff_s:
                self._delay = self.settings.daemon.worker_backoff_s  # it has stayed up: the next crash starts over
        elif kind == "fatal":
            s.state, s.reason = "off", f"cannot load the model: {body}"
            log.error("model child: %s; the pipeline is off until the config is fixed (SIGHUP reloads)", body)

    def _on_exit(self) -> None:
        loop = asyncio.get_running_loop()
        proc, conn = self._proc, self._conn
        assert proc is not None and conn is not None
        loop.remove_reader(proc.sentinel)
        self._on_readable()  # what it said before it died
        with contextlib.suppress(Exception):
            loop.remove_reader(conn.fileno())
        conn.close()
        proc.join(2)  # the sentinel closes just before the child can be reaped: a moment
        self._exited.set()
        code = proc.exitcode
        s = self.status
        s.pid = None
        if self._stopping or s.state == "off":
            s.state = "stopped" if self._stopping else s.state
            return
        if self._then is not None:
            then, self._then = self._then, None
            if then == "restart":
                self.start()
            else:
                self.disable()
            return
        segment = s.current_segment
        self._record_crash(code)
        s.state, s.restart_at = "restarting", utcnow() + timedelta(seconds=self._delay)
        s.reason = f"restarting in {self._delay:.1f} s after a crash"
        log.error("model child died (%s) %s; restarting in %.1f s", s.last_crash["how"] if s.last_crash else code,
                  f"during segment {segment}" if segment else "between segments", self._delay)
        self._restart = loop.call_later(self._delay, self._restart_now)
        self._delay = min(self._delay * 2, self.settings.daemon.worker_max_backoff_s)
        if segment is not None:
            self._pending_flush = bool(self._pending_flush)  # retry the segment soon after the restart

    def _record_crash(self, code: int | None) -> None:
        s = self.status
        how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit status {code}"
        s.crashes += 1
        s.last_crash = {"at": utcnow().isoformat(), "exitcode": code, "how": how, "segment": s.current_segment}
        s.history = [*s.history[-4:], f"{s.last_crash['at']} {how} (segment {s.current_segment})"]
        s.current_segment = None

    def _restart_now(self) -> None:
        self._restart = None
        if not self._stopping:
            self.start()

    async def stop(self, timeout_s: float) -> None:
        """Ask the child to stop after its segment; kill it when that takes longer than `timeout_s`.

        A killed segment stays open and the next daemon redoes it.
        """
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()
        proc = self._proc
        if proc is None or not proc.is_alive():
            self.status.state = "stopped"
            return
        with contextlib.suppress(OSError):
            assert self._conn is not None
            self._conn.send(("stop",))
        try:
            await asyncio.wait_for(self._exited.wait(), timeout_s)
        except TimeoutError:
            log.warning("model child still busy after %.1f s; killing it (its segment is redone next time)",
                        timeout_s)
            segment = self.status.current_segment
            proc.kill()
            await asyncio.wait_for(self._exited.wait(), 5)
            if segment is not None and self._release is not None:
                try:
                    self._release(segment)
                except Exception:
                    log.exception("could not take back the interrupted try of segment %s", segment)
        self.status.state = "stopped"

    def disable(self, reason: str = "[daemon] pipeline = false") -> None:
        """No model child (the pipeline is switched off); capture and the API go on."""
        self.status.state, self.status.reason, self.status.pid = "off", reason, None

    def reload(self, settings: Settings) -> None:
        """New settings: the child finishes its segment and exits; it starts again with them if the pipeline
        is still on. A child that was off (switched off, or its model failed to load) starts if it may."""
        changed = (settings.models, settings.daemon, settings.data_dir) != \
            (self.settings.models, self.settings.daemon, self.settings.data_dir)
        self.settings = settings
        self._delay = settings.daemon.worker_backoff_s
        if self._stopping:
            return
        if self._restart is not None:  # waiting to restart after a crash: do it with the new settings
            self._restart.cancel()
            self._restart = None
        alive = self._proc is not None and self._proc.is_alive()
        if alive and (changed or not settings.daemon.pipeline):
            self._then = "restart" if settings.daemon.pipeline else "off"
            with contextlib.suppress(OSError):
                assert self._conn is not None
                self._conn.send(("stop",))
        elif not alive and settings.daemon.pipeline:
            self.start()
        elif not alive:
            self.disable()
