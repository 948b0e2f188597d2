from __future__ import annotations

import hashlib
import hmac
import sqlite3
import stat
from pathlib import Path

import pytest

from ivr_engine.stats.privacy import CallerSecretError, caller_keyer
from ivr_engine.stats.recorder import StatsRecorder
from ivr_engine.stats.store import StatsStore
from ivr_engine.stats.testing import play, synthetic_call

NUMBER = "+8613800000007"  # the caller of synthetic calls 7, 37, 67 ...


def test_no_clear_number_in_database_or_spool(tmp_path: Path) -> None:
    db = tmp_path / "stats.db"
    keyer = caller_keyer("test-secret-0123456789")
    store = StatsStore.open(f"sqlite:///{db}", keyer=keyer, busy_timeout=0.05)
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01).start()
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    play(recorder, [e for n in range(60) for e in synthetic_call(n)])
    assert recorder.close(timeout=30)
    spool = recorder.spool.path.read_bytes()
    assert recorder.spooled and keyer.key(NUMBER).encode() in spool
    blocker.execute("ROLLBACK")
    blocker.close()
    recorder = StatsRecorder(store, tmp_path / "spool", interval=0.01).start()
    assert recorder.close(timeout=30)
    store.close()

    digits = NUMBER.lstrip("+").encode()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert digits not in path.read_bytes(), path
    assert spool and digits not in spool
    with sqlite3.connect(db) as conn:
        keys = {k for (k,) in conn.execute("SELECT caller_key FROM stats_calls")}
    assert keyer.key(NUMBER) in keys and len(keys) == 30


def test_keys_depend_on_the_secret() -> None:
    assert caller_keyer("secret-one-0123456789").key(NUMBER) != caller_keyer("secret-two-0123456789").key(NUMBER)
    assert caller_keyer("secret-one-0123456789").key(NUMBER) == caller_keyer("secret-one-0123456789").key(NUMBER)
    # HMAC-SHA256 of the number, hex: the keys already stored stay valid
    expected = hmac.new(b"secret-one-0123456789", NUMBER.encode(), hashlib.sha256).hexdigest()
    assert caller_keyer("secret-one-0123456789").key(f" {NUMBER} ") == expected


def test_refuses_to_start_without_a_secret() -> None:
    with pytest.raises(CallerSecretError, match="IVR_STATS_CALLER_KEY_SECRET"):
        caller_keyer(None)
    with pytest.raises(CallerSecretError, match="at least"):
        caller_keyer("short")


def test_dev_mode_generates_a_private_stable_secret(tmp_path: Path) -> None:
    first = caller_keyer(None, dev_dir=tmp_path).key(NUMBER)
    assert caller_keyer(None, dev_dir=tmp_path).key(NUMBER) == first
    secret_file = tmp_path / "caller-key.secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_a_reader_of_the_dev_secret_never_makes_one_up(tmp_path: Path) -> None:
    with pytest.raises(CallerSecretError, match=f"{tmp_path / 'var' / 'caller-key.secret'}: no such file"):
        caller_keyer(None, dev_dir=tmp_path / "var", create=False)
    assert not (tmp_path / "var").exists()
    made = caller_keyer(None, dev_dir=tmp_path).key(NUMBER)  # the engine in dev mode
    assert caller_keyer(None, dev_dir=tmp_path, create=False).key(NUMBER) == made
