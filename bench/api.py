"""What the API costs over its Unix socket: /v1/search and /v1/context against the same calls in-process.

    python bench/api.py --json

The memory is bench/data/sam.py (~1,050 propositions with evidence, real
MiniLM vectors). The API runs in a child process (`--serve`), as the daemon
would, on a socket in a temp dir; this process is the client. In one run:

- one client: each question is asked in-process (ops.search / ops.context
  with the query embedded, which is what the route does) and over the socket
  (TacitClient), alternating, so load on the shared CPU hits both alike.
  `ratio_p50` = socket p50 / in-process p50 (goal ≤ 1.5 for search);
  `status_route` is the round trip of a route that does almost nothing,
  the least the socket adds. Under heavy load each wake-up of the server
  (accept, thread hand-off, reply) waits for a CPU, so this grows with
  `loadavg`;
- 50 clients at once (threads, each with its own TacitClient), against a
  server whose routes get a Store per thread (what the daemon does,
  daemon/api/stores.py) and against one whose routes share one Store, and
  the same 50 threads calling in-process. Every request must succeed;
  `errors` counts those that did not.

TACIT_BENCH_API_THREADS=N sets the server's thread pool (server.API_THREADS)
to try other sizes. Times are wall-clock milliseconds per request; on a shared 2-core machine
the absolute figures are noisy and the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent / "data"))

import sam  # noqa: E402

from tacitd.daemon import ops  # noqa: E402
from tacitd.daemon.api.app import create_app  # noqa: E402
from tacitd.daemon.api.client import TacitClient  # noqa: E402
from tacitd.daemon.api import server  # noqa: E402
from tacitd.daemon.api.server import serve_api  # noqa: E402
from tacitd.daemon.api.stores import LocalServices  # noqa: E402
from tacitd.daemon.backends import build_embedder  # noqa: E402
from tacitd.daemon.config import Settings, load_settings  # noqa: E402
from tacitd.memory.store import Store  # noqa: E402
from tacitd.memory.types import Observation, Proposition  # noqa: E402

BUDGET = 500  # tokens asked of /v1/context


def settings_for(data_dir: Path) -> Settings:
    return load_settings(data_dir / "none.toml", data_dir=data_dir)


def fill(settings: Settings) -> int:
    """The sam memory, with evidence and MiniLM vectors; returns how many propositions."""
    items, _ = sam.build()
    embedder = build_embedder(settings.models)
    vectors = embedder.embed([i.text for i in items])
    with Store(settings.db_path) as store:
        store.ensure_vector_index(embedder.name, embedder.dim)
        observations = iter(store.add_observations(
            Observation(observer="screen", app=e.app, window_title=e.title, text=e.text, captured_at=e.captured_at)
            for item in items for e in item.evidence))
        rows = []
        for item, vector in zip(items, vectors, strict=True):
            links = [next(observations).id for _ in item.evidence]
            rows.append((Proposition(text=item.text, confidence=item.confidence, half_life_days=item.half_life_days,
                                     source=item.source, valid_from=item.valid_from, valid_to=item.valid_to,
                                     created_at=item.valid_from, updated_at=item.updated_at), links, vector))
        store.add_propositions(rows)
    return len(items)


# -- the server child ---------------------------------------------------------------------------------------


class SharedStoreServices(LocalServices):
    """Every route on one Store (one connection, one lock): the alternative to a Store per thread."""

    def __init__(self, settings: Settings, embedder: Any):
        super().__init__(settings, embedder)
        self._shared = Store(settings.db_path)

    def store(self) -> Store:
        return self._shared


def serve(data_dir: Path, socket_path: Path, shared: bool) -> None:
    if threads := os.environ.get("TACIT_BENCH_API_THREADS"):  # for trying other pool sizes
        server.API_THREADS = int(threads)
    settings = settings_for(data_dir)
    services = (SharedStoreServices if shared else LocalServices)(settings, build_embedder(settings.models))

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await serve_api(create_app(services), socket_path, stop)

    asyncio.run(main())


def start_server(data_dir: Path, socket_path: Path, shared: bool) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, "--serve", str(data_dir), str(socket_path)] + (["--shared"] if shared else [])
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    with TacitClient(socket_path, timeout=5) as client:
        while not client.running():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the API server did not start (exit {proc.poll()})")
            time.sleep(0.05)
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


# -- measuring ----------------------------------------------------------------------------------------------


def percentiles(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2), "n": len(ordered)}


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


class InProcess:
    """The same operations the routes run, called directly (query embedded under one lock, as the daemon does)."""

    def __init__(self, settings: Settings):
        self.services = LocalServices(settings, build_embedder(settings.models))

    def search(self, q: str) -> None:
        s = self.services
        ops.search(s.store(), s.settings, q, s.embed(q, query=True), 10)

    def context(self, q: str) -> None:
        s = self.services
        ops.context(s.store(), s.settings, q, BUDGET, lambda text: s.embed(text, query=True))


def one_client(inproc: InProcess, socket_path: Path, questions: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with TacitClient(socket_path) as client:
        # The fixed cost of a round trip (a route that does almost nothing): what the socket adds at the least.
        out["status_route"] = percentiles([timed(client.status) for _ in range(len(questions))])
        for name, local, remote in (
            ("search", inproc.search, lambda q: client.search(q, limit=10)),
            ("context", inproc.context, lambda q: client.context(q, budget_tokens=BUDGET)),
        ):
            local(questions[0]), remote(questions[0])  # warm both paths
            mine: list[float] = []
            theirs: list[float] = []
            for q in questions:
                mine.append(timed(lambda q=q: local(q)))
                theirs.append(timed(lambda q=q: remote(q)))
            sock, proc = percentiles(theirs), percentiles(mine)
            out[name] = {"socket": sock, "inprocess": proc, "ratio_p50": round(sock["p50_ms"] / proc["p50_ms"], 3)}
    return out


def many_clients(call: Callable[[Any, str], Any], make: Callable[[], Any], questions: list[str], clients: int,
                 per_client: int) -> dict[str, Any]:
    """`clients` threads at once, each asking `per_client` questions with its own client from `make`."""
    barrier = threading.Barrier(clients)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        handle = make()
        try:
            barrier.wait()
            for i in range(per_client):
                q = questions[(n * per_client + i) % len(questions)]
                try:
                    ms = timed(lambda: call(handle, q))
                    with lock:
                        latencies.append(ms)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            if hasattr(handle, "close"):
                handle.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - start
    return {**percentiles(latencies or [0.0]), "errors": len(errors), "first_error": errors[0] if errors else None,
            "requests_per_s": round(len(latencies) / wall, 1)}


def fifty(socket_path: Path, questions: list[str], clients: int, per_client: int) -> dict[str, Any]:
    return {
        "search": many_clients(lambda c, q: c.search(q, limit=10), lambda: TacitClient(socket_path, timeout=300),
                               questions, clients, per_client),
        "context": many_clients(lambda c, q: c.context(q, budget_tokens=BUDGET),
                                lambda: TacitClient(socket_path, timeout=300), questions, clients, per_client),
    }


def run(n_questions: int, clients: int, per_client: int) -> dict[str, Any]:
    _, queries = sam.build()
    questions = [q.text for q in queries][:n_questions]
    with tempfile.TemporaryDirectory(prefix="tacit-bench-api-", dir="/tmp") as tmp:
        data_dir, socket_path = Path(tmp) / "data", Path(tmp) / "run" / "tacit.sock"
        settings = settings_for(data_dir)
        n_props = fill(settings)
        inproc = InProcess(settings)
        result: dict[str, Any] = {"propositions": n_props, "questions": len(questions), "clients": clients,
                                  "requests_per_client": per_client, "loadavg_start": os.getloadavg()[0]}
        server = start_server(data_dir, socket_path, shared=False)
        try:
            result["one_client"] = one_client(inproc, socket_path, questions)
            result["fifty_clients"] = {"store_per_thread": fifty(socket_path, questions, clients, per_client)}
        finally:
            stop_server(server)
        server = start_server(data_dir, socket_path, shared=True)
        try:
            result["fifty_clients"]["one_shared_store"] = fifty(socket_path, questions, clients, per_client)
        finally:
            stop_server(server)
        result["fifty_clients"]["inprocess"] = {
            "search": many_clients(lambda s, q: s.search(q), lambda: inproc, questions, clients, per_client),
            "context": many_clients(lambda s, q: s.context(q), lambda: inproc, questions, clients, per_client),
        }
        inproc.services.close()
        f = result["fifty_clients"]
        result["search_ratio_p50_one_client"] = result["one_client"]["search"]["ratio_p50"]
        result["search_ratio_p50_fifty_clients"] = round(
            f["store_per_thread"]["search"]["p50_ms"] / f["inprocess"]["search"]["p50_ms"], 3)
        result["goal_met"] = result["search_ratio_p50_one_client"] <= 1.5
        result["errors"] = sum(v[k]["errors"] for v in f.values() for k in ("search", "context"))
        result["loadavg_end"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--questions", type=int, default=120)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=4)
    parser.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "SOCKET"), help=argparse.SUPPRESS)
    parser.add_argument("--shared", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), Path(args.serve[1]), args.shared)
        return
    result = run(args.questions, args.clients, args.per_client)
    print(json.dumps(result, indent=2) if args.json else
          f"search p50 socket/in-process at 1 client: {result['search_ratio_p50_one_client']} "
          f"(goal ≤ 1.5); at {args.clients} clients: {result['search_ratio_p50_fifty_clients']}; "
          f"errors: {result['errors']}")


if __name__ == "__main__":
    main()
