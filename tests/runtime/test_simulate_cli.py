from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ivr_engine.cli.main import main

DATA = Path(__file__).parent / "data"
MINI = str(DATA / "mini.yaml")
MONDAY_10 = "2026-11-23T10:00+08:00"


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, ["simulate", MINI, "--at", MONDAY_10, *args], input=input)


def simulate_json(*args: str) -> dict[str, Any]:
    result = run("--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_report_of_a_scripted_call(tmp_path: Path) -> None:
    report = simulate_json("--caller", "13800000000", "--keys", "2 1234", "--voicemail-dir", str(tmp_path))
    assert report["visited"] == ["hours", "root", "case", "case.done"]
    assert (report["final_node"], report["outcome"], report["leaf"]) == ("case.done", "served", "case")
    assert [p["key"] for p in report["keypresses"]] == ["2", "1", "2", "3", "4"]
    assert report["variables"] == {"case_number": "1234"}
    assert [h["prompt"] for h in report["heard"]] == ["root", "opt.food", "opt.case", "case.prompt", "case.done"]
    assert report["heard"][0]["text"] == "Welcome. Please choose."
    assert report["seconds"] == sum(h["seconds"] for h in report["heard"])
    assert report["caller"] == "13800000000"
    assert report["visits"][1] == {
        "node": "root",
        "kind": "menu",
        "key": "2",
        "timeouts": 0,
        "invalid_keys": 0,
        "via_shortcut": False,
    }


def test_typeahead_is_faster_and_skips_the_menu() -> None:
    informed = simulate_json("--keys", "1")
    ahead = simulate_json("--keys", "1", "--typeahead")
    assert ahead["visited"] == informed["visited"] == ["hours", "root", "food"]
    assert [h["prompt"] for h in ahead["heard"]] == ["food.info"]
    assert ahead["seconds"] < informed["seconds"]


def test_timeouts_retries_and_the_call_time_of_day() -> None:
    silent = simulate_json("--keys", "-", "--queue-status", "TIMEOUT")
    assert silent["visited"] == ["hours", "root", "agents"]
    assert silent["outcome"] == "zeroed_out"
    closed = simulate_json("--keys", "", "--at", "2026-11-28T10:00+08:00")
    assert (closed["visited"], closed["outcome"]) == (["hours", "closed"], "served")


def test_a_time_without_an_offset_is_in_the_flows_timezone() -> None:
    # 16:00 in Shanghai, the flow's zone, is within office hours; 16:00 UTC is midnight there.
    assert simulate_json("--keys", "", "--at", "2026-11-23T16:00")["visited"][:2] == ["hours", "root"]
    assert simulate_json("--keys", "", "--at", "2026-11-23T16:00+00:00")["visited"] == ["hours", "closed"]


SLOW_HOOK_FLOW = f"""\
id: slow
version: "1"
languages: [en]
start: look
prompts: {DATA / "mini-prompts.yaml"}
nodes:
  look: {{kind: lookup, hook: "slow_hooks:sleep_a_minute", timeout: 100ms, on_error: food}}
  food: {{kind: announcement, prompts: [food.info]}}
"""


def test_the_command_ends_with_the_call_not_with_a_hook_that_outlives_it(tmp_path: Path) -> None:
    (tmp_path / "slow_hooks.py").write_text("import time\n\ndef sleep_a_minute(params):\n    time.sleep(60)\n")
    flow = tmp_path / "slow.yaml"
    flow.write_text(SLOW_HOOK_FLOW)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    command = [sys.executable, "-m", "ivr_engine.cli.main", "simulate", str(flow), "--keys", "", "--json"]
    # Well under the hook's minute, however slow the machine: the call itself takes a few seconds.
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=40, check=True)
    assert json.loads(done.stdout)["visited"] == ["look", "food"]


def test_human_readable_transcript() -> None:
    result = run("--keys", "1")
    assert result.exit_code == 0, result.output
    assert "Welcome. Please choose.  (root, " in result.output
    assert "pressed 1" in result.output
    assert "served: hours -> root -> food" in result.output


def test_interactive_caller_types_keys_at_the_terminal() -> None:
    result = run(input="\n2\n12\n34\n")
    assert result.exit_code == 0, result.output
    assert "served: hours -> root -> case -> case.done" in result.output
    assert "variables: case_number=1234" in result.output


