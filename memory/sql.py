"""SQL fragments and row conversions shared by the store's parts.

Times are stored as fixed-width UTC text so that string order is time order
in SQL; filters are built here once, for the relational tables and for the
vec0 index, so that the two paths cannot disagree on what a filter means.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .types import Observation, Proposition, SearchFilters

PROPOSITION_COLUMNS = (
    "id text reasoning confidence half_life_days source status version revision_group "
    "supersedes valid_from valid_to created_at updated_at"
).split()
OBSERVATION_COLUMNS = "id observer app window_title url text captured_at duration_s meta".split()
ALL_STATUSES = SearchFilters(status=("current", "superseded", "rejected"))


def to_db_time(value: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order in SQL."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def placeholders(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def proposition_row(p: Proposition) -> dict[str, Any]:
    row = p.model_dump()
    for key in ("valid_from", "valid_to", "created_at", "updated_at"):
        if row[key] is not None:
            row[key] = to_db_time(row[key])
    return row


def observation_row(o: Observation) -> dict[str, Any]:
    row = o.model_dump()
    row["captured_at"] = to_db_time(o.captured_at)
    row["meta"] = json.dumps(o.meta, sort_keys=True)
    return row


def observation_from_row(row: dict[str, Any]) -> Observation:
    return Observation.model_validate({**row, "meta": json.loads(row["meta"])})


def fts_query(words: Iterable[str], op: str = "OR") -> str:
    """Quote each word so that user text can never be read as FTS5 syntax; join them with OR or AND."""
    return f" {op} ".join(f'"{w}"' for w in words)


APP_IDS = (
    "SELECT e.proposition_id FROM evidence e JOIN observations o ON o.id = e.observation_id "
    "WHERE o.app = ?"
)


def filter_sql(filters: SearchFilters, alias: str = "p.") -> tuple[str, list[Any]]:
    """A WHERE fragment for the given filters, over `propositions` or the vec0 index.

    The vec0 index carries status (its partition key), confidence, source
    and updated_at (metadata columns) under the same names (alias ""), so
    the same constraints hold inside its KNN search; the app filter is a
    rowid set in both.
    """
    clauses = [f"{alias}status IN ({placeholders(filters.status)})"]
    params: list[Any] = [*filters.status]
    if filters.min_confidence > 0:  # every confidence is >= 0; the test would cost a KNN search a row-by-row check
        clauses.append(f"{alias}confidence >= ?")
        params.append(filters.min_confidence)
    if filters.source:
        clauses.append(f"{alias}source IN ({placeholders(filters.source)})")
        params.extend(filters.source)
    if filters.since:
        clauses.append(f"{alias}updated_at >= ?")
        params.append(to_db_time(filters.since))
    if filters.until:
        clauses.append(f"{alias}updated_at <= ?")
        params.append(to_db_time(filters.until))
    if filters.app:
        clauses.append(f"{alias + 'id' if alias else 'rowid'} IN ({APP_IDS})")
        params.append(filters.app)
    return " AND ".join(clauses), params
