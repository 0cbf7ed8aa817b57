"""The /v1 API over a real Unix socket: each route, its errors, and what it changed in the store."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api_server import server, services  # noqa: F401  (fixtures)
from tacitd.daemon.api.client import ApiError, TacitClient
from tacitd.memory.types import Observation, Proposition

NOW = datetime.now(UTC)



@pytest.fixture
def client(server):
    with TacitClient(server.socket_path) as c:
        yield c


@pytest.fixture
def raw(server):
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(server.socket_path)), base_url="http://t") as h:
        yield h


def seed(services, *texts, source="llm", evidence_app=None):
    store = services.store()
    ids = []
    for text in texts:
        ev = []
        if evidence_app:
            ev = [store.add_observation(Observation(observer="screen", app=evidence_app, text=text,
                                                    captured_at=NOW - timedelta(hours=2))).id]
        p = store.add_proposition(Proposition(text=text, confidence=0.7, source=source), evidence=ev,
                                  embedding=services.embed(text))
        ids.append(p.id)
    return ids


def test_socket_is_private(server):
    assert stat.S_IMODE(server.socket_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(server.socket_path.parent.stat().st_mode) == 0o700


def test_openapi_is_served_and_lists_every_route(raw):
    spec = raw.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {"/v1/context", "/v1/search", "/v1/propositions/recent", "/v1/propositions/{proposition_id}",
            "/v1/propositions", "/v1/observations", "/v1/pause", "/v1/resume", "/v1/status", "/v1/events",
            "/v1/forget", "/v1/activity", "/v1/quarantine"} <= paths


def test_search_finds_by_meaning_with_score_parts(client, services):
    seed(services, "Sam prefers dark mode in every editor", "Sam runs on Tuesday mornings",
         "Sam is learning Rust")
    out = client.search("which colour theme does the user like")
    assert out.results[0].proposition.text == "Sam prefers dark mode in every editor"
    parts = out.results[0].parts
    assert parts.vector_rank == 1 and parts.similarity is not None and parts.similarity > 0.2


def test_context_fits_the_budget_and_each_line_has_confidence_and_time(client, services):
    seed(services, *[f"Sam works on project number {i} with PyTorch and LoRA adapters" for i in range(40)],
         evidence_app="code")
    block = client.context("what does Sam work on", budget_tokens=120)
    assert block.tokens <= 120
    assert block.items and block.omitted > 0
    assert {i.section for i in block.items} == {"relevant"}
    for item in block.items:
        assert "confidence 0.70" in item.line
        assert item.evidence_at < NOW - timedelta(hours=1)  # the evidence's capture time, not the insert time
    profile = client.context("", budget_tokens=2000)
    assert profile.query == "" and len(profile.items) == 40 and {i.section for i in profile.items} == {"profile"}
    md = client.context_markdown("what does Sam work on", budget_tokens=120)
    assert md == block.markdown


def test_context_for_an_unrelated_question_has_no_relevant_lines_only_a_labelled_profile(client, services):
    seed(services, "Sam runs on Tuesday mornings", "Sam prefers dark mode in every editor", "Sam lives in Lisbon",
         "Sam is planning a trip to Osaka in March", "Sam fine-tunes LLMs with PyTorch and LoRA")
    block = client.context("how do I bake sourdough bread", budget_tokens=1000)
    assert [i for i in block.items if i.section == "relevant"] == []
    assert "Nothing relevant is known." in block.markdown
    assert "## Also known about the user" in block.markdown and len(block.items) == 5
    travel = client.context("travel plans", budget_tokens=1000)
    relevant = [i.text for i in travel.items if i.section == "relevant"]
    assert relevant[0] == "Sam is planning a trip to Osaka in March" and len(relevant) < 5


def test_context_stays_within_a_small_budget_whatever_the_query(client, services):
    seed(services, "Sam is planning a trip to Osaka in March")
    block = client.context("travel " * 280, budget_tokens=50)
    assert block.tokens <= 50
    assert len(block.markdown.splitlines()[0]) < 140  # the echoed query is cut


def test_a_heading_comes_only_with_a_line_under_it(client, services):
    """The profile's heading is written with its first line, or not at all (the demo showed it bare)."""
    seed(services, "Sam is planning a trip to Osaka in March", "Sam writes Rust at work on a payments service")
    full = client.context("trip to Osaka", budget_tokens=500)
    assert "## Also known about the user" in full.markdown
    tight = client.context("trip to Osaka", budget_tokens=full.tokens - 5)
    assert tight.markdown.rstrip().splitlines()[-1] != "## Also known about the user"
    assert ("## Also known about the user" in tight.markdown) == any(i.section == "profile" for i in tight.items)


