from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr_engine.cli.main import main
from ivr_engine.stats import reports
from ivr_engine.stats.importer import ImportFileError, import_file
from ivr_engine.stats.privacy import caller_keyer
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


def test_cli_tree_draws_hits_and_edge_counts(tmp_path: Path, calls_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    run("--db", db, "import", str(calls_file))
    out = tmp_path / "reports" / "heat.svg"  # the directory is made
    run("--db", db, "tree", str(FLOWS / "minimal.yaml"), "-o", str(out))
    svg = out.read_text()
    assert "3 hits" in svg and "2 hits" in svg
    assert "1 (2)" in svg  # key 1 from root to info, taken by 2 calls


def test_a_file_starting_with_a_byte_order_mark_imports(tmp_path: Path, calls_file: Path) -> None:
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + calls_file.read_bytes())  # as Windows editors save UTF-8
    keyer = caller_keyer(SECRET)
    store = StatsStore.open(f"sqlite:///{tmp_path / 's.db'}", keyer=keyer)
    result = import_file(store, bom, keyer)
    assert (result.calls, result.new_calls, result.visits) == (3, 3, 5)
    store.close()
