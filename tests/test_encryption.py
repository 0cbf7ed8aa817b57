"""Encryption at rest on real files: SQLCipher pages, the key's sources, wrong keys, and `tacit encrypt`."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tacitd.memory import crypto
from tacitd.memory.db import CorruptDatabase, DatabaseLocked, StoreError, connect
from tacitd.memory.encrypt import encrypt_store
from tacitd.memory.keys import ENV_VAR, KeyProblem, KeySource
from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition, SearchFilters

from helpers import unit

PROP_CANARY = "quokkacanary4471"
OBS_CANARY = "narwhalcanary9902"
TACIT = Path(sys.executable).with_name("tacit")


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """Default key sourcing (no TACIT_DB_KEY, no keyring backend): the key file beside a temp config."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("TACIT_CONFIG", str(tmp_path / "config" / "config.toml"))
    return tmp_path / "config"


def disk(db: Path) -> dict[str, bytes]:
    """Every file of the database (main, -wal, backups...) byte for byte."""
    return {p.name: p.read_bytes() for p in sorted(db.parent.iterdir()) if p.is_file()}


def fill(store: Store) -> tuple[int, int]:
    store.ensure_vector_index("test", 16)
    obs = store.add_observations([
        Observation(observer="screen", app="Slack", text=f"thread about {OBS_CANARY} launch"),
        Observation(observer="screen", app="Code", text=f"def {OBS_CANARY}(): pass"),
    ])
    p = store.add_proposition(Proposition(text=f"Sam leads {PROP_CANARY}", reasoning=PROP_CANARY, confidence=0.8),
                              evidence=[obs[0].id], embedding=unit(1, 0))
    return p.id, obs[0].id


def has_canary(data: bytes) -> bool:
    return PROP_CANARY.encode() in data or OBS_CANARY.encode() in data


def test_a_fresh_store_is_encrypted_with_a_0600_key_file_and_no_canary_reaches_the_disk(config, db_path):
    with Store(db_path) as store:
        pid, _ = fill(store)
        assert store.encryption.encrypted and str(config / "database.key") in store.encryption.key_where
        backup = store.backup(db_path.parent / "backup.db")
        files = disk(db_path)  # with the WAL still holding the last writes: nothing checkpointed
        assert {"tacit.db", "tacit.db-wal", "backup.db"} <= set(files)
        assert store.db.execute("PRAGMA temp_store").fetchone() == (2,)  # temp tables and sorts in memory
    assert not any(has_canary(data) for data in files.values())
    assert not files["tacit.db"].startswith(crypto.SQLITE_HEADER)
    assert (config / "database.key").stat().st_mode & 0o777 == 0o600
    assert backup.stat().st_mode & 0o777 == 0o600
    with Store(backup) as copy:  # the backup opens with the same key and holds everything
        assert copy.get(pid).text == f"Sam leads {PROP_CANARY}"
        assert copy.text_candidates(PROP_CANARY, 5, SearchFilters()) == [pid]
        assert copy.vector_candidates(unit(1, 0), 1)[0][0] == pid


def test_the_same_data_unencrypted_does_show_the_canaries(tmp_path):
    """The positive control for the test above: the scan finds them when they are there."""
    db = tmp_path / "plain.db"
    with Store(db, encrypt=False) as store:
        fill(store)
        store.backup(tmp_path / "plain-backup.db")
        assert not store.encryption.encrypted and "on request" in store.encryption.why_not
        files = disk(db)
    assert has_canary(files["plain.db-wal"]) and has_canary(files["plain-backup.db"])


def test_secure_delete_fts_and_vectors_work_in_the_encrypted_file(config, db_path):
    with Store(db_path) as store:
        pid, obs_id = fill(store)
        for fts in ("propositions_fts", "observations_fts"):
            assert store.db.execute(f"SELECT v FROM {fts}_config WHERE k = 'secure-delete'").fetchone() == (1,)
        assert store.db.execute("PRAGMA cipher_version").fetchone()[0].startswith("4.")
        report = store.forget(pid)
        assert (report.propositions, report.observations, report.scrub_pending) == (1, 1, False)
        assert store.text_candidates(PROP_CANARY, 5, SearchFilters()) == []
        assert store.counts()["observations"] == 1


