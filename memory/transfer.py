"""Export and import: JSON Lines that round-trip exactly, and Markdown for reading.

The JSONL stream holds every table that carries meaning (observations,
propositions with all their versions, evidence links, feedback, float
vectors as base64 float32), so `import` into an empty store rebuilds the
same memory with the same ids. Importing is one transaction: a bad line
changes nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from pydantic import ValidationError

from .db import StoreError
from .schema import SCHEMA_VERSION
from .store import OBSERVATION_COLUMNS, Store, _observation_row
from .types import EvidenceLink, Feedback, Observation, Proposition

FORMAT = "tacit-export"


class ImportError_(StoreError):
    """A line of an import file that cannot be taken as it is."""


def export_records(store: Store) -> Iterator[dict[str, Any]]:
    index = store.vector_index()
    yield {
        "type": "header",
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "vector_index": {"embedder": index[0], "dim": index[1]} if index else None,
    }
    for row in store.db.query("SELECT id FROM observations ORDER BY id"):
        yield {"type": "observation", **store.get_observation(row["id"]).model_dump(mode="json")}
    for row in store.db.query("SELECT * FROM propositions ORDER BY id"):
        yield {"type": "proposition", **Proposition.model_validate(row).model_dump(mode="json")}
    for link in store.evidence_links():
        yield {"type": "evidence", **link.model_dump(mode="json")}
    for row in store.db.query("SELECT * FROM feedback ORDER BY id"):
        yield {"type": "feedback", **Feedback.model_validate(row).model_dump(mode="json")}
    for row in store.db.query("SELECT id, embedding FROM proposition_embeddings ORDER BY id"):
        yield {"type": "embedding", "id": row["id"], "f32": base64.b64encode(row["embedding"]).decode()}


def export_jsonl(store: Store) -> Iterator[str]:
    for record in export_records(store):
        yield json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def export_markdown(store: Store) -> Iterator[str]:
    yield "# What tacit knows\n\n"
    for status in ("current", "superseded", "rejected"):
        rows = list(store.db.query(
            "SELECT * FROM propositions WHERE status = ? ORDER BY updated_at DESC", [status]))
        if not rows:
            continue
        yield f"## {status.capitalize()} ({len(rows)})\n\n"
        for row in rows:
            p = Proposition.model_validate(row)
            yield (
                f"- **{p.text}** — confidence {p.confidence:.2f}, {p.source}, v{p.version}, "
                f"updated {p.updated_at:%Y-%m-%d} (#{p.id})\n"
            )
            if p.reasoning:
                yield f"  - why: {p.reasoning}\n"
        yield "\n"


def import_jsonl(store: Store, lines: Iterable[str]) -> dict[str, int]:
    """Load an export. Records already present and identical are skipped."""
    counts = {"observation": 0, "proposition": 0, "evidence": 0, "feedback": 0, "embedding": 0, "skipped": 0}
    with store.transaction():
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                kind = record.pop("type")
                added = _import_record(store, kind, record)
            except (ValueError, KeyError, TypeError, ValidationError) as exc:
                raise ImportError_(f"line {number}: {_short(exc)}; nothing was imported") from exc
            except StoreError as exc:
                raise ImportError_(f"line {number}: {exc}; nothing was imported") from exc
            counts[kind if added else "skipped"] += 1
    return counts


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}"
    return f"{type(exc).__name__}: {exc}"


def _import_record(store: Store, kind: str, record: dict[str, Any]) -> bool:
    if kind == "header":
        if record.get("format") != FORMAT:
            raise ValueError(f"not a tacit export (format {record.get('format')!r})")
        if index := record.get("vector_index"):
            store.ensure_vector_index(index["embedder"], int(index["dim"]))
        return False
    if kind == "observation":
        obs = Observation.model_validate(record)
        return _insert_once(store, "observations", obs.id, _observation_row(obs), OBSERVATION_COLUMNS)
    if kind == "proposition":
        p = Proposition.model_validate(record)
        if p.id is None or p.revision_group is None:
            raise ValueError("proposition needs id and revision_group")
        if _exists(store, "propositions", p.id, Proposition.model_validate, p):
            return False
        store._insert_proposition(p)
        return True
    if kind == "evidence":
        link = EvidenceLink.model_validate(record)
        store._link(link.proposition_id, [link.observation_id], link.created_at)
        return True
    if kind == "feedback":
        fb = Feedback.model_validate(record)
        if _exists(store, "feedback", fb.id, Feedback.model_validate, fb):
            return False
        store._insert_feedback(fb)
        return True
    if kind == "embedding":
        vec = np.frombuffer(base64.b64decode(record["f32"]), dtype=np.float32)
        pid = int(record["id"])
        store._store_vector(pid, vec, index=store.get(pid).status != "superseded")
        return True
    raise ValueError(f"unknown record kind {kind!r}")


def _exists(store: Store, table: str, pk: int | None, parse: Any, incoming: Any) -> bool:
    """True if an identical record is there; a different one with the same id is a conflict."""
    if pk is None:
        return False
    rows = list(store.db.query(f"SELECT * FROM {table} WHERE id = ?", [pk]))
    if not rows:
        return False
    if parse(rows[0]) != incoming:
        raise StoreError(f"{table} id {pk} already exists with different content")
    return True


def _insert_once(store: Store, table: str, pk: int | None, row: dict[str, Any], columns: list[str]) -> bool:
    if _exists(store, table, pk, lambda r: r, {c: row[c] for c in columns}):
        return False
    store.db.execute(
        f"INSERT INTO {table} ({','.join(columns)}) VALUES ({','.join('?' * len(columns))})",
        [row[c] for c in columns],
    )
    return True
