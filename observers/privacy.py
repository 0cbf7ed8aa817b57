"""The privacy filter: every observation passes through here before any sink sees it.

Three defences, in order:
1. Pause: while paused, nothing passes. The state lives in a small JSON file
   so it survives a restart.
2. Exclusion: an observation from an excluded app, window title or URL domain
   is dropped whole; so is a screen frame in which an excluded window is
   visible (not merely focused), where the platform can tell.
3. Redaction: secrets in the text, title, URL and meta become
   `[REDACTED:kind]` before storage (redact.py: robust to OCR noise).
Files take the same path: a path from an excluded context is dropped whole.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tacitd.memory.types import Observation

from .redact import MARKER, Redactor
from .secret_rules import secret_name

PASSWORD_MANAGERS = ["keepassxc", "keepass", "1password", "bitwarden", "lastpass", "dashlane", "proton pass",
                     "keychain access", "keychain", "enpass", "nordpass", "keeweb"]
VAULT_SUFFIXES = ["kdbx", "kdb", "1pif", "agilekeychain", "opvault", "keychain-db", "psafe3"]
OWN_APP = "tacit"  # our own TUI shows memories: never observe it back
DEFAULT_APPS = [*PASSWORD_MANAGERS, "protonpass", "passwords",  # Apple's Passwords app (by its app name only)
                OWN_APP]
DEFAULT_TITLES = [
    r"\(private browsing\)", r"mozilla firefox private browsing", r"\bincognito\b", r"inprivate",
    r"\bprivate browsing\b", r"^tacit\b", r"\bprivate (?:window|tab)\b", r"\bbrave \(private\)",
    r"\btor browser\b",
    # a password manager's window or a vault file, whatever app shows it ("Passwords.kdbx - KeePassXC" in a terminal)
    r"\b(?:keepassxc|keepass|1password|bitwarden|lastpass|dashlane|proton\s*pass|keychain|enpass|nordpass|keeweb)\b",
    rf"\.(?:{'|'.join(re.escape(s) for s in VAULT_SUFFIXES)})\b",
]
DEFAULT_DOMAINS = ["1password.com", "bitwarden.com", "lastpass.com", "dashlane.com", "accounts.google.com",
                   "pass.proton.me"]
# Paths the files observer never records (matched case-insensitively against the whole path), on top of the
# title patterns and excluded app names, which apply to paths too.
DEFAULT_PATHS = [
    r"(?:^|/)(?:\.ssh|\.gnupg|\.password-store|\.aws|\.kube|\.docker)(?:/|$)",
    r"(?:^|/)[^/]*(?:incognito|inprivate|private[ _\-]?(?:browsing|downloads?))[^/]*/",
    r"(?:^|/)\.local/share/keyrings(?:/|$)",
    r"(?:^|/)(?:\.local/share|Library/Application Support|AppData/(?:Local|Roaming))/tacit(?:/|$)",  # our own data
    # files that hold credentials: netrc, pgpass, git's credential store, dotenv, browsers' password stores
    r"(?:^|/)(?:[._]netrc|\.pgpass|\.git-credentials|\.env(?:\.[^/]*)?|login data(?: for account)?(?:-journal)?"
    r"|logins(?:-backup)?\.json|key[34]\.db)$",
]


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
    excluded_path_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_PATHS))
    extra_redactions: dict[str, str] = Field(default_factory=dict, description="kind -> regex")

    @field_validator("excluded_title_patterns", "excluded_path_patterns")
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
    """Pause and resume, persisted as JSON (`{"until": iso | null}`) so a restart keeps it.

    Every observer asks before each poll, and the files watcher on every event, so the parsed
    file is cached for as long as its stat (inode, size, mtime) is unchanged.
    """

    def __init__(self, path: Path):
        self.path = path
        self._cached: tuple[tuple[int, int, int], dict | None] | None = None

    def pause(self, duration: timedelta | None = None) -> datetime | None:
        until = datetime.now(UTC) + duration if duration else None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"paused": True, "until": until.isoformat() if until else None}))
        os.replace(tmp, self.path)
        return until

    def resume(self) -> None:
        self.path.unlink(missing_ok=True)

    def _state(self) -> dict | None:
        """The parsed file; None when it is unreadable (which counts as paused)."""
        st = self.path.stat()  # FileNotFoundError: not paused
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._cached is None or self._cached[0] != key:
            try:
                state = json.loads(self.path.read_text())
            except (OSError, ValueError):
                state = None
            self._cached = (key, state if isinstance(state, dict) else None)
        return self._cached[1]

    def paused(self, now: datetime | None = None) -> bool:
        try:
            state = self._state()
        except FileNotFoundError:
            return False
        except OSError:
            return True  # unreadable state: fail closed
        if state is None:
            return True
        until = state.get("until")
        try:
            return bool(state.get("paused")) and (
                until is None or datetime.fromisoformat(until) > (now or datetime.now(UTC)))
        except (TypeError, ValueError):
            return True


    def until(self) -> datetime | None:
        """When a pause ends: None while not paused, or paused until resumed (check `paused()` first)."""
        try:
            when = (self._state() or {}).get("until")
            return datetime.fromisoformat(when) if isinstance(when, str) else None
        except (OSError, ValueError):
            return None



def host_of(url: str | None) -> str:
    """The URL's host, lowercased ("docs.python.org", also from a bare "docs.python.org/3/"); '' when there
    is none or the URL cannot be parsed (urlparse raises on "http://[", text an app may push)."""
    if not url:
        return ""
    try:
        return (urlparse(url if "//" in url else f"//{url}").hostname or "").lower()
    except ValueError:
        return ""

class PrivacyFilter:
    def __init__(self, rules: PrivacyRules | None = None, pause: PauseState | None = None,
                 own_data: Path | None = None):
        """`own_data`: tacit's data dir when it is not the default one; paths in it are never observed."""
        self.rules = rules or PrivacyRules()
        self.pause = pause
        self._apps = {a.lower() for a in self.rules.excluded_apps}
        self._titles = [re.compile(p, re.IGNORECASE) for p in self.rules.excluded_title_patterns]
        self._paths = [re.compile(p, re.IGNORECASE) for p in self.rules.excluded_path_patterns]
        self._domains = [d.lower().lstrip(".") for d in self.rules.excluded_domains]
        self.redactor = Redactor(self.rules.extra_redactions)
        own = [platformdirs.user_data_path(OWN_APP), *([own_data] if own_data else [])]
        self._own_dirs = {p.expanduser().absolute() for p in own}

    def paused(self) -> bool:
        return self.pause is not None and self.pause.paused()

    def excluded(self, app: str | None, title: str | None, url: str | None = None) -> bool:
        if app and app.lower() in self._apps:
            return True
        if title and any(p.search(title) for p in self._titles):
            return True
        host = host_of(url)
        if url and not host:  # unparseable ('http://['): excluded when it so much as names an excluded domain
            return any(d in url.lower() for d in self._domains)
        return any(host == d or host.endswith("." + d) for d in self._domains)

    def excluded_path(self, path: str | Path) -> bool:
        """A file path from an excluded context: a vault file, a secrets directory or file, a private-browsing
        download directory, a folder named after an excluded app (~/.config/KeePassXC/...), or tacit's
        own data dir (the default one, and `own_data`)."""
        text = str(path)
        resolved = Path(text).expanduser()
        if any(resolved == own or own in resolved.parents for own in self._own_dirs):
            return True
        if any(part.lower() in self._apps - {OWN_APP} for part in resolved.parts):
            return True  # a folder named tacit is the user's; only tacit's own data dir is excluded
        return any(p.search(text) for p in (*self._paths, *self._titles))

    def blocks_frame(self, visible: Sequence[WindowInfo]) -> bool:
        """True when an excluded window is visible, so the whole frame must be dropped."""
        return any(w.visible and self.excluded(w.app, w.title, w.url) for w in visible)

    def redact(self, text: str) -> str:
        return self.redactor.redact(text)

    def redact_json(self, value: Any) -> Any:
        """`meta` gets the same redaction as `text`: every string in it, keys included; and a value under
        a key that names a secret (`{"password": "..."}`) goes whole, as a label's value does in text."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact(str(k)): self._secret_value(v) if isinstance(v, str) and v and secret_name(str(k))
                    else self.redact_json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_json(v) for v in value]
        return value

    def _secret_value(self, value: str) -> str:
        """A value under a secret's key: one marker, of the kind the redactor names when it sees it whole."""
        redacted = self.redact(value)
        return redacted if MARKER.fullmatch(redacted) else "[REDACTED:password]"

    def apply(self, obs: Observation, visible: Sequence[WindowInfo] = ()) -> Observation | None:
        """The observation as it may be stored, or None when it must not be."""
        if self.paused():
            return None
        if self.excluded(obs.app, obs.window_title, obs.url):
            return None
        if self.blocks_frame(visible):
            return None
        if isinstance(path := obs.meta.get("path"), str) and self.excluded_path(path):
            return None
        return obs.model_copy(update={
            "text": self.redact(obs.text),
            "window_title": self.redact(obs.window_title) if obs.window_title else obs.window_title,
            "url": self.redact(obs.url) if obs.url else obs.url,
            "meta": self.redact_json(obs.meta),
        })

    def apply_all(self, observations: Iterable[Observation]) -> list[Observation]:
        return [o for o in (self.apply(x) for x in observations) if o is not None]
