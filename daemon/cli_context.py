"""What every `tacit` command shares: the per-invocation App, `--json`, and time parameters.

It lives apart from `cli.py` so that the modules defining commands
(`cli_memory`, `cli_models`, `observe`, ...) never import the root group:
`cli.py` names them in one table and imports each only when it is used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .timespec import parse_when

if TYPE_CHECKING:  # imported where used, so that commands which never open the store start quickly
    import numpy as np

    from tacitd.memory.store import Store
    from tacitd.models.embed import Embedder

    from .config import Settings


class App:
    """Per-invocation state: settings, and the store opened on first use."""

    def __init__(self, config_path: Path | None, data_dir: Path | None):
        self._config_path = config_path
        self._data_dir = data_dir
        self._settings: Settings | None = None
        self._store: Store | None = None
        self._embedder: Embedder | None | bool = False

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from .config import load_settings

            self._settings = load_settings(self._config_path, data_dir=self._data_dir)
        return self._settings

    @property
    def embedder(self) -> Embedder | None:
        """The configured embedder, or None (BM25 only) with one warning when it is not installed."""
        if self._embedder is False:
            from tacitd.models.errors import ModelError

            from .backends import build_embedder

            try:
                self._embedder = build_embedder(self.settings.models)
            except ModelError as exc:
                click.echo(f"warning: no embedder, using full-text search only ({exc})", err=True)
                self._embedder = None
        return self._embedder

    def embed(self, text: str, query: bool = False) -> np.ndarray | None:
        """The text's vector, if it can go into this store's vector index.

        A query is embedded as one (`embed_query`): models such as e5 put a
        different prefix on queries than on the passages they are matched to.
        """
        from .ops import embed_for

        return embed_for(self.store, self.embedder, text, query,
                         warn=lambda message: click.echo(f"warning: {message}", err=True))

    @property
    def store(self) -> Store:
        if self._store is None:
            from tacitd.memory.store import Store

            self._store = Store(self.settings.db_path)
            click.get_current_context().call_on_close(self._store.close)
        return self._store


pass_app = click.make_pass_decorator(App)


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON for scripts (times in UTC, ISO 8601).")(fn)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


class When(click.ParamType):
    """A point in time given as a span back from now (`2d`) or a local ISO date/time."""

    name = "when"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
