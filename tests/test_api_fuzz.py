"""Fuzzing the API from its own OpenAPI description (schemathesis), over the real socket.

Bounded: a few examples per operation and no shrinking deadline. Every
response must be below 500, and the server must still answer afterwards.
The event stream never ends by design, so it is left out here (it has
its own tests).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from api_server import ApiServer, TestServices
from tacitd.daemon.api.app import create_app
from tacitd.memory.types import Proposition

SPEC = create_app(None).openapi()  # type: ignore[arg-type]  # the description needs no services
schema = schemathesis.openapi.from_dict(SPEC).exclude(path="/v1/events")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    services = TestServices(Path(tmp_path_factory.mktemp("fuzz")) / "data")
    store = services.store()
    for i in range(5):
        store.add_proposition(Proposition(text=f"seed fact {i} about tea and Rust", confidence=0.5))
    server = ApiServer(services).start()
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(server.socket_path)), base_url="http://tacit",
                      timeout=30) as http:
        yield http
    server.stop()
    services.stores.close()


def _send(http: httpx.Client, case: schemathesis.Case) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url="http://tacit")
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


def test_the_server_still_answers_after_the_fuzzing(api):
    assert api.get("/v1/status").status_code == 200
