"""Each loader and validator error, with the exact place it names, from small broken flow files."""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_fixtures import CASES

from ivr_engine.flow.diagnostics import FlowError
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.validate import check_paths

CASE_ERRORS = [
    ("syntax.yaml", "8:7", "YAML syntax: expected ',' or '}', but got ':'"),
    ("unknown_kind.yaml", "6:11", "unknown node kind 'menuu' (did you mean 'menu'?)"),
    ("unknown_field.yaml", "7:5", "menu 'root': unknown field 'promt' (did you mean 'prompt'?)"),
    ("wrong_type.yaml", "7:14", "menu 'root': 'retries' must be a whole number, got 'many'"),
    ("missing_target.yaml", "9:21", "menu 'root': target 'infos' does not exist (did you mean 'info'?)"),
    ("duplicate_key.yaml", "9:7", f"duplicate key '1' (first written at {CASES}/duplicate_key.yaml:8:7)"),
    ("unreachable.yaml", "11:3", "announcement 'orphan' cannot be reached from the start 'root'"),
    (
        "stuck_cycle.yaml",
        "11:3",
        "calls entering 'ping', 'pong' loop forever: no service or hang-up can be reached from there",
    ),
    (
        "silent_loop.yaml",
        "10:19",
        "menu 'root': a caller who presses nothing goes round 'root', 'sorry' forever: "
        "on silence no queue, transfer, voicemail or hang-up is ever reached",
    ),
    ("bad_key.yaml", "9:7", "menu 'root': key 'A' is not on a phone keypad (0-9, *, #)"),
    (
        "key_clash.yaml",
        "9:7",
        "menu 'root': key '0' is the global 'operator' key; use another key or disable the binding "
        "(keys: {operator: null})",
    ),
    (
        "missing_text.yaml",
        "12:21",
        "announcement 'info': prompt 'english.only' has no zh-CN text "
        f"(defined at {CASES.parent}/prompts/basic.yaml:5:3)",
    ),
    ("bad_duration.yaml", "7:14", "menu 'root': 'timeout': bad duration '5 seconds' (write e.g. 5s, 1.5s, 500ms, 2m)"),
    ("bad_day.yaml", "8:27", "menu 'root': 'changed_notice_until': 'next month' is not a date like 2027-01-04"),
    (
        "notice_until_alone.yaml",
        "7:27",
        "menu 'root': changed_notice_until ends a notice the menu does not have (changed_notice)",
    ),
    ("bad_time_range.yaml", "8:38", "condition 'hours': '13:00-25:30': 25:30 is not a time of day"),
    (
        "bad_regex.yaml",
        "8:14",
        "collect 'ask': bad regular expression '[0-9+': unterminated character set at position 0",
    ),
    ("include_missing.yaml", "5:5", f"included file {CASES}/includes/nowhere.yaml does not exist"),
]


@pytest.mark.parametrize(("name", "place", "message"), CASE_ERRORS, ids=[c[0] for c in CASE_ERRORS])
def test_each_error_names_its_place(name: str, place: str, message: str) -> None:
    diagnostics = check_paths([CASES / name])
    assert [str(d) for d in diagnostics] == [f"{CASES / name}:{place}: error: {message}"]
    with pytest.raises(FlowError) as caught:
        load_flow(CASES / name)
    assert [str(d) for d in caught.value.diagnostics] == [str(d) for d in diagnostics]


def test_duplicate_ids_across_files_name_both_places() -> None:
    [diagnostic] = check_paths([CASES / "duplicate_id.yaml"])
    assert str(diagnostic) == (
        f"{CASES}/includes/duplicate_info.yaml:2:3: error: "
        f"node id 'info' is already used at {CASES}/duplicate_id.yaml:9:3"
    )


def test_include_cycle_is_an_error_at_the_include() -> None:
    [diagnostic] = check_paths([CASES / "include_cycle.yaml"])
    assert str(diagnostic) == (
        f"{CASES}/includes/loop_b.yaml:1:11: error: "
        f"{CASES}/includes/loop_a.yaml is included more than once (or includes itself)"
    )


