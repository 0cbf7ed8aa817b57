"""`tacit daemon`: one asyncio process that captures, serves and schedules; the model runs in a child.

In the process:
- the observers, under the observers' Supervisor, each poll in a worker
  thread, their sink storing and queueing what passed the privacy filter;
- the API (daemon/api/) on the Unix socket, with this class as its Services;
- APScheduler jobs: pipeline tick, stats refresh, confidence-decay
  bookkeeping, WAL checkpoint, nightly backup (VACUUM INTO, last N kept)
  and retention (gc, screenshots);
- the model child (worker.py), restarted with backoff when it dies.

SIGTERM (and Ctrl-C) drains: capture stops, the model child finishes its
segment or is killed after `stop_timeout_s` (the queue redoes an unfinished
segment), the API closes, and the process exits within 10 s. SIGHUP
reloads the config: log level, observers and privacy rules, jobs, model.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tacitd.memory import crypto
from tacitd.memory.db import DatabaseLocked
from tacitd.memory.store import Store
from tacitd.memory.types import Observation, SearchFilters, utcnow
from tacitd.models.errors import ModelError
from tacitd.observers.base import Supervisor

from . import ops
from .cli_storage import run_gc
from .config import Settings, load_settings
from .logs import LogPump, setup_logging
from .observe import build_observers
from .pipeline import stats
from .pipeline.queue import enqueue
from .worker import ModelWorker

log = logging.getLogger("tacit.daemon")
OBSERVERS = ("screen", "window", "input", "files")
FADED = 0.125  # recency weight after three half-lives
STATS_AFTER_BATCH_S = 20.0
UNSAVED_MAX = 1000  # observations held in memory while the database is busy
EXIT_BUDGET_S = 8.5  # SIGTERM to exit, before closing the stores and the interpreter's own exit
NOTEWORTHY = ("backup", "gc", "stats")  # jobs whose results are logged at INFO; the frequent ones at DEBUG


class Daemon:
    """The running daemon; also the API's `Services` (daemon/api/app.py)."""

    def __init__(self, settings: Settings, reload: Callable[[], Settings] | None = None,
                 log_pump: LogPump | None = None):
        from .api.stores import ThreadStores

        self.settings = settings
        self._log_pump = log_pump  # None: the log goes to the stderr we were given
        self._reload_settings = reload or (lambda: load_settings(data_dir=settings.data_dir))
        self._stores = ThreadStores(settings.db_path)
        self._embedder: Any = None
        self._embed_lock = threading.Lock()
        self._started_at = utcnow()
        self._stop = asyncio.Event()
        self.worker = ModelWorker(settings, on_batch=lambda _: self._stats_soon(),
                                  release=lambda key: self.store().queue.release_attempt(key))
        self.supervisor = Supervisor([])
        self._observer_notes: list[str] = []
        self._unsaved: deque[Observation] = deque(maxlen=UNSAVED_MAX)
        self._sink_lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._encryption: dict[str, Any] = {}
        self._config: dict[str, Any] = {"loaded_at": utcnow().isoformat(), "error": None}  # the last SIGHUP's fate

    # -- Services ---------------------------------------------------------------------------------

    def store(self) -> Store:
        return self._stores()

    def embed(self, text: str, query: bool = False) -> np.ndarray | None:
        with self._embed_lock:  # one llama.cpp context, shared by the API's threads and the jobs
            return ops.embed_for(self.store(), self._embedder, text, query)

    def wake_pipeline(self, flush: bool = False) -> None:
        loop = self._loop
        if threading.current_thread() is threading.main_thread():
            self.worker.wake(flush)
        else:
            loop.call_soon_threadsafe(self.worker.wake, flush)

    def status(self) -> dict[str, Any]:
        now = utcnow()
        return {
            "pid": os.getpid(),
            "started_at": self._started_at.isoformat(),
            "uptime_s": round((now - self._started_at).total_seconds(), 1),
            "observers": self._observers_status(),
            "worker": self.worker.status.as_dict(),
            "process": self._process_status(),
            "jobs": self._jobs_status(),
            "encryption": self._encryption,
            "config": self._config,
            "log": self._log_pump.status() if self._log_pump else {"file": None, "ok": True, "error": None},
        }

    # -- status parts -----------------------------------------------------------------------------

    def _observers_status(self) -> list[dict[str, Any]]:
        running = {o.name for o in self.supervisor.observers}
        notes = {n.split(":", 1)[0]: n.split(":", 1)[1].strip() for n in self._observer_notes}
        out = []
        for name in OBSERVERS:
            if name in running:
                failing = self.supervisor.failing.get(name)
                out.append({"name": name, "on": failing is None,
                            "reason": f"failed, restarting: {failing}" if failing else "running"})
            elif name in self.settings.observers.enabled:
                out.append({"name": name, "on": False, "reason": notes.get(name, "off")})
            else:
                out.append({"name": name, "on": False, "reason": "not in [observers] enabled"})
        return out

    def _jobs_status(self) -> dict[str, dict[str, Any]]:
        """Each job's last run and result (or error), and when it runs next."""
        out = {name: dict(last) for name, last in self.jobs.items()}
        for job in self._scheduler.get_jobs() if self._scheduler is not None else []:
            when = job.next_run_time
            out.setdefault(job.id, {})["next_run"] = when.isoformat() if when else None
        return out

    def _process_status(self) -> dict[str, Any]:
        me = psutil.Process()
        cpu = me.cpu_times()
        out: dict[str, Any] = {
            "rss_mb": round(me.memory_info().rss / 2**20, 1),
            # children_*: the Tesseract runs the screen observer waited for (not the model child, still alive)
            "cpu_s": round(cpu.user + cpu.system + cpu.children_user + cpu.children_system, 2),
            "threads": me.num_threads(),
        }
        pid = self.worker.pid
        if pid is not None:
            with contextlib.suppress(psutil.Error):
                child = psutil.Process(pid)
                ccpu = child.cpu_times()
                out["model_child_rss_mb"] = round(child.memory_info().rss / 2**20, 1)
                out["model_child_cpu_s"] = round(ccpu.user + ccpu.system, 2)
        return out

    # -- running ----------------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit status."""
        from .api.app import create_app
        from .api.server import default_socket_path, serve_api

        self._loop = asyncio.get_running_loop()
        self._install_signals()
        self._open_store()
        await self._load_embedder()
        self._start_observers()
        if self.settings.daemon.pipeline:
            self.worker.start()
        else:
            self.worker.disable()
        self._start_jobs()
        socket_path = default_socket_path(self.settings)
        api_stop = asyncio.Event()
        api = asyncio.create_task(serve_api(create_app(self), socket_path, api_stop), name="api")
        log.info("tacit daemon (pid %s) up; its API binds %s", os.getpid(), socket_path)
        stopper = asyncio.create_task(self._stop.wait())
        await asyncio.wait({api, stopper}, return_when=asyncio.FIRST_COMPLETED)
        failed = api.done() and not self._stop.is_set()
        if failed:
            log.error("the API server stopped: %s", api.exception() or "without an error")
        await self._drain(api, api_stop)
        return 1 if failed else 0

    def _install_signals(self) -> None:
        loop = self._loop
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop_requested, sig)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))

    def _stop_requested(self, sig: signal.Signals) -> None:
        if not self._stop.is_set():
            log.info("%s: stopping", signal.Signals(sig).name)
        self._stop.set()

    def _open_store(self) -> None:
        store = self.store()  # opens (and migrates) the file now, so a bad key fails at start
        enc = store.encryption
        self._encryption = {"encrypted": enc.encrypted, "key": enc.key_where, "describe": enc.describe()}
        if not enc.encrypted:
            loud = "SQLCIPHER IS MISSING: " if crypto.CIPHER is None else ""
            log.warning("%sUNENCRYPTED: the database %s is stored in plain text (%s). Any process or person who "
                        "can read the file can read your memory.", loud, self.settings.db_path, enc.why_not)

    async def _load_embedder(self) -> None:
        from .backends import build_embedder

        try:
            self._embedder = await asyncio.to_thread(build_embedder, self.settings.models)
        except ModelError as exc:
            log.warning("no embedder, search is full-text only: %s", exc)
            self._embedder = None

    def _sink(self, obs: Observation) -> None:
        """Store and queue one observation (called in an observer's thread, after the privacy filter).

        While a long write holds the database (the nightly gc can take longer than the busy timeout),
        observations wait in a bounded buffer in memory and go in with the next write, instead of the
        observer failing and the frame being lost.
        """
        with self._sink_lock:
            if len(self._unsaved) == self._unsaved.maxlen:
                log.warning("the database has been busy for long: the oldest unsaved observation is dropped")
            self._unsaved.append(obs)
            self._save_unsaved()

    def _save_unsaved(self) -> None:
        if not self._unsaved:
            return
        try:
            enqueue(self.store(), list(self._unsaved))
        except DatabaseLocked:
            log.warning("the database is busy; %d observation(s) wait in memory for the next write",
                        len(self._unsaved))
            return
        self._unsaved.clear()

    def _retry_unsaved(self) -> None:
        if self._sink_lock.acquire(blocking=False):  # an observer saving now takes them along anyway
            try:
                self._save_unsaved()
            finally:
                self._sink_lock.release()

    def _start_observers(self) -> None:
        observers, self._observer_notes = build_observers(self.settings, self._sink)
        self.supervisor = Supervisor(observers)
        self.supervisor.start()
        for note in self._observer_notes:
            log.info("observer %s", note)
        log.info("observers running: %s", ", ".join(o.name for o in observers) or "none")

    async def _drain(self, api: asyncio.Task[None], api_stop: asyncio.Event) -> None:
        start = time.monotonic()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        await asyncio.gather(self.supervisor.stop(), self.worker.stop(self.settings.daemon.stop_timeout_s),
                             return_exceptions=True)
        if self._unsaved:
            await asyncio.to_thread(self._retry_unsaved)
            if self._unsaved:
                log.error("%d captured observation(s) could not be saved: the database stayed busy", len(self._unsaved))
        try:  # fold the WAL into the file; PASSIVE never waits for readers, so the exit stays quick
            await asyncio.to_thread(self._checkpoint, "PASSIVE")
        except Exception as exc:
            log.warning("final checkpoint skipped: %s", exc)
        api_stop.set()
        with contextlib.suppress(Exception):  # open event streams may hold it: what is left of the budget
            await asyncio.wait_for(api, max(0.5, EXIT_BUDGET_S - (time.monotonic() - start)))
        self._stores.close()
        log.info("stopped in %.1f s", time.monotonic() - start)

    async def reload(self) -> None:
        """SIGHUP: read the config again; restart what depends on what changed."""
        try:
            new = self._reload_settings()
        except Exception as exc:  # a broken file keeps the running config
            log.error("SIGHUP: config not reloaded: %s", exc)
            self._config = {**self._config, "error": f"not reloaded at {utcnow().isoformat()}: {exc}"}
            return
        self._config = {"loaded_at": utcnow().isoformat(), "error": None}
        old, self.settings = self.settings, new
        logging.getLogger().setLevel(new.daemon.log_level)
        if new.observers != old.observers:
            await self.supervisor.stop()
            self._start_observers()
        self.worker.reload(new)
        if new.daemon != old.daemon:
            self._start_jobs()
        log.info("SIGHUP: config reloaded")

    # -- scheduled jobs ---------------------------------------------------------------------------

    def _start_jobs(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        d = self.settings.daemon
        scheduler = AsyncIOScheduler(event_loop=self._loop)
        every = IntervalTrigger
        scheduler.add_job(self._tick, every(seconds=d.flush_interval_s), id="pipeline", name="pipeline",
                          next_run_time=utcnow())
        self._add(scheduler, "stats", self._stats, every(minutes=d.stats_interval_min), first=True)
        self._add(scheduler, "decay", self._decay, every(hours=1), first=True)
        self._add(scheduler, "checkpoint", self._checkpoint, every(minutes=d.checkpoint_interval_min))
        self._add(scheduler, "backup", self._backup, CronTrigger(hour=d.maintenance_hour, minute=0))
        self._add(scheduler, "gc", self._gc, CronTrigger(hour=d.maintenance_hour, minute=30), exclusive=True)
        scheduler.start()
        self._scheduler = scheduler

    def _add(self, scheduler: AsyncIOScheduler, name: str, fn: Callable[[], Any], trigger: Any,
             first: bool = False, exclusive: bool = False) -> None:
        """A blocking job, run in a thread; its last result or error goes into status()['jobs'].

        `exclusive`: a long write, run between the model child's segments with no pass started meanwhile.
        """

        async def job() -> None:
            started = utcnow()
            try:
                if exclusive:
                    async with self.worker.paused():
                        result = await asyncio.to_thread(fn)
                else:
                    result = await asyncio.to_thread(fn)
                self.jobs[name] = {"last_run": started.isoformat(), "ok": True, "result": result}
                log.log(logging.INFO if name in NOTEWORTHY else logging.DEBUG, "job %s: %s", name, result)
            except asyncio.CancelledError:  # not re-raised: APScheduler would log it as a failure, traceback and all
                log.debug("job %s: interrupted by the shutdown (its thread finishes on its own)", name)
            except Exception as exc:
                self.jobs[name] = {"last_run": started.isoformat(), "ok": False, "error": f"{type(exc).__name__}: {exc}"}
                log.exception("job %s failed", name)

        scheduler.add_job(job, trigger, id=name, name=name, coalesce=True, max_instances=1,
                          **({"next_run_time": utcnow()} if first else {}))

    def _stats_soon(self) -> None:
        """After a batch: measure the stats again shortly (batches in a row share one run), not only on the clock."""
        job = self._scheduler.get_job("stats") if self._scheduler is not None else None
        soon = utcnow() + timedelta(seconds=STATS_AFTER_BATCH_S)
        if job is not None and (job.next_run_time is None or job.next_run_time > soon):
            job.modify(next_run_time=soon)

    async def _tick(self) -> None:
        if self._unsaved:
            await asyncio.to_thread(self._retry_unsaved)
        self.worker.wake(flush=False)

    def _stats(self) -> dict[str, int]:
        report = stats.update(self.store(), self.settings.daemon.user_name, embed=lambda t: self.embed(t))
        return {"added": len(report.added), "revised": len(report.revised)}

    def _decay(self) -> dict[str, Any]:
        """Bookkeeping only: recency decays at query time (half-life), so nothing is rewritten here; this
        counts how many current propositions have faded below `FADED` for the status report."""
        props = self.store().recent(10_000, SearchFilters(status=("current",)))
        now = utcnow()
        faded = sum(1 for p in props if p.recency(now) < FADED)
        return {"current": len(props), "faded": faded}

    def _checkpoint(self, mode: str = "TRUNCATE") -> dict[str, int]:
        busy, log_pages, done = self.store().db.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return {"busy": busy, "wal_pages": log_pages, "checkpointed": done}

    def _backup(self) -> dict[str, Any]:
        keep = self.settings.daemon.backup_keep
        if keep == 0:
            return {"skipped": "[daemon] backup_keep = 0"}
        return nightly_backup(self.store(), self.settings.backups_path, keep)

    def _gc(self) -> dict[str, Any]:
        return run_gc(self.store(), self.settings)


def nightly_backup(store: Store, folder: Path, keep: int, now: datetime | None = None) -> dict[str, Any]:
    """A VACUUM INTO copy named by its UTC time, then only the newest `keep` backups are kept."""
    when = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    path = store.backup(folder / f"tacit-{when}.db")
    backups = sorted(folder.glob("tacit-*Z.db"))
    removed = [p.name for p in backups[:-keep]]
    for old in backups[:-keep]:
        old.unlink(missing_ok=True)
    return {"backup": path.name, "bytes": path.stat().st_size, "removed": removed}


def private_data(settings: Settings) -> None:
    """Everything the daemon writes is the user's alone: umask 077, the data dir 0700, the database files 0600.

    Encryption protects the content; this keeps other local users from even reading the (possibly plaintext,
    where SQLCipher is missing) file, as issue 12 asks.
    """
    os.umask(0o077)
    data = settings.data_dir.expanduser()
    data.mkdir(parents=True, exist_ok=True)
    if data.stat().st_uid == os.getuid():
        os.chmod(data, 0o700)
    for path in (settings.db_path, Path(f"{settings.db_path}-wal"), Path(f"{settings.db_path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, 0o600)


def run_daemon(settings: Settings, reload: Callable[[], Settings] | None = None,
               log_file: Path | None = None) -> int:
    """Foreground: take the pidfile, run until stopped, release it.

    With `log_file`, everything the daemon and its children print goes to that file, rotated (logs.LogPump).
    """
    from .lifecycle import PidFile

    private_data(settings)
    pidfile = PidFile(settings.pid_path)
    pidfile.acquire()  # first: a second daemon says so on the terminal, not in the first one's log file
    try:
        pump = LogPump(log_file, settings.daemon.log_max_mb, settings.daemon.log_backups) if log_file else None
        faulthandler.enable()  # the embedder's llama.cpp runs in this process: a crash leaves its stack in the log
        setup_logging(settings.daemon.log_level)
        if pidfile.replaced_stale is not None and pidfile.replaced_stale != os.getpid():
            log.warning("stale pidfile (pid %s is not running tacit) replaced", pidfile.replaced_stale)
        return asyncio.run(_run(settings, reload, pump))
    finally:
        pidfile.release()


async def _run(settings: Settings, reload: Callable[[], Settings] | None, pump: LogPump | None) -> int:
    return await Daemon(settings, reload, pump).run()
