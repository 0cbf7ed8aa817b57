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
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from pydantic import ValidationError

from .db import NotFound, StoreError
from .schema import SCHEMA_VERSION
from .store import Store
from .types import EvidenceLink, Feedback, Observation, Proposition

FORMAT = "tacit-export"


class ImportError_(StoreError):
    """A line of an import file that cannot be taken as it is."""


def export_records(store: Store) -> Iterator[dict[str, Any]]:
    """Every record, read in one snapshot so that links never point at rows written later.

    The snapshot holds the store's lock until the export is consumed.
    """
    with store.snapshot():
        index = store.vector_index()
        yield {
            "type": "header",
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "vector_index": {"embedder": index[0], "dim": index[1]} if index else None,
        }
        for obs in store.all_observations():
            yield {"type": "observation", **obs.model_dump(mode="json")}
        for p in store.all_propositions():
            yield {"type": "proposition", **p.model_dump(mode="json")}
        for link in store.evidence_links():
            yield {"type": "evidence", **link.model_dump(mode="json")}
        for fb in store.all_feedback():
            yield {"type": "feedback", **fb.model_dump(mode="json")}
        for pid, vec in store.all_embeddings():
            yield {"type": "embedding", "id": pid, "f32": base64.b64encode(vec.tobytes()).decode()}


def export_jsonl(store: Store) -> Iterator[str]:
    for record in export_records(store):
        yield json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def export_markdown(store: Store) -> Iterator[str]:
    yield "# What tacit knows\n\n"
    by_status: dict[str, list[Proposition]] = {"current": [], "superseded": [], "rejected": []}
    for p in store.all_propositions():
        by_status[p.status].append(p)
    for status, items in by_status.items():
        if not items:
            continue
        yield f"## {status.capitalize()} ({len(items)})\n\n"
        for p in sorted(items, key=lambda p: p.updated_at, reverse=True):
            yield (
                f"- **{p.text}** — confidence {p.confidence:.2f}, {p.source}, v{p.version}, "
                f"updated {p.updated_at.astimezone():%Y-%m-%d} (#{p.id})\n"  # the reader's own date
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
                if not isinstance(record, dict) or "type" not in record:
                    raise ValueError('no "type" field: not a line of a tacit export')
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
        if _exists(obs, store.get_observation):
            return False
        store.add_observations([obs])
        return True
    if kind == "proposition":
        p = Proposition.model_validate(record)
        if p.id is None or p.revision_group is None:
            raise ValueError("proposition needs id and revision_group")
        if _exists(p, store.get):
            return False
        store.add_propositions([(p, (), None)])
        return True
    if kind == "evidence":
        store.add_evidence([EvidenceLink.model_validate(record)])
        return True
    if kind == "feedback":
        fb = Feedback.model_validate(record)
        if _exists(fb, lambda fid: _feedback(store, fb.proposition_id, fid)):
            return False
        store.add_feedback([fb])
        return True
    if kind == "embedding":
        vec = np.frombuffer(base64.b64decode(record["f32"]), dtype=np.float32)
        store.set_embedding(int(record["id"]), vec)
        return True
    raise ValueError(f"unknown record kind {kind!r}")


def _feedback(store: Store, proposition_id: int, feedback_id: int) -> Feedback:
    for fb in store.feedback_for(proposition_id):
        if fb.id == feedback_id:
            return fb
    raise NotFound(f"no feedback with id {feedback_id}")


def _exists(incoming: Any, fetch: Callable[[int], Any]) -> bool:
    """True if an identical record is there; a different one with the same id is a conflict."""
    if incoming.id is None:
        return False
    try:
        stored = fetch(incoming.id)
    except NotFound:
        return False
    if stored != incoming:
        raise StoreError(f"{type(incoming).__name__.lower()} id {incoming.id} already exists with different content")
    return True
