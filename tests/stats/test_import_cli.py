from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hotline_calls import caller, run_hotline, started_at

from ivr_engine.cli.main import main
from ivr_engine.runtime.engine import CallResult
from ivr_engine.stats import reports
from ivr_engine.stats.importer import ImportFileError, import_file
from ivr_engine.stats.models import Call
from ivr_engine.stats.privacy import caller_keyer
from ivr_engine.stats.recorder import StatsRecorder
from ivr_engine.stats.store import StatsStore

SECRET = "test-secret-0123456789"
FLOWS = Path(__file__).parent.parent / "data" / "flows" / "cases"


def call(caller: str, started: str, path: list[tuple[str, str, str | None]], outcome: str = "served") -> str:
    steps = [
        {"node": node, "kind": kind, "entered_at": f"{started}:{i * 5:02d}Z",
         "left_at": f"{started}:{i * 5 + 4:02d}Z", **({"key": key} if key else {})}
        for i, (node, kind, key) in enumerate(path)
    ]  # fmt: skip
    return json.dumps(
        {"caller": caller, "flow_id": "minimal", "flow_version": "1", "started_at": f"{started}:00Z",
         "outcome": outcome, "path": steps}
    )  # fmt: skip


@pytest.fixture
def calls_file(tmp_path: Path) -> Path:
    lines = [
        call("+8613800000001", "2026-11-01T08:00", [("root", "menu", "1"), ("info", "announcement", None)]),
        call("+8613800000001", "2026-11-01T09:00", [("root", "menu", "1"), ("info", "announcement", None)]),
        call("+8613800000002", "2026-11-01T10:00", [("root", "menu", None)], "abandoned"),
    ]
    path = tmp_path / "calls.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_is_idempotent(stats_url: str, calls_file: Path) -> None:
    keyer = caller_keyer(SECRET)
    store = StatsStore.open(stats_url, keyer=keyer)
    first = import_file(store, calls_file, keyer)
    again = import_file(store, calls_file, keyer)
    assert (first.calls, first.new_calls, first.visits) == (3, 3, 5)
    assert (again.calls, again.new_calls) == (3, 0)
    summary = reports.summary(store, reports.ReportFilter(flow_id="minimal"))
    assert (summary.calls, summary.visits, summary.abandoned) == (3, 5, 1)
    assert summary.mean_seconds_to_leaf == 5.0  # leaf entered 5 s after the start, derived from the path
    uses = list(store.service_uses("minimal"))
    assert [(u.caller_key, u.leaf, u.calls) for u in uses] == [(keyer.key("+8613800000001"), "info", 2)]
    store.close()


