"""`ivr menu export`: the flow export plus each listed caller's personal root."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from personal_support import CALLER, HOTLINE, ROOT, SECRET, hotline, keyer

from ivr_engine.caller_id import NumberPlan
from ivr_engine.cli.main import main
from ivr_engine.flow.export import EXPORT_FORMAT, flow_from_export
from ivr_engine.stats.batch import Batch, call_row
from ivr_engine.stats.privacy import DEV_SECRET_FILE, SECRET_ENV, CallerKeyer
from ivr_engine.stats.store import StatsStore

OTHER = "13911112222"


@pytest.fixture
def stats_db(tmp_path: Path) -> Path:
    path = tmp_path / "stats.db"
    store = StatsStore.open(f"sqlite:///{path}", keyer=keyer())
    now = dt.datetime.now(dt.UTC)
    calls = [
        call_row(
            call_id=f"c{n}",
            caller_key=keyer().key(CALLER),
            flow_id="hotline-12320",
            flow_version="2026.11",
            started_at=now - dt.timedelta(days=n + 1),
            ended_at=now - dt.timedelta(days=n + 1),
            outcome="served",
            leaf="food.home",
            seconds_to_leaf=30.0,
            final_node="goodbye",
            path=["welcome", "main", "outbreak", "food", "food.home"],
        )
        for n in range(3)
    ]
    store.write_batch(Batch(calls=calls))
    store.add_bookmark(keyer().key(CALLER), "hotline-12320", "policy.tobacco")
    store.close()
    return path


def invoke(tmp_path: Path, stats_db: Path, *extra: str, env: dict[str, str | None] | None = None) -> Result:
    callers = tmp_path / "callers.txt"
    callers.write_text(f"# callers to evaluate\n{CALLER}\n\n{OTHER}\n", encoding="utf-8")
    args = ["menu", "export", str(HOTLINE), "--stats", str(stats_db), "--callers", str(callers), *extra]
    return CliRunner(mix_stderr=False).invoke(main, args, env={SECRET_ENV: SECRET} if env is None else env)


def export(tmp_path: Path, stats_db: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    result = invoke(tmp_path, stats_db, *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_export_is_the_flow_export_plus_personal_roots(tmp_path: Path, stats_db: Path) -> None:
    data = export(tmp_path, stats_db, "--prompts", str(ROOT / "prompts"), "--audio", str(ROOT / "prompts" / "audio"))
    assert data["format"] == EXPORT_FORMAT
    assert flow_from_export(data) == dataclasses.replace(hotline(), files=(), prompts=None)
    personal = data["personal"]
    assert personal["before"] == "main" and personal["free_keys"] == ["6", "7", "8"]
    assert list(personal["callers"]) == [CALLER, OTHER]
    assert personal["callers"][OTHER] is None
    mine = personal["callers"][CALLER]
    assert mine["greeting"] == "personal.greeting"
    shortcuts = {s["target"]: s for s in mine["shortcuts"]}
    assert set(shortcuts) == {"food.home", "policy.tobacco"}
    assert shortcuts["policy.tobacco"]["bookmarked"] and not shortcuts["food.home"]["bookmarked"]
    assert [s["key"] for s in mine["shortcuts"]] == ["6", "7"]
    assert shortcuts["food.home"]["q"] > shortcuts["policy.tobacco"]["q"]
    for shortcut in mine["shortcuts"]:
        assert shortcut["prompt"] == f"shortcut.{shortcut['target']}.{shortcut['key']}"
        assert set(data["prompts"][shortcut["prompt"]]) == {"zh-CN", "en"}
    assert data["prompts"]["personal.greeting"]["en"]["text"] == "Welcome back."
    assert keyer().key(CALLER) not in json.dumps(data)


def test_without_the_personal_prompts_no_shortcut_is_offered(tmp_path: Path, stats_db: Path) -> None:
    # A catalog with the hotline's own texts only: no shortcut sentences to play.
    data = export(tmp_path, stats_db, "--prompts", str(ROOT / "prompts" / "hotline-12320.yaml"))
    assert data["personal"]["callers"] == {CALLER: None, OTHER: None}


def test_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    callers = tmp_path / "callers.txt"
    callers.write_text(CALLER, encoding="utf-8")
    args = ["menu", "export", str(HOTLINE), "--stats", str(tmp_path / "none.db"), "--callers", str(callers)]
    result = CliRunner().invoke(main, args, env={SECRET_ENV: SECRET})
    assert result.exit_code != 0
    assert "no such database" in result.output
    assert not (tmp_path / "none.db").exists()



def test_the_output_directory_is_made_and_a_file_in_its_way_named(tmp_path: Path, stats_db: Path) -> None:
    out = tmp_path / "build" / "menus.json"
    result = invoke(tmp_path, stats_db, "-o", str(out))
    assert (result.exit_code, result.stdout) == (0, "")
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["personal"]["callers"][CALLER]["greeting"] == "personal.greeting"
    afile = tmp_path / "afile"
    afile.write_text("", encoding="utf-8")
    result = invoke(tmp_path, stats_db, "-o", str(afile / "menus.json"))
    assert result.exit_code == 2 and f"{afile} is not a directory" in result.stderr


def test_a_catalog_without_the_flows_texts_is_a_usage_error_listing_them(tmp_path: Path, stats_db: Path) -> None:
    personal = ROOT / "prompts" / "personal.yaml"  # the shortcut sentences alone
    result = invoke(tmp_path, stats_db, "--prompts", str(personal))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert f"Invalid value for --prompts: {personal} lacks texts the flow plays" in result.stderr
    assert f"announcement 'welcome': prompt 'welcome' has no texts in {personal}" in result.stderr


def test_the_dev_secret_is_read_from_the_engines_directory_and_never_made_up(tmp_path: Path, stats_db: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / DEV_SECRET_FILE).write_text(SECRET, encoding="utf-8")  # as the dev-mode engine kept it
    result = invoke(tmp_path, stats_db, "--dev-secret-dir", str(spool), env={SECRET_ENV: None})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["personal"]["callers"][CALLER]["greeting"] == "personal.greeting"
    typo = tmp_path / "spoool"
    result = invoke(tmp_path, stats_db, "--dev-secret-dir", str(typo), env={SECRET_ENV: None})
    assert result.exit_code == 1 and f"{typo / DEV_SECRET_FILE}: no such file" in result.stderr
    assert not typo.exists()


def test_a_callers_file_with_a_byte_order_mark_finds_its_first_caller(tmp_path: Path, stats_db: Path) -> None:
    callers = tmp_path / "bom.txt"
    callers.write_bytes(b"\xef\xbb\xbf" + f"{CALLER}\n".encode())  # as Windows editors save UTF-8
    args = ["menu", "export", str(HOTLINE), "--stats", str(stats_db), "--callers", str(callers)]
    result = CliRunner(mix_stderr=False).invoke(main, args, env={SECRET_ENV: SECRET})
    assert result.exit_code == 0, result.output
    assert list(json.loads(result.stdout)["personal"]["callers"]) == [CALLER]
    assert json.loads(result.stdout)["personal"]["callers"][CALLER] is not None


def test_a_flow_without_a_menu_exports_every_caller_on_the_canonical_flow(tmp_path: Path, stats_db: Path) -> None:
    # A straight-to-service line (after-hours message) has no menu a personal part could precede.
    flow = tmp_path / "closed.yaml"
    flow.write_text(
        f"id: hotline-12320\nversion: '1'\nstart: closed\nlanguages: [zh-CN, en]\ndefault_language: zh-CN\n"
        f"prompts: {ROOT / 'prompts'}\nnodes:\n"
        "  closed: {kind: announcement, prompts: [closed.general], next: goodbye}\n"
        "  goodbye: {kind: hangup, prompt: goodbye}\n",
        encoding="utf-8",
    )
    callers = tmp_path / "callers.txt"
    callers.write_text(f"{CALLER}\n", encoding="utf-8")
    args = ["menu", "export", str(flow), "--stats", str(stats_db), "--callers", str(callers)]
    result = CliRunner(mix_stderr=False).invoke(main, args, env={SECRET_ENV: SECRET})
    assert result.exit_code == 0, result.output
    personal = json.loads(result.stdout)["personal"]
    assert (personal["before"], personal["free_keys"], personal["callers"]) == (None, [], {CALLER: None})


def test_a_callers_line_no_caller_id_looks_like_is_warned_of_with_its_place(tmp_path: Path, stats_db: Path) -> None:
    callers = tmp_path / "callers.txt"
    callers.write_text(f"{CALLER}\n+86 138-0000-0002\nalice@example.org\n", encoding="utf-8")
    args = ["menu", "export", str(HOTLINE), "--stats", str(stats_db), "--callers", str(callers)]
    result = CliRunner(mix_stderr=False).invoke(main, args, env={SECRET_ENV: SECRET})
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"warning: {callers}:2: '+86 138-0000-0002' is not a caller id as Asterisk gives it (digits, +, *, #"
        " or a SIP name): it is looked up as written, and finds no history unless calls came so"
    ]
    assert list(json.loads(result.stdout)["personal"]["callers"]) == [CALLER, "+86 138-0000-0002", "alice@example.org"]


def test_with_the_sites_number_plan_any_form_of_a_number_finds_its_caller(tmp_path: Path) -> None:
    planned = CallerKeyer(SECRET, NumberPlan("86"))
    db = tmp_path / "planned.db"
    store = StatsStore.open(f"sqlite:///{db}", keyer=planned)
    store.add_bookmark(planned.key("+8613800000000"), "hotline-12320", "policy.tobacco")
    store.close()
    callers = tmp_path / "callers.txt"
    callers.write_text("13800000000\n+86 138-0000-0000\n", encoding="utf-8")
    args = ["menu", "export", str(HOTLINE), "--stats", str(db), "--callers", str(callers)]
    env = {SECRET_ENV: SECRET, "IVR_STATS_CALLER_COUNTRY_CODE": "86"}
    result = CliRunner(mix_stderr=False).invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # a number written for people is a caller id under a plan
    found = json.loads(result.stdout)["personal"]["callers"]
    assert [[s["target"] for s in found[c]["shortcuts"]] for c in found] == [["policy.tobacco"], ["policy.tobacco"]]
    result = CliRunner(mix_stderr=False).invoke(main, args, env={**env, "IVR_STATS_CALLER_COUNTRY_CODE": "+86"})
    assert result.exit_code == 1 and "country_code must be digits, not '+86'" in result.stderr
