"""`ivr validate` and `ivr flow show|export` through click's runner, drawing with the real `dot`."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from flow_fixtures import CASES, HOTLINE

from ivr_engine.cli.main import main
from ivr_engine.flow.draw import render_flow
from ivr_engine.flow.export import flow_from_export
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import Flow, Menu

SVG = "{http://www.w3.org/2000/svg}"


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
    assert "27 flow file(s)" in err


def test_validate_a_directory_without_flows_is_an_error(tmp_path: Path) -> None:
    code, _, err = run("validate", str(CASES), str(tmp_path))
    assert code == 1
    assert f"no flow files (*.yaml, *.yml) directly in {tmp_path}: nothing to validate" in err


def test_validate_warns_about_missing_audio(tmp_path: Path) -> None:
    code, out, _ = run("validate", "--audio", str(tmp_path), str(CASES / "minimal.yaml"))  # no manifest.json yet
    assert code == 0
    assert out.splitlines() == [
        f"{CASES}/minimal.yaml:9:13: warning: menu 'root': prompt 'root' has no built en audio",
        f"{CASES}/minimal.yaml:11:35: warning: menu 'root': prompt 'opt.one' has no built en audio",
        f"{CASES}/minimal.yaml:14:15: warning: announcement 'info': prompt 'info' has no built en audio",
    ]


HOOKED_FLOW = """\
id: hooked
version: "1"
start: look
prompts: {prompts}
nodes:
  look:
    kind: lookup
    hook: {hook}
    default: info
    on_error: info
  info: {{kind: announcement, prompts: [info]}}
"""


@pytest.mark.parametrize(
    ("modules", "hook", "problem"),
    [
        (
            {"boom_top.py": "raise RuntimeError('boom at import')\ndef f(p): return 'x'\n"},
            "boom_top:f",
            "hook module 'boom_top' cannot be imported: RuntimeError: boom at import",
        ),
        (
            {"boom_pkg/__init__.py": "raise RuntimeError('boom at import')\n", "boom_pkg/sub.py": "def f(p): pass\n"},
            "boom_pkg.sub:f",
            "hook module 'boom_pkg.sub' cannot be imported: RuntimeError: boom at import",
        ),
        (
            {"typo_pkg/__init__.py": "def (\n", "typo_pkg/sub.py": "def f(p): pass\n"},
            "typo_pkg.sub:f",
            "hook module 'typo_pkg.sub' cannot be imported: SyntaxError: invalid syntax (__init__.py, line 1)",
        ),
        (
            {"script_hooks.py": "import sys\nsys.exit(2)  # a script's argument check, run at import\n"},
            "script_hooks:f",
            "hook module 'script_hooks' cannot be imported: SystemExit: 2",
        ),
        ({"fine_hooks.py": "def f(p): pass\n"}, "fine_hooks:g", "hook 'fine_hooks:g': module 'fine_hooks' has no 'g'"),
    ],
)
def test_a_hook_that_fails_at_import_is_an_error_at_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, modules: dict[str, str], hook: str, problem: str
) -> None:
    for name, text in modules.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    flow = tmp_path / "hooked.yaml"
    flow.write_text(HOOKED_FLOW.format(prompts=CASES.parent / "prompts", hook=hook))
    code, out, _ = run("validate", str(flow))
    assert (code, out) == (1, f"{flow}:8:11: error: lookup 'look': {problem}\n")


def test_show_draws_an_svg_with_every_node(tmp_path: Path, hotline: Flow) -> None:
    out = tmp_path / "tree.svg"
    code, _, _ = run("flow", "show", str(HOTLINE), "-o", str(out))
    assert code == 0
    svg = out.read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg
    for node_id in hotline.nodes:
        assert f"<title>{node_id}</title>" in svg


HOSTILE_TITLE = "<script>alert(1)</script>"
HOSTILE_FLOW = f"""
id: hostile
version: "1"
title: "{HOSTILE_TITLE}"
start: root
operator: agent
nodes:
  root:
    kind: menu
    title: "<b>Main</b> & more"
    prompt: root
    options:
      "1": {{target: check, prompt: opt.one}}
  check:
    kind: condition
    title: 'C:\\Node \\N'
    branches:
      - when: {{variables: {{case: '^\\d+$'}}}}
        target: info
    default: info
  info:
    kind: announcement
    title: "<i>"
    prompts: [info]
  agent:
    kind: queue
    queue: general
"""


def test_show_draws_titles_and_patterns_as_written(tmp_path: Path) -> None:
    flow_file = tmp_path / "hostile.yaml"
    flow_file.write_text(HOSTILE_FLOW)
    out = tmp_path / "tree.svg"
    code, _, err = run("flow", "show", str(flow_file), "-o", str(out))
    assert code == 0, err
    texts = [t.text for t in ET.fromstring(out.read_text(encoding="utf-8")).iter(f"{SVG}text")]
    assert HOSTILE_TITLE in texts  # the graph's label
    assert "<b>Main</b> & more" in texts and "<i>" in texts
    assert "C:\\Node \\N" in texts  # not the node's name put in for \N
    assert "case~^\\d+$" in texts


def test_show_png_and_bad_suffix(tmp_path: Path) -> None:
    assert run("flow", "show", str(CASES / "minimal.yaml"), "-o", str(tmp_path / "t.png"))[0] == 0
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run("flow", "show", str(CASES / "minimal.yaml"), "-o", str(tmp_path / "t.gif"))
    assert code == 2 and "use one of .svg, .png, .pdf, .dot" in err
    (tmp_path / "a-file").write_text("")
    blocked = tmp_path / "a-file" / "t.svg"
    code, _, err = run("flow", "show", str(CASES / "minimal.yaml"), "-o", str(blocked))
    assert code == 2 and f"Invalid value for '--out': {blocked}: {tmp_path / 'a-file'} is not a directory" in err


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


def test_export_and_show_make_the_output_directory(tmp_path: Path, hotline: Flow) -> None:
    code, _, _ = run("flow", "export", str(HOTLINE), "-o", str(tmp_path / "build" / "x.json"))
    assert code == 0
    assert flow_from_export(json.loads((tmp_path / "build" / "x.json").read_text(encoding="utf-8"))).id == hotline.id
    assert run("flow", "show", str(CASES / "minimal.yaml"), "-o", str(tmp_path / "draw" / "t.svg"))[0] == 0
    assert (tmp_path / "draw" / "t.svg").read_text(encoding="utf-8").startswith("<?xml")


def test_an_output_below_a_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a directory", encoding="utf-8")
    for command in ("export", "show"):
        code, _, err = run("flow", command, str(CASES / "minimal.yaml"), "-o", str(afile / "x.svg"))
        assert code == 2 and f"{afile} is not a directory" in err and "Traceback" not in err
    code, _, err = run("flow", "export", str(CASES / "minimal.yaml"), "-o", str(tmp_path))
    assert code == 2 and "is a directory" in err