def test_import_errors_name_file_and_line(tmp_path: Path, calls_file: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    good = calls_file.read_text().splitlines()
    bad.write_text(
        "\n".join(
            [
                good[0],
                "{not json",
                json.dumps({**json.loads(good[1]), "outcome": "lost"}),
                "",
                json.dumps({**json.loads(good[2]), "path": [{"node": "root", "entered_at": "yesterday"}]}),
                good[0],
            ]
        )
    )
    keyer = caller_keyer(SECRET)
    store = StatsStore.open(f"sqlite:///{tmp_path / 's.db'}", keyer=keyer)
    with pytest.raises(ImportFileError) as caught:
        import_file(store, bad, keyer)
    errors = caught.value.errors
    assert errors[0].startswith(f"{bad}:2: not JSON")
    assert errors[1].startswith(f"{bad}:3: 'outcome' must be one of")
    assert errors[2] == f"{bad}:5: path[0]: 'entered_at' is not an ISO 8601 date-time: 'yesterday'"
    assert errors[3].startswith(f"{bad}:6: call ") and errors[3].endswith("already on line 1")
    assert reports.summary(store, reports.ReportFilter()).calls == 0  # all or nothing
    store.close()


GOOD = {
    "call_id": "c", "flow_id": "f", "flow_version": "1", "outcome": "served", "started_at": "2026-11-05T10:00:00Z",
    "path": [
        {"node": "m", "kind": "menu", "entered_at": "2026-11-05T10:00:00Z", "left_at": "2026-11-05T10:00:05Z",
         "key": "1"},
        {"node": "info", "kind": "announcement", "entered_at": "2026-11-05T10:00:05Z"},
    ],
}  # fmt: skip


def changed(path: tuple[str | int, ...], value: object) -> dict[str, object]:
    """GOOD with the field at `path` (keys and list indexes) set to `value`."""
    record = json.loads(json.dumps(GOOD))
    into = record
    for step in path[:-1]:
        into = into[step]
    into[path[-1]] = value
    return record


@pytest.mark.parametrize(
    ("record", "error"),
    [
        (changed(("seconds_to_leaf",), -50), "'seconds_to_leaf' must be a number of seconds, 0 or more, got -50"),
        (changed(("seconds_to_leaf",), float("nan")),
         "'seconds_to_leaf' must be a number of seconds, 0 or more, got NaN"),
        (changed(("seconds_to_leaf",), float("inf")),
         "'seconds_to_leaf' must be a number of seconds, 0 or more, got Infinity"),
        (changed(("ended_at",), "2026-11-05T09:00:00Z"), "'ended_at' is before the last visit was entered"),
        (changed(("ended_at",), "2026-11-05T09:00:00Z") | {"path": []}, "'ended_at' is before 'started_at'"),
        (changed(("path", 0, "entered_at"), "2026-11-05T09:59:59Z"), "path[0]: 'entered_at' is before 'started_at'"),
        (changed(("path", 0, "timeouts"), -5), "path[0]: 'timeouts' must not be negative, got -5"),
        (changed(("path", 0, "invalid_keys"), -1), "path[0]: 'invalid_keys' must not be negative, got -1"),
        (changed(("path", 1, "entered_at"), "2026-11-05T10:00:05+08:00"),
         "path[1]: 'entered_at' is before the previous visit's 'entered_at'"),
        (changed(("path", 0, "key"), "123456789012"), "path[0]: 'key' is longer than 8 characters: '123456789012'"),
        (changed(("path", 0, "node"), "m" * 129), f"path[0]: 'node' is longer than 128 characters: '{'m' * 129}'"),
        (changed(("path", 0, "node"), "a>b"),
         "path[0]: 'node' must not contain '>', which separates the nodes of a stored path"),
        (changed(("flow_version",), "v" * 65), f"'flow_version' is longer than 64 characters: '{'v' * 65}'"),
    ],
)  # fmt: skip
def test_import_refuses_impossible_values(stats_url: str, tmp_path: Path, record: dict, error: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(GOOD | {"call_id": "fine"}) + "\n" + json.dumps(record) + "\n")
    keyer = caller_keyer(SECRET)
    store = StatsStore.open(stats_url, keyer=keyer)
    with pytest.raises(ImportFileError) as caught:
        import_file(store, bad, keyer)
    assert caught.value.errors == [f"{bad}:2: {error}"]
    assert reports.summary(store, reports.ReportFilter()).calls == 0  # not even the good line
    store.close()


def import_line(result: CallResult) -> str:
    """A call the runtime made, written as another system's log would have it (no leaf given)."""
    path = [
        {"node": v.node_id, "kind": v.node_kind, "entered_at": v.entered_at.isoformat(),
         "left_at": v.left_at.isoformat(), "key": v.key, "timeouts": v.timeouts, "invalid_keys": v.invalid_keys}
        for v in result.visits
    ]  # fmt: skip
    return json.dumps(
        {"call_id": result.call_id, "caller": caller(result), "flow_id": "hotline-12320",
         "flow_version": "2026.11", "started_at": started_at(result).isoformat(), "outcome": result.outcome.value,
         "path": path}
    )  # fmt: skip


def test_import_gives_a_leaf_only_where_the_runtime_does(stats_url: str, tmp_path: Path) -> None:
    keyer = caller_keyer(SECRET)
    recorded = StatsStore.open(f"sqlite:///{tmp_path / 'recorded.db'}", keyer=keyer)
    recorder = StatsRecorder(recorded, tmp_path / "spool").start()
    # to the operator by key 0 (twice), by main's retries running out; served; a queue chosen in a
    # menu (a service); to the operator and hung up waiting for an agent
    results = run_hotline(["1 0", "1 2 0", "1 7 7 7 7 7 7", "1 2 1 1 h", "1 3 1 1 h"], recorder)
    results += run_hotline(["1 0"], recorder, queue_status="HANGUP", first=len(results))
    assert recorder.close(timeout=30)
    assert [r.outcome.value for r in results] == ["zeroed_out"] * 3 + ["served", "queued", "queue_hangup"]
    lines = tmp_path / "runtime.jsonl"
    lines.write_text("".join(import_line(r) + "\n" for r in results))
    imported = StatsStore.open(stats_url, keyer=keyer)
    import_file(imported, lines, keyer)

    def leaves(store: StatsStore) -> list[tuple[str, str | None, float | None]]:
        query = sa.select(Call.call_id, Call.leaf, Call.seconds_to_leaf).order_by(Call.call_id)
        with store.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    assert leaves(imported) == leaves(recorded)
    assert sum(leaf is not None for _, leaf, _ in leaves(imported)) == 2
    by_caller = sorted((u.caller_key, u.leaf, u.calls) for u in imported.service_uses("hotline-12320"))
    assert by_caller == sorted((u.caller_key, u.leaf, u.calls) for u in recorded.service_uses("hotline-12320"))
    recorded.close()
    imported.close()


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, ["stats", *args], env=env or {"IVR_STATS_CALLER_KEY_SECRET": SECRET})
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_formats(tmp_path: Path, calls_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert "3 calls (3 new), 5 visits" in run("--db", db, "import", str(calls_file))
    assert "3 calls (0 new)" in run("--db", db, "import", str(calls_file))

    nodes = json.loads(run("--db", db, "--format", "json", "nodes"))
    assert {n["node_id"]: (n["hits"], n["exits"], n["abandoned_here"]) for n in nodes} == {
        "root": (3, {"1": 2}, 1),
        "info": (2, {}, 0),
    }
    rows = list(csv.DictReader(io.StringIO(run("--db", db, "--format", "csv", "top"))))
    assert [(r["node"], r["hits"]) for r in rows] == [("root", "3"), ("info", "2")]
    paths = json.loads(run("--db", db, "--format", "json", "paths"))
    assert paths == [{"path": ["root", "info"], "calls": 2}, {"path": ["root"], "calls": 1}]
    table = run("--db", db, "--since", "2026-11-01T08:30", "summary")
    assert "calls" in table and "│ 2 " in table and "50.0%" in table  # 2 calls after 08:30, one abandoned
    window = json.loads(run("--db", db, "--until", "2026-11-01T08:30", "--format", "json", "summary"))
    assert window["calls"] == 1 and window["by_outcome"] == {"served": 1}
    assert "3 calls, 5 visits" in run("--db", db, "purge", "--older-than", "1d")


def test_cli_import_needs_a_secret(tmp_path: Path, calls_file: Path) -> None:
    result = CliRunner().invoke(main, ["stats", "--db", f"sqlite:///{tmp_path / 'x.db'}", "import", str(calls_file)],
                                env={"IVR_STATS_CALLER_KEY_SECRET": ""})  # fmt: skip
    assert result.exit_code == 1 and "no caller-hash secret" in result.output
    dev = run("--db", f"sqlite:///{tmp_path / 'x.db'}", "import", "--dev-secret-dir", str(tmp_path / "var"),
              str(calls_file), env={"IVR_STATS_CALLER_KEY_SECRET": ""})  # fmt: skip
    assert "3 new" in dev


def test_cli_bad_import_reports_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"flow_id": "f"}\n')
    result = CliRunner().invoke(main, ["stats", "--db", f"sqlite:///{tmp_path / 'x.db'}", "import", str(bad)],
                                env={"IVR_STATS_CALLER_KEY_SECRET": SECRET})  # fmt: skip
    assert result.exit_code == 1
    assert f"{bad}:1: missing 'flow_version'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "option", "text"),
    [
        (["--since", "99999999999d", "summary"], "--since", "99999999999d"),  # more days than timedelta holds
        (["--since", "1000000d", "summary"], "--since", "1000000d"),  # before year 1
        (["--since", "9999-12-31T23:59:59-05:00", "summary"], "--since", "9999-12-31T23:59:59-05:00"),
        (["--until", "0001-01-01T00:00+01:00", "summary"], "--until", "0001-01-01T00:00+01:00"),
        (["--since", "9999-12-31T23:30", "nodes"], "--since", "9999-12-31T23:30"),  # its next hour
        (["purge", "--older-than", "99999999999d"], "--older-than", "99999999999d"),
        (["purge", "--older-than", "1000000d"], "--older-than", "1000000d"),
    ],
)
def test_cli_times_at_the_ends_of_the_calendar_name_the_option(
    tmp_path: Path, args: list[str], option: str, text: str
) -> None:
    result = CliRunner().invoke(main, ["stats", "--db", f"sqlite:///{tmp_path / 'x.db'}", *args])
    assert result.exit_code == 2, result.output
    assert (
        f"Invalid value for '{option}': '{text}' is out of range: times from 0001-01-02 to 9999-12-30 UTC"
        " are accepted" in result.output
    )