def test_a_wrong_key_says_where_it_looked_changes_nothing_and_the_right_key_finds_everything(
        config, db_path, monkeypatch):
    with Store(db_path) as store:
        pid, _ = fill(store)
    before = disk(db_path)
    key_file = config / "database.key"
    right = key_file.read_text()

    key_file.write_text("ab" * 32 + "\n")  # someone else's key
    with pytest.raises(CorruptDatabase) as err:
        Store(db_path)
    assert str(key_file) in str(err.value) and "not this file's key" in str(err.value)

    key_file.unlink()  # no key anywhere
    with pytest.raises(CorruptDatabase) as err:
        Store(db_path)
    message = str(err.value)
    assert f"{ENV_VAR} (unset)" in message and "OS keyring (not usable" in message
    assert f"key file {key_file} (absent)" in message
    assert not key_file.exists()  # no new key is made for an existing file

    monkeypatch.setenv(ENV_VAR, "not-hex")
    with pytest.raises(KeyProblem, match="64 hex digits"):
        Store(db_path)
    monkeypatch.delenv(ENV_VAR)

    assert disk(db_path) == before  # not a byte changed, nothing "repaired"
    key_file.write_text(right)
    with Store(db_path) as store:
        assert store.get(pid).text == f"Sam leads {PROP_CANARY}"
        assert store.counts()["observations"] == 2


def test_tacit_db_key_wins_over_the_key_file(config, db_path, monkeypatch):
    key = "0f" * 32
    monkeypatch.setenv(ENV_VAR, key)
    with Store(db_path) as store:
        fill(store)
        assert store.encryption.key_where == ENV_VAR
    assert not (config / "database.key").exists()
    monkeypatch.delenv(ENV_VAR)
    with pytest.raises(CorruptDatabase, match="no key was found"):
        Store(db_path)


def test_two_processes_open_a_new_store_at_once_and_share_one_key(config, tmp_path):
    code = ("import sys; from tacitd.memory.store import Store; from tacitd.memory.types import Observation\n"
            "with Store(sys.argv[1]) as s: s.add_observation(Observation(observer='push', text=sys.argv[2]))")
    db = tmp_path / "shared.db"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db), f"from {i}"]) for i in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    with Store(db) as store:
        assert {o.text for o in store.observations()} == {"from 0", "from 1"}


def spread(i: int) -> np.ndarray:
    """A random unit vector, the same for the same i: distinct enough for a nearest-neighbour check."""
    v = np.random.default_rng(i).standard_normal(16).astype(np.float32)
    return v / np.linalg.norm(v)


def make_plaintext_store(db: Path, n: int = 40) -> dict[str, int]:
    with Store(db, encrypt=False) as store:
        store.ensure_vector_index("test", 16)
        obs = store.add_observations([Observation(observer="screen", app="Code", text=f"{OBS_CANARY} line {i}")
                                      for i in range(n)])
        for i in range(n):
            store.add_proposition(Proposition(text=f"{PROP_CANARY} fact {i}", confidence=0.5),
                                  evidence=[obs[i].id], embedding=spread(i))
        return store.counts()


