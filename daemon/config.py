"""Settings: one optional TOML file, `TACIT_*` environment overrides, safe defaults.

Precedence, highest first: environment (`TACIT_DATA_DIR`,
`TACIT_RETRIEVAL__MMR_LAMBDA`, ...), then the file, then the defaults. The
file lives in the platform config dir (platformdirs) unless `TACIT_CONFIG`
or `--config` names another. No file at all is a valid setup.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from tacitd.memory.retention import RetentionPolicy
from tacitd.memory.retrieve import RetrievalParams
from tacitd.observers.privacy import PrivacyRules

APP = "tacit"


class ConfigError(Exception):
    """A config file or override that cannot be used; says which key and where."""


def default_config_path() -> Path:
    return Path(os.environ.get("TACIT_CONFIG") or platformdirs.user_config_path(APP) / "config.toml")


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(default="tacit.db", pattern=r"^[^/\\]+$")


class ModelSettings(BaseModel):
    """Which models to use. `llm` and `embedder` take a preset name or a GGUF path."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["llama_cpp", "openai"] = "llama_cpp"
    llm: str = "qwen2.5-coder-1.5b-instruct"
    embedder: str = "all-minilm-l6-v2"
    cache_dir: Path = Field(default_factory=lambda: platformdirs.user_cache_path(APP) / "models")
    n_ctx: int = Field(default=4096, ge=512, le=131072)
    n_threads: int | None = Field(default=None, ge=1, description="default: physical cores")
    n_gpu_layers: int | None = Field(default=None, description="default: all when the build can offload")
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = "default"
    openai_api_key_env: str = "TACIT_OPENAI_API_KEY"


class ObserverSettings(BaseModel):
    """Which observers run and how often. Watching files is opt-in: `files_paths` starts empty."""

    model_config = ConfigDict(extra="forbid")

    enabled: list[Literal["screen", "window", "input", "files"]] = ["screen", "window", "input", "files"]
    screen_interval_s: float = Field(default=5.0, ge=0.5)
    idle_after_s: float = Field(default=120.0, ge=5)
    ocr_lang: str = "eng"
    keep_screenshots: bool = False
    keep_screenshots_ttl_h: float = Field(default=24.0, gt=0)
    files_paths: list[Path] = Field(default_factory=list)
    privacy: PrivacyRules = PrivacyRules()


class RetentionSettings(BaseModel):
    """How long raw observation text is kept, and how large the database may grow (memory/retention.py).

    Run by the daemon's scheduler and by `tacit gc`. Kept screenshots expire
    after `observers.keep_screenshots_ttl_h`, which `tacit gc` applies too.
    """

    model_config = ConfigDict(extra="forbid")

    observations_days: float = Field(default=30.0, ge=0, description="then only a snippet stays; 0: never")
    max_db_mb: float = Field(default=2048.0, ge=0, description="oldest observations go past this; 0: no budget")

    def policy(self) -> RetentionPolicy:
        return RetentionPolicy(observations_days=self.observations_days or None, max_db_mb=self.max_db_mb or None)


class DaemonSettings(BaseModel):
    """The daemon's own knobs (daemon/runtime.py, worker.py, lifecycle.py)."""

    model_config = ConfigDict(extra="forbid")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_max_mb: float = Field(default=5.0, gt=0,
                              description="size of the log file (--log-file) before it is rotated; read at start")
    log_backups: int = Field(default=2, ge=1, description="rotated log files kept beside the current one")
    pipeline: bool = Field(default=True, description="run the model child; off: capture and serve only")
    user_name: str = Field(default="the user", description="how the model refers to you in claims")
    flush_interval_s: float = Field(default=60.0, ge=1, description="how often queued observations are processed")
    stats_interval_min: float = Field(default=30.0, ge=1)
    checkpoint_interval_min: float = Field(default=10.0, ge=1)
    maintenance_hour: int = Field(default=3, ge=0, le=23, description="local hour of the nightly backup and gc")
    backup_keep: int = Field(default=7, ge=0, description="nightly backups kept; 0: no nightly backup")
    worker_max_tries: int = Field(default=3, ge=1, description="tries of a segment before it waits in quarantine")
    worker_backoff_s: float = Field(default=1.0, gt=0, description="first delay before restarting a dead model child")
    worker_max_backoff_s: float = Field(default=60.0, gt=0)
    stop_timeout_s: float = Field(default=6.0, gt=0, le=7,
                                  description="wait for the model child to finish, then kill it (the exit stays < 10 s)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TACIT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path(APP))
    store: StoreSettings = StoreSettings()
    retrieval: RetrievalParams = RetrievalParams()
    models: ModelSettings = ModelSettings()
    observers: ObserverSettings = ObserverSettings()
    retention: RetentionSettings = RetentionSettings()
    daemon: DaemonSettings = DaemonSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):  # type: ignore[no-untyped-def]
        # The file's values arrive as init kwargs; the environment overrides them.
        return (env_settings, init_settings)

    @property
    def db_path(self) -> Path:
        return self.data_dir.expanduser() / self.store.filename

    @property
    def pause_path(self) -> Path:
        return self.data_dir.expanduser() / "paused.json"

    @property
    def pid_path(self) -> Path:
        """The daemon's pidfile, locked (flock) while it runs."""
        return self.data_dir.expanduser() / "tacit.pid"

    @property
    def log_path(self) -> Path:
        """Where a detached daemon (`tacit start`) writes its log."""
        return self.data_dir.expanduser() / "daemon.log"

    @property
    def backups_path(self) -> Path:
        """The nightly backups (VACUUM INTO, encrypted like the store)."""
        return self.data_dir.expanduser() / "backups"

    @property
    def screenshots_path(self) -> Path:
        """Where screenshots go when `observers.keep_screenshots` is on."""
        return self.data_dir.expanduser() / "screenshots"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc


def load_settings(config_path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from file + environment; `overrides` (e.g. from CLI flags) win over both."""
    path = config_path or default_config_path()
    data = _read_toml(path)
    try:
        settings = Settings(**data)
        return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(
            f"{path}: invalid setting(s) — {problems} (environment TACIT_* values are checked too)"
        ) from exc
