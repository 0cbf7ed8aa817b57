"""The CLI and the API do each thing one way: the same operation gives the same answer through both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api_server import ApiServer, TestServices
from tacitd.daemon.api.client import TacitClient

TACIT = Path(sys.executable).with_name("tacit")


@pytest.fixture
def setup(tmp_path, minilm):
    services = TestServices(tmp_path / "data", embedder=minilm)
    server = ApiServer(services).start()
    env = {**os.environ, "TACIT_DATA_DIR": str(services.settings.data_dir), "TACIT_CONFIG": str(tmp_path / "x.toml")}

    def tacit(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([str(TACIT), *args], env=env, capture_output=True, text=True, timeout=120)
        assert (r.returncode == 0) == ok, r.stderr
        return r

    with TacitClient(server.socket_path) as client:
        yield tacit, client, services
    server.stop()
    services.stores.close()


def test_edit_through_the_cli_and_show_agrees_with_the_api(setup):
    tacit, client, _ = setup
    p = client.remember("I work from Lisbon")
    edited = json.loads(tacit("edit", str(p.id), "I work from Porto", "--json").stdout)
    assert (edited["version"], edited["source"], edited["supersedes"]) == (2, "user", p.id)
    shown = json.loads(tacit("show", str(edited["id"]), "--json").stdout)
    assert shown == client.get(edited["id"]).model_dump(mode="json")
    assert [h["text"] for h in shown["history"]] == ["I work from Lisbon", "I work from Porto"]
    same = tacit("edit", str(edited["id"]), "I work from Porto", ok=False)
    assert "already says that; nothing was changed" in same.stderr


def test_pause_through_the_cli_shows_in_the_api_status(setup):
    tacit, client, _ = setup
    tacit("pause", "--for", "30m")
    status = client.status()
    assert status.paused and status.paused_until is not None
    tacit("resume")
    assert not client.status().paused
