"""An API server for tests: `create_app` over LocalServices, served on a real Unix socket in a thread.

    from api_server import server, services  # noqa: F401  (fixtures: MiniLM embedder, temp data dir)

The daemon's own Services (daemon/runtime.py) is tested end to end with
tests/daemon_proc.py; this lets API tests run without observers or a model
child, on the same socket code (server.serve_api) the daemon uses.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tacitd.daemon.api.app import create_app
from tacitd.daemon.api.server import ServerThread
from tacitd.daemon.api.stores import LocalServices
from tacitd.daemon.config import load_settings


class TestServices(LocalServices):
    __test__ = False

    def __init__(self, data_dir: Path, embedder: Any = None):
        super().__init__(load_settings(data_dir / "config.toml", data_dir=data_dir), embedder)

    def status(self) -> dict[str, Any]:
        return {"pid": 0, "observers": [], "worker": "test"}


class ApiServer(ServerThread):
    """A server on a socket in a short temp dir (sun_path holds 108 bytes), removed by stop()."""

    def __init__(self, services: Any):
        self._dir = Path(tempfile.mkdtemp(prefix="tacit-api-", dir="/tmp"))
        self.services = services
        super().__init__(create_app(services), self._dir / "run" / "tacit.sock")

    def stop(self, timeout: float = 15.0) -> None:
        try:
            super().stop(timeout)
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture
def services(tmp_path, minilm) -> Any:
    s = TestServices(tmp_path / "data", embedder=minilm)
    yield s
    s.stores.close()


@pytest.fixture
def server(services) -> Any:
    srv = ApiServer(services).start()
    yield srv
    srv.stop()