def test_tacit_encrypt_migrates_a_plaintext_store_and_shreds_the_old_file(config, db_path):
    counts = make_plaintext_store(db_path)
    with Store(db_path) as store:  # an old store keeps working, unencrypted, until migrated
        assert not store.encryption.encrypted and "tacit encrypt" in store.encryption.why_not
    inode = db_path.stat().st_ino
    steps: list[str] = []

    report = encrypt_store(db_path, on_step=steps.append)

    assert steps == ["locked", "exported", "verified", "linked", "swapped", "shredded"]
    assert report.tables["propositions"] == 40 and report.tables["propositions_fts_docsize"] == 40
    assert not any(has_canary(data) for data in disk(db_path).values())
    assert db_path.stat().st_ino != inode
    assert sorted(disk(db_path)) == ["tacit.db"]  # no .encrypting, no .plaintext left
    with Store(db_path) as store:
        assert store.encryption.encrypted and store.counts() == counts
        assert len(store.text_candidates(PROP_CANARY, 50, SearchFilters())) == 40
        assert store.vector_candidates(spread(4), 1)[0][0] == 5
    assert encrypt_store(db_path).already


def test_tacit_encrypt_refuses_while_another_process_has_the_store_open(config, db_path):
    make_plaintext_store(db_path, n=3)
    before = disk(db_path)
    with Store(db_path):
        with pytest.raises(DatabaseLocked, match="Another process has the database"):
            encrypt_store(db_path)
    assert disk(db_path) == before


HOLD_STEPS = ["locked", "exported", "verified", "linked", "swapped"]