def test_interactive_end_of_input_hangs_up() -> None:
    result = run(input="")
    assert result.exit_code == 0, result.output
    assert "abandoned: hours -> root" in result.output


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    assert "'x' is not a key script token" in run("--keys", "1 x").output
    assert "not an ISO date" in CliRunner().invoke(main, ["simulate", MINI, "--at", "monday"]).output
    missing = CliRunner().invoke(main, ["simulate", str(tmp_path / "none.yaml"), "--keys", "1"])
    assert missing.exit_code == 1
    assert "none.yaml:1:1: error: no such file" in missing.output
    assert "the flow speaks en" in run("--language", "fr", "--keys", "1").output
    assert "NAME=VALUE" in run("-V", "tier", "--keys", "1").output
    (tmp_path / "a-file").write_text("")
    unwritable = run("--keys", "1", "--voicemail-dir", str(tmp_path / "a-file" / "messages"))
    assert unwritable.exit_code == 2 and "Traceback" not in unwritable.output
    assert f"--voicemail-dir: {tmp_path}/a-file/messages cannot take messages: Not a directory" in unwritable.output


HOTLINE = str(Path(__file__).parents[2] / "flows" / "hotline-12320.yaml")
SECRET = {"IVR_STATS_CALLER_KEY_SECRET": "simulate-test-secret-0123456789"}


def hotline_call(db: Path, caller: str, keys: str, env: dict[str, str | None] = SECRET) -> Any:
    args = ["simulate", HOTLINE, "--at", MONDAY_10, "--stats", str(db), "--caller", caller, "--keys", keys, "--json"]
    return CliRunner().invoke(main, args, env=env)


def hotline_json(db: Path, caller: str, keys: str) -> dict[str, Any]:
    result = hotline_call(db, caller, keys)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_with_statistics_a_repeat_caller_hears_their_shortcut_and_a_new_caller_does_not(tmp_path: Path) -> None:
    db = tmp_path / "stats.db"
    canonical = "2 2 1 1"  # English, vaccination, children, the national schedule
    first = hotline_json(db, "13800000001", canonical)
    assert first["leaf"] == "vax.children.schedule"
    assert "personal.greeting" not in [h["prompt"] for h in first["heard"]]

    again = hotline_json(db, "13800000001", "2 6")
    heard = [h["prompt"] for h in again["heard"]]
    assert heard[heard.index("personal.greeting") + 1] == "shortcut.vax.children.schedule.6"
    assert again["leaf"] == "vax.children.schedule"
    assert [v["node"] for v in again["visits"] if v["via_shortcut"]] == ["vax.children.schedule"]
    assert len(again["keypresses"]) < len(first["keypresses"])
    assert again["seconds_to_leaf"] < first["seconds_to_leaf"]

    stranger = hotline_json(db, "13900000009", canonical)
    assert "personal.greeting" not in [h["prompt"] for h in stranger["heard"]]
    assert stranger["visited"] == first["visited"]

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT leaf, personalized, took_shortcut FROM stats_calls ORDER BY started_at").fetchall()
    assert rows == [("vax.children.schedule", 0, 0), ("vax.children.schedule", 1, 1), ("vax.children.schedule", 0, 0)]


def test_with_statistics_a_bookmark_is_stored_and_offered_on_the_next_call(tmp_path: Path) -> None:
    db = tmp_path / "stats.db"
    marked = hotline_json(db, "13700000003", "2 2 1 1 ** 5")
    assert [p["key"] for p in marked["keypresses"]][-3:] == ["*", "*", "5"]
    assert "bookmark.added" in [h["prompt"] for h in marked["heard"]]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT node_id FROM stats_bookmarks").fetchall() == [("vax.children.schedule",)]
    # (the call's own history would offer it too: the personal tests tell bookmarks apart)
    again = hotline_json(db, "13700000003", "2 6")
    assert "shortcut.vax.children.schedule.6" in [h["prompt"] for h in again["heard"]]
    assert again["leaf"] == "vax.children.schedule"


def test_with_statistics_but_no_secret_is_a_clear_error(tmp_path: Path) -> None:
    result = hotline_call(tmp_path / "stats.db", "13800000001", "2 1", env={"IVR_STATS_CALLER_KEY_SECRET": None})
    assert result.exit_code == 1
    assert "IVR_STATS_CALLER_KEY_SECRET" in result.output
    assert "Traceback" not in result.output


def test_a_dev_secret_dir_without_the_engines_secret_is_an_error_not_a_new_secret(tmp_path: Path) -> None:
    typo = tmp_path / "spool-typo"
    args = ["simulate", HOTLINE, "--stats", str(tmp_path / "stats.db"), "--caller", "13800000001",
            "--keys", "2 1", "--dev-secret-dir", str(typo)]  # fmt: skip
    result = CliRunner().invoke(main, args, env={"IVR_STATS_CALLER_KEY_SECRET": None})
    assert result.exit_code == 1 and str(typo) in result.output
    assert not typo.exists()