def test_statement_confirm_reject_edit_and_history(client, services):
    p = client.remember("I prefer tea over coffee")
    assert p.source == "user" and p.confidence == 1.0
    q = client.remember("I live in Lisbon", confidence=0.8)
    assert client.confirm(q.id, "true").confidence == 1.0
    r = client.reject(p.id, note="not any more")
    assert r.status == "rejected"
    new = client.edit(q.id, "I live in Porto")
    assert (new.version, new.source, new.supersedes) == (2, "user", q.id)
    detail = client.get(new.id)
    assert [h.text for h in detail.history] == ["I live in Lisbon", "I live in Porto"]
    assert [f.note for f in services.store().feedback_for(p.id)] == ["not any more"]
    assert services.store().get(q.id).status == "superseded"
    # found by its new wording, through the vector index too
    assert client.search("which city does the user live in").results[0].proposition.id == new.id


def test_forget_deletes_and_a_second_forget_is_404(client, services):
    (pid,) = seed(services, "Sam is planning a trip to Japan", evidence_app="firefox")
    result = client.forget(pid)
    assert (result.propositions, result.observations) == (1, 1)
    assert services.store().counts()["propositions"] == 0
    with pytest.raises(ApiError) as err:
        client.forget(pid)
    assert err.value.status == 404 and f"no proposition with id {pid}" in str(err.value)


def test_forget_by_scope_as_the_cli_does(client, services):
    seed(services, "Sam chats on Slack about the release", evidence_app="Slack")
    (kept,) = seed(services, "Sam writes Rust in the editor", evidence_app="code")
    with pytest.raises(ApiError) as err:
        client.forget_scope()
    assert err.value.status == 400 and "needs an app" in str(err.value)
    result = client.forget_scope(app="slack")
    assert (result.propositions, result.observations) == (1, 1)
    assert [p.id for p in services.store().recent(10)] == [kept]


def test_observations_are_filtered_stored_and_queued_before_the_reply(client, services):
    report = client.push_observations([
        {"app": "firefox", "text": "reading about LoRA; my key is AKIAIOSFODNN7EXAMPLE", "captured_at": NOW.isoformat()},
        {"app": "KeePassXC", "text": "vault", "captured_at": NOW.isoformat()},
    ])
    assert (report.received, report.stored, report.excluded, report.redacted) == (2, 1, 1, 1)
    stored = services.store().get_observation(report.ids[0])
    assert "AKIAIOSFODNN7EXAMPLE" not in stored.text and "LoRA" in stored.text
    assert services.store().queue.counts()["pending"] == 1
    assert services.wakes == 1


def test_pause_refuses_pushes_and_resume_accepts_them(client, services):
    out = client.pause(duration_s=600)
    assert out.paused and out.until is not None and out.until > NOW + timedelta(seconds=500)
    assert client.status().paused
    with pytest.raises(ApiError) as err:
        client.push_observations([{"text": "x", "captured_at": NOW.isoformat()}])
    assert err.value.status == 409 and "paused" in str(err.value)
    assert services.store().counts()["observations"] == 0
    assert client.pause().until is None  # until resumed
    assert not client.resume().paused
    assert not services.settings.pause_path.exists()
    assert client.push_observations([{"text": "x", "captured_at": NOW.isoformat()}]).stored == 1


def test_recent_pages_with_a_total_and_support(client, services):
    ids = seed(services, *[f"fact number {i}" for i in range(25)], evidence_app="code")
    first = client.recent(limit=10)
    second = client.recent(limit=10, offset=10)
    assert first.total == 25 and second.offset == 10
    seen = [i.proposition.id for i in first.items + second.items]
    assert len(set(seen)) == 20 and set(seen) <= set(ids)
    assert all(i.support.sessions == 1 and i.support.days == 1 for i in first.items)
    assert client.recent(status=("rejected",)).total == 0
    store = services.store()
    old = store.add_proposition(Proposition(text="from last month", confidence=0.5,
                                            updated_at=NOW - timedelta(days=30), created_at=NOW - timedelta(days=30)))
    assert client.recent(limit=100, since=NOW - timedelta(days=1)).total == 25
    assert old.id in [i.proposition.id for i in client.recent(limit=100, since="40d").items]