@pytest.mark.parametrize("step", HOLD_STEPS)
def test_kill_9_during_tacit_encrypt_leaves_a_working_store_with_everything(config, tmp_path, step):
    data = tmp_path / "data"
    db = data / "tacit.db"
    counts = make_plaintext_store(db)
    env = {**os.environ, "TACIT_DATA_DIR": str(data), "TACIT_ENCRYPT_HOLD_AT": step}
    proc = subprocess.Popen([str(TACIT), "encrypt"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stdout:  # the CLI prints each step; it stops and waits after the one named
        if line.startswith(f"holding at {step}"):
            break
    else:
        pytest.fail(f"tacit encrypt never reached {step}: {proc.stderr.read()}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    with Store(db) as store:  # old or new, never neither; nothing lost
        assert store.counts() == counts
        assert store.encryption.encrypted == (step == "swapped")
        assert len(store.text_candidates(PROP_CANARY, 50, SearchFilters())) == 40
    plaintext_left = [n for n, data in disk(db).items() if has_canary(data)]
    assert plaintext_left == ([] if step == "swapped" else ["tacit.db"])  # the open shredded the old copy

    done = subprocess.run([str(TACIT), "encrypt", "--json"], env={**env, "TACIT_ENCRYPT_HOLD_AT": ""},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(disk(db)) == ["tacit.db"] and not any(has_canary(d) for d in disk(db).values())
    with Store(db) as store:
        assert store.encryption.encrypted and store.counts() == counts


def test_a_damaged_file_is_never_mistaken_for_a_new_one(config, db_path):
    junk = os.urandom(8192)  # looks like an SQLCipher file: random from the first byte
    db_path.write_bytes(junk)
    for _ in range(2):
        with pytest.raises(CorruptDatabase, match="no key was found"):
            connect(db_path)
    assert hashlib.sha256(db_path.read_bytes()).digest() == hashlib.sha256(junk).digest()
    assert not (config / "database.key").exists()


def test_the_key_file_is_made_once_and_reused(config):
    source = KeySource()
    first = source.find_or_create()
    assert first.kind == "file" and len(first.hex) == 64
    assert KeySource().find_or_create() == first


def doctor(tmp_path: Path, *, block_sqlcipher: bool = False, human: bool = False) -> str:
    """`tacit doctor` on tmp_path/data, with models pointed at nothing so none is loaded."""
    env = {**os.environ, "TACIT_DATA_DIR": str(tmp_path / "data"),
           "TACIT_MODELS__LLM": str(tmp_path / "none.gguf"), "TACIT_MODELS__EMBEDDER": str(tmp_path / "none.gguf")}
    block = "sys.modules['sqlcipher3'] = None; " if block_sqlcipher else ""  # as where no wheel exists
    code = f"import sys; {block}from tacitd.daemon.cli import main; main()"
    args = ["doctor"] if human else ["doctor", "--json"]
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120,
                         check=True).stdout
    return out


def test_doctor_says_encrypted_with_which_key_and_what_it_protects_against(config, tmp_path):
    enc = json.loads(doctor(tmp_path))["store"]["encryption"]
    assert enc["encrypted"] and enc["key_kind"] == "file" and str(config / "database.key") in enc["key"]
    assert enc["cipher"].startswith("4.") and "no OS keyring was usable" in enc["protects"]
    assert "Encrypted" in doctor(tmp_path, human=True)
    (config / "database.key").chmod(0o644)
    problems = [m["what"] for m in json.loads(doctor(tmp_path))["missing"]]
    assert f"the key file {config / 'database.key'} is readable by others (mode 644)" in problems


def test_doctor_with_a_wrong_key_reports_it_instead_of_failing(config, tmp_path):
    with Store(tmp_path / "data" / "tacit.db") as store:
        fill(store)
    (config / "database.key").write_text("cd" * 32)
    report = json.loads(doctor(tmp_path))
    assert "not this file's key" in report["store"]["error"]
    assert report["missing"][-1]["what"] == "the database cannot be opened"
    assert "cannot be opened" in doctor(tmp_path, human=True)


def test_doctor_says_loudly_when_a_store_is_plaintext(config, tmp_path):
    make_plaintext_store(tmp_path / "data" / "tacit.db", n=1)
    enc = json.loads(doctor(tmp_path))["store"]["encryption"]
    assert enc == {"encrypted": False,
                   "why_not": "this store was created before encryption; run `tacit encrypt` to encrypt it"}
    assert "NOT ENCRYPTED" in doctor(tmp_path, human=True)
    problems = json.loads(doctor(tmp_path))["missing"]
    assert {"what": "encryption at rest (the database is plaintext)", "fix": enc["why_not"]} in problems


def test_without_sqlcipher_tacit_runs_unencrypted_and_doctor_says_why(config, tmp_path):
    report = json.loads(doctor(tmp_path, block_sqlcipher=True))
    enc = report["store"]["encryption"]
    assert not enc["encrypted"] and "sqlcipher3 cannot be imported" in enc["why_not"]
    assert "pip install sqlcipher3-binary" in enc["why_not"]
    assert (tmp_path / "data" / "tacit.db").read_bytes().startswith(crypto.SQLITE_HEADER)
    assert "NOT ENCRYPTED" in doctor(tmp_path, block_sqlcipher=True, human=True)


def test_without_sqlcipher_an_encrypted_store_is_refused_clearly(config, db_path, monkeypatch):
    with Store(db_path) as store:
        fill(store)
    before = disk(db_path)
    monkeypatch.setattr(crypto, "CIPHER", None)
    monkeypatch.setattr(crypto, "CIPHER_MISSING", "sqlcipher3 cannot be imported (test)")
    with pytest.raises(StoreError, match="is encrypted .or damaged., and sqlcipher3 cannot be imported"):
        Store(db_path)
    assert disk(db_path) == before


def test_tacit_backup_writes_an_encrypted_copy_and_never_overwrites(config, tmp_path):
    data = tmp_path / "data"
    with Store(data / "tacit.db") as store:
        pid, _ = fill(store)
    env = {**os.environ, "TACIT_DATA_DIR": str(data)}
    dest = tmp_path / "backups" / "monday.db"
    out = subprocess.run([str(TACIT), "backup", str(dest), "--json"], env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert json.loads(out)["encrypted"] is True and not has_canary(dest.read_bytes())
    again = subprocess.run([str(TACIT), "backup", str(dest)], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr
    with Store(dest) as copy:
        assert copy.get(pid).reasoning == PROP_CANARY


def test_tacit_encrypt_with_no_store_says_so(config, tmp_path):
    env = {**os.environ, "TACIT_DATA_DIR": str(tmp_path / "empty")}
    result = subprocess.run([str(TACIT), "encrypt"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "no database at" in result.stderr
    assert not (tmp_path / "empty" / "tacit.db").exists()