@pytest.mark.parametrize(
    ("name", "place", "message"),
    [
        ("wide_menu.yaml", "7:14", "menu 'root': 6 options; callers remember at most 5, split the menu"),
        ("deep_menu.yaml", "9:3", "menu 'm5' is 5 menus deep (more than 4); callers get lost this deep"),
        # info is one menu deep through m1, but more only through m3
        (
            "beyond_max_depth.yaml",
            "8:3",
            "menu 'm3' is 3 menus deep: services it offers lie deeper than the flow's max_depth 2 (counted from the "
            "start), so `ivr optimize` must move them",
        ),
    ],
)
def test_warnings_do_not_stop_loading(name: str, place: str, message: str) -> None:
    diagnostics = check_paths([CASES / name])
    assert [str(d) for d in diagnostics] == [f"{CASES / name}:{place}: warning: {message}"]
    assert load_flow(CASES / name).id  # warnings are not errors


def test_a_binding_clash_is_reported_where_the_author_wrote_the_key() -> None:
    case = CASES / "binding_clash.yaml"
    assert [str(d) for d in check_paths([case])] == [
        f"{case}:7:13: error: keys 'operator' and 'back' are both '*' ('back' is '*' unless set otherwise)",
        f"{case}:9:18: error: keys 'personal_menu' and 'repeat' are both '#'",
    ]


def test_a_disabled_binding_frees_its_key() -> None:
    assert check_paths([CASES / "key_clash_disabled.yaml"]) == []
    flow = load_flow(CASES / "key_clash_disabled.yaml")
    assert flow.keys.operator is None
    assert [o.key for o in flow.menus()[0].options] == ["1", "0"]


def test_a_directory_means_the_flow_files_in_it_not_the_included_ones() -> None:
    files = {d.loc.file for d in check_paths([CASES])}
    assert f"{CASES}/includes/loop_a.yaml" not in files  # only reported through include_cycle.yaml
    assert f"{CASES}/syntax.yaml" in files


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "1:1: error: the file is empty"),
        ("- just\n- a list\n", "1:1: error: a flow file must be a mapping of settings and nodes, got a list"),
        ("id: x\nversion: '1'\nnodes: {}\n", "1:1: error: the flow needs the field 'start'"),
        ("a: &a [*a]\n", "1:4: error: the document is nested too deeply (or an alias refers to itself)"),
        ("id: x\n<<: {a: 1}\n", "2:1: error: YAML merge keys (<<) are not supported; write the fields out"),
        ("id: x\n---\nid: y\n", "2:1: error: YAML syntax: but found another document"),
        ("? [a, b]\n: c\n", "1:3: error: mapping keys must be plain words or numbers"),
        (  # the statistics store keeps 64 characters of a version
            f"id: x\nversion: {'2026.12-' + 'x' * 57}\nstart: bye\nnodes:\n  bye: {{kind: hangup}}\n",
            "2:10: error: 'version': 65 characters, at most 64",
        ),
    ],
)
def test_malformed_documents(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(text, encoding="utf-8")
    assert [str(d) for d in check_paths([path])] == [f"{path}:{message}"]


def test_unreadable_files(tmp_path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"id: \xff\xfe\n")
    missing = tmp_path / "missing.yaml"
    assert [str(d) for d in check_paths([binary, missing])] == [
        f"{binary}:1:1: error: not UTF-8 text (byte 4)",
        f"{missing}:1:1: error: no such file",
    ]


def test_a_deep_option_through_a_goto_counts_at_the_service_it_leads_to(tmp_path: Path) -> None:
    flow = tmp_path / "deep_goto.yaml"
    flow.write_text(
        """id: deep-goto
version: "1"
start: m1
max_depth: 2
nodes:
  m1: {kind: menu, options: {"1": m2, "2": info}}
  m2: {kind: menu, options: {"1": m3}}
  m3: {kind: menu, options: {"1": to.info, "2": m1}}
  to.info: {kind: goto, target: info}
  info: {kind: announcement, prompts: [info]}
""",
        encoding="utf-8",
    )
    def deep(path: Path) -> list[str]:
        return [d.message for d in check_paths([path]) if "deep" in d.message]

    assert deep(flow) == []  # info is one menu deep, through m1
    deeper = tmp_path / "deep_goto_only.yaml"
    deeper.write_text(flow.read_text(encoding="utf-8").replace('"2": info}}', '"2": m2}}'), encoding="utf-8")
    assert deep(deeper) == [
        "menu 'm3' is 3 menus deep: services it offers lie deeper than the flow's max_depth 2 (counted from the "
        "start), so `ivr optimize` must move them"
    ]