def test_status_merges_daemon_and_store_facts(client, services):
    seed(services, "one", "two")
    s = client.status()
    assert s.daemon["worker"] == "test"
    assert s.propositions == 2 and s.encrypted and s.last_event_id == 2
    assert set(s.queue) == {"pending", "segmented", "processed", "quarantined"}


def test_activity_counts_minutes_per_app_per_local_hour(client, services):
    start = datetime.now().astimezone().replace(minute=0, second=0, microsecond=0)
    store = services.store()
    store.add_observations([
        Observation(observer="window", app="code", captured_at=start, duration_s=1200),
        Observation(observer="window", app="firefox", captured_at=start + timedelta(minutes=20), duration_s=600),
    ])
    report = client.activity(days=1)
    got = {(h.app, h.hour): h.seconds for h in report.hours}
    assert got == {("code", start): 1200.0, ("firefox", start): 600.0}


@pytest.mark.parametrize("method,path,body,status,words", [
    ("POST", "/v1/propositions", "{not json", 400, "JSON"),
    ("POST", "/v1/propositions", {"text": "x", "colour": "red"}, 422, "colour"),
    ("POST", "/v1/propositions", {"text": 5}, 422, "text"),
    ("POST", "/v1/propositions", {"text": "   "}, 422, "text"),
    ("POST", "/v1/propositions", {"text": "x", "confidence": 1.7}, 422, "confidence"),
    ("POST", "/v1/propositions", {"text": "\u0000 nul"}, 422, "control characters"),
    ("POST", "/v1/propositions", {"text": "a\u0000b"}, 422, "U+0000"),
    ("POST", "/v1/propositions/1/edit", {"text": "\u0000x"}, 422, "control characters"),
    ("POST", "/v1/observations", {"observations": [{"text": "no time"}]}, 422, "captured_at"),
    ("POST", "/v1/observations", {"observations": [{"captured_at": "2026-01-01T00:00:00Z", "id": 5}]}, 422, "id"),
    ("POST", "/v1/observations", {"observations": []}, 422, "observations"),
    ("POST", "/v1/pause", {"duration_s": -1}, 422, "duration_s"),
    ("GET", "/v1/search?q=x&limit=0", None, 422, "limit"),
    ("GET", "/v1/search?q=x&since=yesterdayish", None, 400, "since"),
    ("GET", "/v1/search", None, 422, "q"),
    ("GET", "/v1/search?q=x&min_confidnce=0.9", None, 422, "min_confidnce"),
    ("GET", "/v1/status?verbose=1", None, 422, "unknown parameter"),
    ("GET", "/v1/propositions/abc", None, 422, "proposition_id"),
    ("GET", "/v1/propositions/999", None, 404, "no proposition"),
    ("POST", "/v1/propositions/999/confirm", {}, 404, "no proposition"),
    ("DELETE", "/v1/quarantine/0123456789abcdef", None, 404, "not in quarantine"),
    ("POST", "/v1/forget", {"app": "x", "since": "2026-02-01T00:00:00Z", "before": "2026-01-01T00:00:00Z"}, 400,
     "since must be earlier"),
])
def test_bad_input_is_a_clear_4xx_and_changes_nothing(raw, services, method, path, body, status, words):
    seed(services, "a fact that must survive")
    before = services.store().counts()
    content = body if isinstance(body, str) else (json.dumps(body) if body is not None else None)
    r = raw.request(method, path, content=content, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert words.lower() in r.json()["detail"].lower()
    assert services.store().counts() == before
    assert raw.get("/v1/status").status_code == 200


def test_a_rejected_proposition_cannot_be_edited_or_confirmed(client, services):
    (pid,) = seed(services, "Sam uses Windows")
    client.reject(pid)
    for call in (lambda: client.confirm(pid), lambda: client.edit(pid, "Sam uses Linux")):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 400 and "rejected" in str(err.value)
    assert services.store().count() == 0 and len(services.store().history(pid)) == 1


def test_bodies_over_the_limit_are_refused_by_length_and_by_count(server, services):
    big = json.dumps({"observations": [{"text": "x" * 90_000, "captured_at": NOW.isoformat()}] * 12})
    assert len(big) > 1 << 20
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(server.socket_path)), base_url="http://t") as h:
        assert h.post("/v1/observations", content=big).status_code == 413
        # chunked: no Content-Length, so only the count can stop it
        r = h.post("/v1/observations", content=iter([big[i:i + 65536].encode() for i in range(0, len(big), 65536)]))
        assert r.status_code == 413
        assert "over 1048576 bytes" in r.json()["detail"]
        assert h.get("/v1/status").status_code == 200
    assert services.store().counts()["observations"] == 0


