from __future__ import annotations

import hashlib
import hmac
import sqlite3
import stat
from pathlib import Path

import pytest

from ivr_engine.caller_id import NumberPlan
from ivr_engine.config import ConfigError, load_settings
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


@pytest.mark.parametrize(
    ("plan", "forms", "e164"),
    [
        (NumberPlan("86"), ["+8613800000000", "+86 138-0000-0000", "008613800000000", "13800000000"], "+8613800000000"),
        (NumberPlan("86"), ["075588886666", "0755 8888 6666", "(0755) 8888-6666", "+86 755 8888 6666"], "+8675588886666"),
        (NumberPlan("1", "1", "011"), ["+1 (212) 555-1234", "12125551234", "2125551234"], "+12125551234"),
        (NumberPlan("1", "1", "011"), ["011 44 20 7946 0000", "+44 20 7946 0000"], "+442079460000"),
    ],
)
def test_with_a_number_plan_every_form_of_a_number_is_one_caller(plan: NumberPlan, forms: list[str], e164: str) -> None:
    keyer = caller_keyer("test-secret-0123456789", plan=plan)
    assert {plan.normalise(form) for form in forms} == {e164}
    assert {keyer.key(form) for form in forms} == {keyer.key(e164)}


def test_what_is_no_subscribers_number_is_keyed_as_written() -> None:
    plan = NumberPlan("86")
    for written in ("alice", "1001", "*98", "+86abc", "anonymous"):
        assert plan.normalise(f" {written} ") == written


def test_without_a_number_plan_numbers_are_keyed_exactly_as_before() -> None:
    # a site without a plan keeps every key it has stored
    keyer = caller_keyer("test-secret-0123456789")
    expected = hmac.new(b"test-secret-0123456789", b"13800000000", hashlib.sha256).hexdigest()
    assert keyer.key(" 13800000000 ") == expected
    assert keyer.key("+8613800000000") != expected


def test_the_number_plan_is_a_setting_checked_where_it_is_given(tmp_path: Path) -> None:
    config = tmp_path / "ivr.yaml"
    config.write_text("stats:\n  caller_country_code: '86'\n")
    assert load_settings(config, env={}).stats.number_plan == NumberPlan("86", "0", "00")
    assert load_settings(config, env={"IVR_STATS_CALLER_COUNTRY_CODE": "1", "IVR_STATS_CALLER_NATIONAL_PREFIX": "1",
                                      "IVR_STATS_CALLER_INTERNATIONAL_PREFIX": "011"}).stats.number_plan == NumberPlan(
        "1", "1", "011"
    )  # fmt: skip
    assert load_settings(None, env={}).stats.number_plan is None
    config.write_text("stats:\n  caller_country_code: '+86'\n")
    with pytest.raises(ConfigError, match=rf"{config}: caller number plan: country_code must be digits, not '\+86'"):
        load_settings(config, env={})
