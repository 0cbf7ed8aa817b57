"""The privacy filter: every observation passes through here before any sink sees it.

Three defences, in order:
1. Pause: while paused, nothing passes. The state lives in a small JSON file
   so it survives a restart.
2. Exclusion: an observation from an excluded app, window title or URL domain
   is dropped whole; so is a screen frame in which an excluded window is
   visible (not merely focused), where the platform can tell.
3. Redaction: secrets in the text become `[REDACTED:kind]` before storage.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tacitd.memory.types import Observation

DEFAULT_APPS = [
    "1password", "bitwarden", "keepassxc", "keepass", "lastpass", "dashlane", "keychain access",
    "tacit",  # our own TUI shows memories: never observe it back
]
DEFAULT_TITLES = [
    r"\(private browsing\)", r"mozilla firefox private browsing", r"\bincognito\b", r"inprivate",
    r"\bprivate browsing\b", r"^tacit\b",
]
DEFAULT_DOMAINS = ["1password.com", "bitwarden.com", "lastpass.com", "dashlane.com", "accounts.google.com"]

# (kind, pattern). Order matters: specific token formats before generic ones.
SECRET_PATTERNS: list[tuple[str, str]] = [
    ("private_key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ("aws_access_key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
    ("aws_secret_key", r"(?i)aws.{0,20}?(?:secret|key).{0,5}?[:=]\s*['\"]?[A-Za-z0-9/+=]{40}\b"),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    ("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
    ("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}\b"),
    ("openai_key", r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}\b"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("stripe_key", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}\b"),
    ("bearer_token", r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}=*"),
    ("password", r"(?i)\b(?:password|passwd|pwd|passphrase|secret|api[_ -]?key|token)\b\s*[:=]\s*\S+"),
]
CARD_CANDIDATE = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _compiles(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None


class PrivacyRules(BaseModel):
    """User-tunable rules; the defaults already cover password managers and private windows."""

    model_config = ConfigDict(extra="forbid")

    excluded_apps: list[str] = Field(default_factory=lambda: list(DEFAULT_APPS))
    excluded_title_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_TITLES))
    excluded_domains: list[str] = Field(default_factory=lambda: list(DEFAULT_DOMAINS))
    extra_redactions: dict[str, str] = Field(default_factory=dict, description="kind -> regex")

    @field_validator("excluded_title_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            _compiles(p)
        return patterns

    @field_validator("extra_redactions")
    @classmethod
    def _redactions_compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        for kind, p in patterns.items():
            if not re.fullmatch(r"[a-z0-9_]+", kind):
                raise ValueError(f"redaction kind {kind!r} must be lower-case letters, digits or _")
            _compiles(p)
        return patterns


@dataclass(frozen=True)
class WindowInfo:
    """A top-level window as the platform reports it."""

    app: str | None
    title: str | None
    visible: bool = True
    url: str | None = None


class PauseState:
    """Pause and resume, persisted as JSON (`{"until": iso | null}`) so a restart keeps it."""

    def __init__(self, path: Path):
        self.path = path

    def pause(self, duration: timedelta | None = None) -> datetime | None:
        until = datetime.now(UTC) + duration if duration else None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"paused": True, "until": until.isoformat() if until else None}))
        os.replace(tmp, self.path)
        return until

    def resume(self) -> None:
        self.path.unlink(missing_ok=True)

    def paused(self, now: datetime | None = None) -> bool:
        try:
            state = json.loads(self.path.read_text())
        except FileNotFoundError:
            return False
        except (OSError, ValueError):
            return True  # unreadable state: fail closed
        until = state.get("until")
        return bool(state.get("paused")) and (until is None or datetime.fromisoformat(until) > (now or datetime.now(UTC)))


class PrivacyFilter:
    def __init__(self, rules: PrivacyRules | None = None, pause: PauseState | None = None):
        self.rules = rules or PrivacyRules()
        self.pause = pause
        self._apps = {a.lower() for a in self.rules.excluded_apps}
        self._titles = [re.compile(p, re.IGNORECASE) for p in self.rules.excluded_title_patterns]
        self._domains = [d.lower().lstrip(".") for d in self.rules.excluded_domains]
        self._secrets = [(k, re.compile(p)) for k, p in [*SECRET_PATTERNS, *self.rules.extra_redactions.items()]]

    def excluded(self, app: str | None, title: str | None, url: str | None = None) -> bool:
        if app and app.lower() in self._apps:
            return True
        if title and any(p.search(title) for p in self._titles):
            return True
        host = (urlparse(url if "//" in url else f"//{url}").hostname or "").lower() if url else ""
        return any(host == d or host.endswith("." + d) for d in self._domains)

    def blocks_frame(self, visible: Sequence[WindowInfo]) -> bool:
        """True when an excluded window is visible, so the whole frame must be dropped."""
        return any(w.visible and self.excluded(w.app, w.title, w.url) for w in visible)

    def redact(self, text: str) -> str:
        for kind, pattern in self._secrets:
            text = pattern.sub(f"[REDACTED:{kind}]", text)
        return CARD_CANDIDATE.sub(self._card, text)

    @staticmethod
    def _card(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return "[REDACTED:card]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group()

    def apply(self, obs: Observation, visible: Sequence[WindowInfo] = ()) -> Observation | None:
        """The observation as it may be stored, or None when it must not be."""
        if self.pause is not None and self.pause.paused():
            return None
        if self.excluded(obs.app, obs.window_title, obs.url):
            return None
        if self.blocks_frame(visible):
            return None
        return obs.model_copy(update={
            "text": self.redact(obs.text),
            "window_title": self.redact(obs.window_title) if obs.window_title else obs.window_title,
            "url": self.redact(obs.url) if obs.url else obs.url,
        })

    def apply_all(self, observations: Iterable[Observation]) -> list[Observation]:
        return [o for o in (self.apply(x) for x in observations) if o is not None]
