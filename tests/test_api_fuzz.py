"""Fuzzing the API from its own OpenAPI description (schemathesis), over the real socket.

Bounded: a few examples per operation and no shrinking deadline, against a
real daemon process. Every response must be below 500, and the daemon must
still answer afterwards.
The event stream never ends by design, so it is left out here (it has
its own tests).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from daemon_proc import running_daemon
from tacitd.daemon.api.app import create_app

SPEC = create_app(None).openapi()  # type: ignore[arg-type]  # the description needs no services
schema = schemathesis.openapi.from_dict(SPEC).exclude(path="/v1/events")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A real `tacit daemon` (pipeline off): what is fuzzed is what users run."""
    with running_daemon(Path(tmp_path_factory.mktemp("fuzz")), model=None) as d:
        for i in range(5):
            assert d.post("/v1/propositions", json={"text": f"seed fact {i} about tea and Rust"}).status_code == 201
        yield d.http()


def _send(http: httpx.Client, case: schemathesis.Case) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url=str(http.base_url).rstrip("/"))
    body = kwargs.get("json")
    content = kwargs.get("data")
    return http.request(kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=kwargs.get("headers"),
                        json=body if content is None else None, content=content)


@schema.parametrize()
@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_no_input_gets_a_5xx(case, api):
    response = _send(api, case)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"


def test_the_daemon_still_answers_after_the_fuzzing(api):
    assert api.get("/v1/status").status_code == 200