def test_cli_a_bad_age_names_the_option(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(main, ["stats", "--db", db, "purge", "--older-than", "90x"])
    assert result.exit_code == 2
    assert "Invalid value for '--older-than': expected an age such as 90d, 12h or 30m, got '90x'" in result.output


def test_import_of_a_time_past_the_calendar_names_the_line(tmp_path: Path) -> None:
    far = tmp_path / "far.jsonl"
    far.write_text(json.dumps(GOOD | {"started_at": "9999-12-31T23:59:00-01:00", "path": []}) + "\n")
    keyer = caller_keyer(SECRET)
    store = StatsStore.open(f"sqlite:///{tmp_path / 's.db'}", keyer=keyer)
    with pytest.raises(ImportFileError) as caught:
        import_file(store, far, keyer)
    assert caught.value.errors == [
        f"{far}:1: 'started_at': '9999-12-31T23:59:00-01:00' is out of range: times from 0001-01-02 to 9999-12-30"
        " UTC are accepted"
    ]
    store.close()


@pytest.mark.parametrize(
    "command",
    [["summary"], ["nodes"], ["top"], ["paths"], ["personal"], ["purge", "--older-than", "1d"],
     ["tree", str(FLOWS / "minimal.yaml"), "-o", "heat.svg"]],
)  # fmt: skip
def test_cli_reports_on_a_missing_database_fail_and_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for db in (["--db", f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}"], []):  # [] : the default, var/stats.db
        result = CliRunner().invoke(main, ["stats", *db, *command], env={"IVR_STATS_URL": None})
        assert result.exit_code == 1, result.output
        assert "no such database" in result.output
    assert list(tmp_path.iterdir()) == []  # neither the file nor its folders


def test_cli_reports_on_a_database_without_statistics_fail(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER)")
    result = CliRunner().invoke(main, ["stats", "--db", f"sqlite:///{other}", "summary"])
    assert result.exit_code == 1
    assert f"sqlite:///{other}: no such database: it holds no statistics" in result.output
    with contextlib.closing(sqlite3.connect(other)) as conn:
        assert [t for (t,) in conn.execute("SELECT name FROM sqlite_master")] == ["accounts"]  # nothing added


def test_cli_migrate_and_import_create_the_database(tmp_path: Path, calls_file: Path) -> None:
    migrated, imported = tmp_path / "new" / "m.db", tmp_path / "new" / "i.db"
    assert "up to date" in run("--db", f"sqlite:///{migrated}", "migrate")
    assert "3 new" in run("--db", f"sqlite:///{imported}", "import", str(calls_file))
    assert migrated.is_file() and imported.is_file()
    assert "│ 3 " in run("--db", f"sqlite:///{imported}", "summary")


def test_cli_tree_draws_hits_and_edge_counts(tmp_path: Path, calls_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    run("--db", db, "import", str(calls_file))
    out = tmp_path / "reports" / "heat.svg"  # the directory is made
    run("--db", db, "tree", str(FLOWS / "minimal.yaml"), "-o", str(out))
    svg = out.read_text()
    assert "3 hits" in svg and "2 hits" in svg
    assert "1 (2)" in svg  # key 1 from root to info, taken by 2 calls


@pytest.mark.parametrize(
    ("name", "error"),
    [("a-file/heat.svg", "{out}: {tmp}/a-file is not a directory"),
     ("heat.gif", "cannot draw to heat.gif: use one of .svg, .png, .pdf, .dot")],
)  # fmt: skip
def test_cli_tree_to_a_path_it_cannot_write_names_the_option(
    tmp_path: Path, calls_file: Path, name: str, error: str
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    run("--db", db, "import", str(calls_file))
    (tmp_path / "a-file").write_text("")
    out = tmp_path / name
    result = CliRunner().invoke(main, ["stats", "--db", db, "tree", str(FLOWS / "minimal.yaml"), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '-o' / '--output': {error.format(out=out, tmp=tmp_path)}" in result.output


def test_cli_purge_states_the_cut_off_it_used(tmp_path: Path) -> None:
    # calls 50 and 10 minutes before the hour now - 10 minutes falls in: the cut-off is that hour
    hour = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).replace(minute=0, second=0, microsecond=0)
    lines = tmp_path / "recent.jsonl"
    lines.write_text("".join(
        json.dumps(GOOD | {"call_id": f"c{m}", "started_at": (hour + dt.timedelta(minutes=m)).isoformat(), "path": []})
        + "\n" for m in (-50, -10, 10)
    ))  # fmt: skip
    db = f"sqlite:///{tmp_path / 's.db'}"
    run("--db", db, "import", str(lines))
    said = run("--db", db, "purge", "--older-than", "10m")
    if f"purged before {hour.isoformat()}: 2 calls" not in said:  # unless the clock passed an hour meanwhile
        later = hour + dt.timedelta(hours=1)
        assert f"purged before {later.isoformat()}: 3 calls" in said, said


def test_cli_refuses_a_reversed_window_and_an_unknown_flow(tmp_path: Path, calls_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    run("--db", db, "import", str(calls_file))
    for since, until in (("2026-11-02", "2026-11-01"), ("2026-11-01", "2026-11-01")):
        result = CliRunner().invoke(main, ["stats", "--db", db, "--since", since, "--until", until, "summary"])
        assert result.exit_code == 2
        said = f"Invalid value for '--since': must be before --until, {until}T00:00:00+00:00: no call can be in that window"
        assert said in result.output
    for command in ("summary", "top", "nodes", "paths", "personal"):
        result = CliRunner().invoke(main, ["stats", "--db", db, "--flow", "nope", command])
        assert result.exit_code == 2, command
        assert "Invalid value for '--flow': no calls are stored for flow id 'nope' (flows with calls: minimal)" in (
            result.output
        )
    assert "│ 3 " in run("--db", db, "--flow", "minimal", "summary")


def test_cli_report_options_may_follow_the_command(tmp_path: Path, calls_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    run("--db", db, "import", str(calls_file))
    assert run("--db", db, "nodes", "--format", "csv") == run("--db", db, "--format", "csv", "nodes")
    window = ["--since", "2026-11-01T08:30", "--until", "2026-11-01T09:30"]
    later = json.loads(run("--db", db, "--format", "table", "summary", "--format", "json", *window))
    assert later == json.loads(run("--db", db, "--format", "json", *window, "summary"))
    assert later["calls"] == 1  # the 09:00 call only: the filters after the command applied
    split = json.loads(run("--db", db, "--since", "2026-11-01T08:30", "paths", "--until", "2026-11-01T09:30",
                           "--format", "json", "--limit", "1"))  # fmt: skip
    assert split == [{"path": ["root", "info"], "calls": 1}]
    result = CliRunner().invoke(
        main, ["stats", "--db", db, "--until", "2026-11-01T08:00", "top", "--since", "2026-11-01T09:00"]
    )
    assert result.exit_code == 2 and "must be before --until" in result.output
    out = tmp_path / "heat.svg"
    run("--db", db, "tree", str(FLOWS / "minimal.yaml"), "-o", str(out), "--until", "2026-11-01T08:30")
    assert "1 hits" in out.read_text()  # only the 08:00 call's root


def test_cli_csv_carries_raw_numbers(tmp_path: Path, calls_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    run("--db", db, "import", str(calls_file))
    figures = dict(csv.reader(io.StringIO(run("--db", db, "summary", "--format", "csv"))))
    summary = json.loads(run("--db", db, "summary", "--format", "json"))
    for name, key in [("served rate", "served_rate"), ("abandonment rate", "abandonment_rate"),
                      ("mean seconds to leaf", "mean_seconds_to_leaf")]:  # fmt: skip
        assert float(figures[name]) == summary[key], name  # the whole number, as JSON has it
    assert figures["abandonment rate"] == str(1 / 3)  # a fraction, not "33.3%"
    assert figures["zero-out rate"] == "0.0"
    nodes = {r["node"]: r for r in csv.DictReader(io.StringIO(run("--db", db, "nodes", "--format", "csv")))}
    assert float(nodes["root"]["mean_s"]) == pytest.approx(4.0)  # left 4 s after entering
    personal = list(csv.DictReader(io.StringIO(run("--db", db, "personal", "--format", "csv"))))
    assert [r["share"] for r in personal] == ["0.0", "0.0", "1.0"]
    assert "33.3%" in run("--db", db, "summary")  # the table is for people


def test_a_file_starting_with_a_byte_order_mark_imports(tmp_path: Path, calls_file: Path) -> None:
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + calls_file.read_bytes())  # as Windows editors save UTF-8
    keyer = caller_keyer(SECRET)
    store = StatsStore.open(f"sqlite:///{tmp_path / 's.db'}", keyer=keyer)
    result = import_file(store, bom, keyer)
    assert (result.calls, result.new_calls, result.visits) == (3, 3, 5)
    store.close()
