"""Ingest: observations from a JSON Lines file join the queue, through the privacy filter.

One `memory.types.Observation` per line (`observer`, `app`,
`window_title`, `url`, `text`, `captured_at`, `duration_s`, `meta`):
`parse` reads them, `admit` filters them, and `queue.enqueue` stores and
queues them in one transaction. All or nothing: every line is checked
before anything is stored, and a bad line is named by its number. `captured_at` is required, because a missing one would become the
time of the ingest, and tacit keeps when things were seen, not when they
were processed. `id` is refused: tacit numbers observations itself.

The exclusion rules and the redaction apply as to any capture (an excluded
window is dropped, secrets become `[REDACTED:kind]`). Pause does not: it
stops capture, and an ingest is the user's own explicit act.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError

from tacitd.memory.types import Observation
from tacitd.observers.privacy import PrivacyFilter

Tick = Callable[[int], None]  # progress: how many more records are done


class IngestError(ValueError):
    """A line that cannot be ingested; nothing was stored."""


@dataclass
class IngestReport:
    read: int = 0  # records in the file
    excluded: int = 0  # dropped whole by an exclusion rule
    redacted: int = 0  # stored with something redacted
    ids: list[int] = field(default_factory=list)  # stored and queued

    def summary(self) -> dict[str, int]:
        return {"read": self.read, "ingested": len(self.ids), "excluded": self.excluded, "redacted": self.redacted}


def _fail(number: int, why: str) -> IngestError:
    return IngestError(f"line {number}: {why}; nothing was ingested")


def parse_line(number: int, line: str) -> Observation:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _fail(number, f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise _fail(number, f"expected a JSON object, got {type(record).__name__}")
    if "id" in record:
        raise _fail(number, "id: tacit numbers observations itself; remove the field")
    if "captured_at" not in record:
        raise _fail(number, "captured_at: required (when it was seen)")
    try:
        return Observation.model_validate(record)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "record"
        raise _fail(number, f"{where}: {err['msg']}") from None


def parse(lines: Iterable[str]) -> list[Observation]:
    """Every record of the file, or an IngestError naming the first bad line. Blank lines are skipped."""
    return [parse_line(number, line) for number, line in enumerate(lines, start=1) if line.strip()]


def admit(observations: Iterable[Observation], privacy: PrivacyFilter, report: IngestReport,
          tick: Tick | None = None) -> list[Observation]:
    """What may be stored: excluded records dropped, secrets redacted (counted in `report`)."""
    passed = []
    for o in observations:
        report.read += 1
        kept = privacy.apply(o)
        if kept is None:
            report.excluded += 1
        else:
            report.redacted += kept != o
            passed.append(kept)
        if tick:
            tick(1)
    return passed
