"""`ivr validate` and `ivr flow show|export` through click's runner, drawing with the real `dot`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from click.testing import CliRunner
from flow_fixtures import CASES, HOTLINE

from ivr_engine.cli.main import main
from ivr_engine.flow.draw import render_flow
from ivr_engine.flow.export import flow_from_export
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import Flow, Menu


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner(mix_stderr=False).invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_validate_a_clean_flow() -> None:
    code, out, err = run("validate", str(HOTLINE))
    assert (code, out) == (0, "")
    assert "1 flow file(s): 0 error(s), 0 warning(s)" in err


def test_validate_prints_errors_and_fails() -> None:
    code, out, _ = run("validate", str(CASES / "bad_key.yaml"), str(CASES / "minimal.yaml"))
    assert code == 1
    assert out == f"{CASES}/bad_key.yaml:9:7: error: menu 'root': key 'A' is not on a phone keypad (0-9, *, #)\n"


def test_warnings_are_printed_but_pass() -> None:
    code, out, _ = run("validate", str(CASES / "wide_menu.yaml"))
    assert code == 0
    assert out.startswith(f"{CASES}/wide_menu.yaml:7:14: warning: ")


def test_validate_a_directory() -> None:
    code, out, err = run("validate", str(CASES))
    assert code == 1
    assert f"{CASES}/syntax.yaml:8:7: error: YAML syntax" in out
    assert "23 flow file(s)" in err


def test_validate_warns_about_missing_audio(tmp_path: Path) -> None:
    code, out, _ = run("validate", "--audio", str(tmp_path), str(CASES / "minimal.yaml"))  # no manifest.json yet
    assert code == 0
    assert out.splitlines() == [
        f"{CASES}/minimal.yaml:9:13: warning: menu 'root': prompt 'root' has no built en audio",
        f"{CASES}/minimal.yaml:11:35: warning: menu 'root': prompt 'opt.one' has no built en audio",
        f"{CASES}/minimal.yaml:14:15: warning: announcement 'info': prompt 'info' has no built en audio",
    ]


def test_show_draws_an_svg_with_every_node(tmp_path: Path, hotline: Flow) -> None:
    out = tmp_path / "tree.svg"
    code, _, _ = run("flow", "show", str(HOTLINE), "-o", str(out))
    assert code == 0
    svg = out.read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg
    for node_id in hotline.nodes:
        assert f"<title>{node_id}</title>" in svg


def test_show_png_and_bad_suffix(tmp_path: Path) -> None:
    assert run("flow", "show", str(CASES / "minimal.yaml"), "-o", str(tmp_path / "t.png"))[0] == 0
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run("flow", "show", str(CASES / "minimal.yaml"), "-o", str(tmp_path / "t.gif"))
    assert code == 2 and "use one of .svg, .png, .pdf, .dot" in err


def test_show_refuses_a_broken_flow(tmp_path: Path) -> None:
    code, _, err = run("flow", "show", str(CASES / "bad_key.yaml"), "-o", str(tmp_path / "t.svg"))
    assert code == 1 and "bad_key.yaml:9:7: error:" in err
    assert not (tmp_path / "t.svg").exists()


def test_export_json_round_trips(hotline: Flow) -> None:
    code, out, _ = run("flow", "export", str(HOTLINE), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["prompts"]["welcome"]["zh-CN"]["text"].startswith("您好")
    assert flow_from_export(data) == dataclasses.replace(hotline, files=(), prompts=None)


def test_render_flow_callbacks_for_heatmaps(tmp_path: Path) -> None:
    flow = load_flow(CASES / "minimal.yaml")
    out = render_flow(
        flow,
        tmp_path / "heat.svg",
        node_label=lambda node: f"{node.id} (42 calls)",
        node_style=lambda node: {"fillcolor": "#ff0000"} if isinstance(node, Menu) else None,
        edge_label=lambda node, target, key: f"{key}: 17",
    )
    svg = out.read_text(encoding="utf-8")
    assert "root (42 calls)" in svg and "#ff0000" in svg and "1: 17" in svg
