"""Database growth: days of a busy workday's observations, with retention run as the daemon runs it.

    python bench/growth.py --json                   # 30 days, the default retention (30 days, 2048 MB)
    python bench/growth.py --days 45 --json         # past 30 days: old observations go (cited ones: a snippet)
    python bench/growth.py --max-db-mb 40 --json    # a small budget, to watch it bite

A simulated workday (9:00 to 18:00, times in UTC), with the default
observers' rates:
- screen: a 5 s tick, about 40% of ticks see changed text (an observation
  holds only the new lines: a few hundred characters, log-normal; one in
  ten is a full frame of a few thousand), with OCR timings in meta;
- window: about 300 focus changes (title, app, seconds focused, no text);
- input: about 60 idle spans; files: about 200 saves (path and size);
- learning: about 30 propositions a day, each citing 4 observations, with a
  384-dim vector, a tenth of them revisions of earlier ones.

Text is drawn from a Zipf-distributed vocabulary (about 20,000 words), so
the full-text index grows as it does on real screens rather than on a
repeated sentence.

After each day, `Store.gc` runs with the policy (the daemon's scheduled job
does the same) and the file is measured: its size on disk with its WAL,
and the bytes in use. The store is encrypted, as by default (a key file in
the temp dir), unless `--plain`.

JSON: the settings, one row per day (observations, propositions,
file_mb, with_wal_mb, used_mb, observations cut to a snippet, deleted
as expired and deleted for the budget that day, gc time), and a summary: MB per day over the first week, the largest file,
and `budget_held`: after every day's gc, the bytes in use were within the
budget and the file within the budget plus the largest day's growth (gc
runs once a day here; the daemon runs it more often). The WAL beside it
is bounded on its own (`journal_size_limit`, db.py): `max_wal_mb`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from tacitd.memory.keys import KeySource
from tacitd.memory.retention import MB, RetentionPolicy
from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
APPS = [("Code", "main.py — tacit — Visual Studio Code"), ("Firefox", "Pull request #412 · tacit — Mozilla Firefox"),
        ("Slack", "#eng-memory | Acme — Slack"), ("Terminal", "sam@laptop: ~/src/tacit"),
        ("Thunderbird", "Inbox — sam@acme.example"), ("Obsidian", "Daily note 2026-03-02 — Obsidian"),
        ("Zoom", "Zoom Meeting"), ("Figma", "Onboarding flow v3 – Figma")]
DIM = 384


class Day:
    """One simulated workday's observations and what was learned from them."""

    def __init__(self, rng: np.random.Generator, words: np.ndarray):
        self.rng, self.words = rng, words

    def text(self, chars: int) -> str:
        n = max(1, chars // 7)
        ranks = np.minimum(self.rng.zipf(1.15, n), len(self.words)) - 1
        return " ".join(self.words[ranks])[:chars]

    def observations(self, date: datetime) -> list[Observation]:
        rng, out = self.rng, []
        ticks = np.arange(9 * 3600, 18 * 3600, 5)
        for t in ticks[rng.random(len(ticks)) < 0.4]:
            app, title = APPS[int(rng.integers(len(APPS)))]
            full = rng.random() < 0.1
            chars = int(rng.lognormal(8.0, 0.4)) if full else int(rng.lognormal(5.8, 0.8))
            out.append(Observation(observer="screen", app=app, window_title=title, text=self.text(chars),
                                   captured_at=date + timedelta(seconds=int(t)),
                                   meta={"timings_ms": {"capture_ms": 21.3, "ocr_ms": 612.4, "redact_ms": 0.2},
                                         "full_frame": bool(full), "changed_lines": int(chars // 40)}))
        for t in rng.integers(9 * 3600, 18 * 3600, 300):
            app, title = APPS[int(rng.integers(len(APPS)))]
            out.append(Observation(observer="window", app=app, window_title=title, duration_s=float(rng.integers(5, 900)),
                                   captured_at=date + timedelta(seconds=int(t)),
                                   meta={"active_s": float(rng.integers(5, 900)), "idle_s": 0.0}))
        for t in rng.integers(9 * 3600, 18 * 3600, 60):
            out.append(Observation(observer="input", captured_at=date + timedelta(seconds=int(t)),
                                   meta={"idle_s": float(rng.integers(120, 1800))}))
        for t in rng.integers(9 * 3600, 18 * 3600, 200):
            out.append(Observation(observer="files", app="files", text="",
                                   captured_at=date + timedelta(seconds=int(t)),
                                   meta={"path": f"/home/sam/src/tacit/{self.text(20).replace(' ', '_')}.py",
                                         "size": int(rng.integers(100, 50_000)), "type": "py", "event": "modified"}))
        return sorted(out, key=lambda o: o.captured_at)

    def vector(self) -> np.ndarray:
        v = self.rng.standard_normal(DIM).astype(np.float32)
        return v / np.linalg.norm(v)


def learn(store: Store, day: Day, obs_ids: list[int], current: list[int], when: datetime) -> None:
    """About 30 propositions, each citing 4 of the day's observations; a tenth revise earlier ones."""
    rng = day.rng
    items = []
    for _ in range(30):
        evidence = [int(i) for i in rng.choice(obs_ids, 4, replace=False)]
        if current and rng.random() < 0.1:
            old = current.pop(int(rng.integers(len(current))))
            new = store.revise(old, text=f"Sam {day.text(80)}", evidence=evidence, embedding=day.vector())
            current.append(new.id)
            continue
        items.append((Proposition(text=f"Sam {day.text(90)}", reasoning=day.text(200), confidence=0.6,
                                  created_at=when, updated_at=when, valid_from=when), evidence, day.vector()))
    current.extend(store.add_propositions(items))


def disk_bytes(path: Path) -> tuple[int, int]:
    """(the database file, it with its -wal and -shm)."""
    return path.stat().st_size, sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def simulate(days: int, policy: RetentionPolicy, encrypted: bool, seed: int = 5) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i:x}{'abcdefghij'[i % 10]}" for i in range(20_000)])
    common = ("the a to of and in is for on that with this you it be are as at from by not or was we can have "
              "your will all new pr fix test build review merge sam meeting notes todo error warning import def "
              "return class self none true false file line branch main dev release api data").split()
    words[:len(common)] = common  # the most frequent words are real ones
    day = Day(rng, words)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        keys = KeySource(key_file=Path(tmp) / "bench.key", use_keyring=False, env={})
        with Store(Path(tmp) / "tacit.db", keys=keys, encrypt=encrypted) as store:
            store.ensure_vector_index("synthetic", DIM)
            current: list[int] = []
            for d in range(days):
                date = START + timedelta(days=d)
                observations = day.observations(date)
                t0 = time.perf_counter()
                stored = []
                for start in range(0, len(observations), 200):  # the capture loop commits in small batches
                    stored += store.add_observations(observations[start:start + 200])
                insert_s = time.perf_counter() - t0
                learn(store, day, [o.id for o in stored], current, date + timedelta(hours=18))
                t0 = time.perf_counter()
                report = store.gc(policy, now=date + timedelta(hours=23))
                gc_ms = (time.perf_counter() - t0) * 1000
                counts = store.counts()
                main_file, with_wal = disk_bytes(store.path)
                rows.append({"day": d + 1, "observations_added": len(observations),
                             "observations": counts["observations"], "propositions": counts["propositions"],
                             "file_mb": round(main_file / MB, 2), "with_wal_mb": round(with_wal / MB, 2),
                             "used_mb": round(report.bytes_after / MB, 2),
                             "cut_to_snippet": report.expired, "expired_deleted": report.expired_deleted,
                             "deleted_for_budget": report.deleted,
                             "insert_per_s": round(len(observations) / insert_s), "gc_ms": round(gc_ms, 1)})
            encryption = store.encryption.describe()
    return {"settings": {"days": days, "observations_days": policy.observations_days,
                         "max_db_mb": policy.max_db_mb, "encryption": encryption},
            "days": rows, "summary": summarize(rows, policy)}


def summarize(rows: list[dict[str, Any]], policy: RetentionPolicy) -> dict[str, Any]:
    week = rows[: min(7, len(rows))]
    per_day = week[-1]["used_mb"] / len(week)
    growth = max(b["file_mb"] - a["file_mb"] for a, b in zip([{"file_mb": 0}] + rows, rows, strict=False))
    held = None
    if policy.max_db_mb:
        held = all(r["used_mb"] <= policy.max_db_mb and r["file_mb"] <= policy.max_db_mb + growth for r in rows)
    return {"mb_per_day_first_week": round(per_day, 2), "largest_daily_growth_mb": round(growth, 2),
            "max_file_mb": max(r["file_mb"] for r in rows), "max_with_wal_mb": max(r["with_wal_mb"] for r in rows),
            "final_file_mb": rows[-1]["file_mb"],
            "max_wal_mb": round(max(r["with_wal_mb"] - r["file_mb"] for r in rows), 2),
            "observations_cut_to_snippet": sum(r["cut_to_snippet"] for r in rows),
            "observations_expired_deleted": sum(r["expired_deleted"] for r in rows),
            "observations_deleted_for_budget": sum(r["deleted_for_budget"] for r in rows),
            "budget_bites_from_day": next((r["day"] for r in rows if r["deleted_for_budget"]), None),
            "budget_held": held}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--observations-days", type=float, default=30.0, help="[retention] observations_days")
    parser.add_argument("--max-db-mb", type=float, default=2048.0, help="[retention] max_db_mb")
    parser.add_argument("--plain", action="store_true", help="an unencrypted store")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()
    if args.days < 1:
        parser.error("--days must be at least 1")
    policy = RetentionPolicy(observations_days=args.observations_days or None, max_db_mb=args.max_db_mb or None)
    result = simulate(args.days, policy, encrypted=not args.plain)
    if args.json:
        print(json.dumps(result))
    else:
        for row in result["days"]:
            print(f"day {row['day']:>3}: {row['observations']:>7} observations, {row['propositions']:>5} "
                  f"propositions, file {row['file_mb']:>8.2f} MB, in use {row['used_mb']:>8.2f} MB, "
                  f"cut {row['cut_to_snippet']:>5}, expired {row['expired_deleted']:>5}, "
                  f"over budget {row['deleted_for_budget']:>6}, gc {row['gc_ms']:.0f} ms")
        print(json.dumps(result["summary"], indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
