"""The privacy filter on its own: canary secrets, exclusions, pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tacitd.memory.types import Observation
from tacitd.observers.privacy import PauseState, PrivacyFilter, PrivacyRules, WindowInfo

CANARIES = {
    "aws_access_key": "AKIAZZCANARY7Q2W3E4R",
    "github_token": "ghp_" + "C4n4ry" * 6 + "xy",
    "gitlab_token": "glpat-Canary1234567890abcdef",
    "slack_token": "xoxb-1234567890-canaryslacktoken",
    "openai_key": "sk-proj-CanaryOpenAIKey1234567890abcd",
    "anthropic_key": "sk-ant-api03-CanaryAnthropicKey123456789",
    "google_api_key": "AIza" + "CanaryGoogleKey0123456789abcdefghij",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlY2FuYXJ5",
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEcanaryKEYmaterial\n-----END RSA PRIVATE KEY-----",
    "card": "4111 1111 1111 1111",
}


@pytest.mark.parametrize("kind, secret", CANARIES.items())
def test_each_secret_kind_is_redacted(kind, secret):
    out = PrivacyFilter().redact(f"before {secret} after")
    assert out == f"before [REDACTED:{kind}] after"


def test_password_labels_and_user_patterns():
    rules = PrivacyRules(extra_redactions={"employee_id": r"\bEMP-\d{6}\b"})
    out = PrivacyFilter(rules).redact("login ok\npassword: hunter2canary\nbadge EMP-123456")
    assert "hunter2canary" not in out and "[REDACTED:password]" in out and "[REDACTED:employee_id]" in out


def test_numbers_that_fail_luhn_are_kept():
    assert PrivacyFilter().redact("order 1234 5678 9012 3456") == "order 1234 5678 9012 3456"


@pytest.mark.parametrize("app, title, url", [
    ("KeePassXC", "Passwords.kdbx", None),
    ("firefox", "Bank — Mozilla Firefox Private Browsing", None),
    ("Google-chrome", "New Tab - Google Chrome (Incognito)", None),
    ("firefox", "Vault", "https://vault.bitwarden.com/#/login"),
    ("tacit", "tacit — memories", None),
])
def test_default_exclusions_drop_the_observation(app, title, url):
    obs = Observation(observer="window", app=app, window_title=title, url=url, text="secret stuff")
    assert PrivacyFilter().apply(obs) is None


def test_a_visible_excluded_window_drops_the_whole_frame():
    obs = Observation(observer="screen", app="code", window_title="main.py", text="def f(): pass")
    hidden = [WindowInfo(app="1Password", title="1Password", visible=False)]
    shown = [WindowInfo(app="1Password", title="1Password", visible=True)]
    assert PrivacyFilter().apply(obs, hidden) is not None
    assert PrivacyFilter().apply(obs, shown) is None


def test_bad_rules_are_refused_with_the_key():
    with pytest.raises(ValidationError, match="excluded_title_patterns"):
        PrivacyRules(excluded_title_patterns=["(unclosed"])


def test_pause_survives_a_restart_and_expires(tmp_path):
    path = tmp_path / "paused.json"
    PauseState(path).pause(timedelta(minutes=30))
    again = PauseState(path)  # a new process reads the same file
    assert again.paused()
    assert not again.paused(now=datetime.now(UTC) + timedelta(hours=1))
    again.resume()
    assert not PauseState(path).paused()
    path.write_text("{corrupt")
    assert PauseState(path).paused()  # unreadable state fails closed
