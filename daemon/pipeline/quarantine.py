"""Quarantine: a segment whose step failed waits with its error and the model's raw output.

Nothing is lost silently and nothing loops forever:
- a failed try is retried after a delay that doubles each time
  (`base_delay_s`, 2x, 4x, ... up to `max_delay_s`);
- after `max_tries` tries the segment waits for the user
  (`tacit quarantine retry KEY`, or `drop KEY`);
- a segment during which the process died (a llama.cpp crash, a kill) is
  counted too, because every try is committed before it starts: one that
  kills the process each time is quarantined instead of restarting forever.

The store keeps the entries (memory/queue.py); this module decides when to retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tacitd.memory.queue import QuarantineEntry
from tacitd.memory.store import Store
from tacitd.models.errors import SchemaError

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class RetryPolicy:
    max_tries: int = 3
    base_delay_s: float = 60.0
    max_delay_s: float = 6 * 3600.0

    def __post_init__(self) -> None:
        if self.max_tries < 1 or self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("retry policy: max_tries >= 1 and 0 <= base_delay_s <= max_delay_s")

    def next_try(self, tries: int, now: datetime) -> datetime | None:
        """When to try again after `tries` failed tries; None once they are used up."""
        if tries >= self.max_tries:
            return None
        return now + timedelta(seconds=min(self.base_delay_s * 2 ** (tries - 1), self.max_delay_s))


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


def raw_output(exc: BaseException) -> str:
    """The model's output when the failure carries it (a SchemaError does)."""
    return exc.raw if isinstance(exc, SchemaError) else ""


def record_failure(store: Store, key: str, exc: BaseException, tries: int, now: datetime,
                   policy: RetryPolicy) -> QuarantineEntry:
    """Quarantine a segment after a failed try, due again by the policy's backoff."""
    return store.queue.quarantine(key, describe(exc), raw_output(exc), tries, policy.next_try(tries, now), now)


def record_crashes(store: Store, key: str, tries: int, now: datetime) -> QuarantineEntry:
    """Quarantine a segment whose tries are used up and whose last try ended the process: given up."""
    error = f"given up after {tries} tries; the last one ended the process (a model crash or a kill)"
    return store.queue.quarantine(key, error, "", tries, None, now)