def test_a_client_that_never_finishes_its_request_is_cut_off(server, monkeypatch):
    from tacitd.daemon.api import server as server_mod

    assert server_mod.HEADER_TIMEOUT_S <= 10
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(server_mod.HEADER_TIMEOUT_S + 5)
    s.connect(str(server.socket_path))
    s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")  # no blank line: the headers never end
    assert s.recv(100) == b""  # closed by the server, not by our timeout (which would raise)
    s.close()


def test_a_second_request_on_a_kept_alive_connection_that_never_ends_is_cut_off(server):
    from tacitd.daemon.api import server as server_mod

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(server_mod.HEADER_TIMEOUT_S + 5)
    s.connect(str(server.socket_path))
    s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")  # the second request's headers never end
    rest = b""
    while chunk := s.recv(65536):  # the rest of the first answer, then the close
        rest += chunk
    s.close()
    assert b"HTTP/1.1 200" not in rest  # the second request got no answer: it was cut off


def test_the_daemon_refuses_another_uid(server):
    """A client running as `nobody` is closed before any byte is read (SO_PEERCRED)."""
    if os.getuid() != 0:
        pytest.skip("needs root to run a client as another uid")
    # nobody must be able to reach the socket for the peer check to be what refuses it
    for directory in (server.socket_path.parent, server.socket_path.parent.parent):
        os.chmod(directory, 0o711)
    os.chmod(server.socket_path, 0o666)
    pid = os.fork()
    if pid == 0:  # the child: become nobody, try, report by exit status
        code = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(str(server.socket_path))
            try:
                s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
                code = 0 if s.recv(100) == b"" else 1  # 0: closed without an answer
            except (ConnectionResetError, BrokenPipeError):
                code = 0
        except BaseException as exc:  # noqa: BLE001 - reported through the exit status
            os.write(2, f"child: {exc!r}\n".encode())
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    with TacitClient(server.socket_path) as c:  # our own uid still gets in
        assert c.status().daemon["worker"] == "test"


def test_a_body_that_stops_arriving_is_answered_408_and_changes_nothing(server, services):
    from tacitd.daemon.api import limits

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(limits.BODY_TIMEOUT_S + 10)
    s.connect(str(server.socket_path))
    s.sendall(b"POST /v1/propositions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n{\"text\": \"half")  # 15 of the 100 bytes promised
    reply = b""
    while chunk := s.recv(4096):  # the server closes the connection after its answer
        reply += chunk
    s.close()
    assert reply.startswith(b"HTTP/1.1 408") and b"not received within" in reply
    assert services.store().counts()["propositions"] == 0


def test_pushes_follow_the_privacy_rules_of_reloaded_settings(client, services):
    """A SIGHUP reload replaces services.settings: the next push uses the new exclusions."""
    first = client.push_observations([{"app": "Obsidian", "text": "journal", "captured_at": NOW.isoformat()}])
    assert first.stored == 1
    rules = services.settings.observers.privacy.model_copy(update={"excluded_apps": ["obsidian"]})
    observers = services.settings.observers.model_copy(update={"privacy": rules})
    services.settings = services.settings.model_copy(update={"observers": observers})
    second = client.push_observations([{"app": "Obsidian", "text": "journal", "captured_at": NOW.isoformat()}])
    assert (second.stored, second.excluded) == (0, 1)


def test_forget_reads_a_time_without_offset_as_local_like_the_cli(client, services, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")  # the server runs in this process (EDT, UTC-4, in June)
    time.tzset()
    try:
        local = datetime(2026, 6, 1, 9, 0)  # naive: 09:00 New York = 13:00 UTC
        at = local.astimezone(UTC)
        assert at.hour == 13
        services.store().add_observations([
            Observation(observer="screen", app="x", text="just before", captured_at=at - timedelta(minutes=5)),
            Observation(observer="screen", app="x", text="just after", captured_at=at + timedelta(minutes=5))])
        result = client.forget_scope(before=local, observations_only=True)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert result.observations == 1
    assert [o.text for o in services.store().observations()] == ["just after"]


def test_observations_from_the_future_are_refused(raw, services):
    r = raw.post("/v1/observations", json={"observations": [{"text": "x", "captured_at": "2099-01-01T00:00:00Z"}]})
    assert r.status_code == 422 and "future" in r.json()["detail"]
    assert services.store().counts()["observations"] == 0
