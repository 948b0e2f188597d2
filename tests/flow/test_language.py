"""What the YAML flow language means: values, defaults, includes and the two ways to list things."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flow_fixtures import CASES

from ivr_engine.flow.diagnostics import FlowError
from ivr_engine.flow.fields import parse_duration
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import Announcement, Condition, KeyBindings, Menu, Queue, SourceLocation, TimeRange


def write_flow(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flows" / "flow.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


HEAD = "id: t\nversion: 1.10\nstart: root\nnodes:\n"


@pytest.mark.parametrize(
    ("written", "seconds"),
    [(5, 5.0), (1.5, 1.5), ("5s", 5.0), ("1.5s", 1.5), ("500ms", 0.5), ("2m", 120.0), ("1h", 3600.0), (".5s", 0.5)],
)
def test_durations(written: object, seconds: float) -> None:
    assert parse_duration(written) == seconds


@pytest.mark.parametrize("written", ["5 seconds", "-1s", "1d", "", True, None, float("nan"), "1e3s"])
def test_bad_durations(written: object) -> None:
    assert parse_duration(written) is None


def test_minimal_flow_and_its_defaults() -> None:
    flow = load_flow(CASES / "minimal.yaml")
    assert (flow.id, flow.version, flow.start, flow.operator) == ("minimal", "1", "root", "agent")
    assert flow.languages == ("en",) and flow.default_language == "en"
    assert flow.keys == KeyBindings()
    assert flow.prompts == str((CASES.parent / "prompts").resolve())  # ../prompts beside the flows
    root = flow.node("root")
    assert isinstance(root, Menu)
    assert (root.timeout, root.retries, root.on_exhausted) == (5.0, 2, None)
    assert root.loc == SourceLocation(str(CASES / "minimal.yaml"), 7, 3)
    assert root.loc_of("prompt") == SourceLocation(str(CASES / "minimal.yaml"), 9, 13)
    assert root.loc_of("options.1.target") == SourceLocation(str(CASES / "minimal.yaml"), 11, 21)


def test_includes_and_list_forms() -> None:
    flow = load_flow(CASES / "with_include.yaml")
    assert list(flow.nodes) == ["root", "info"]
    assert flow.files == (str(CASES / "with_include.yaml"), str(CASES / "includes" / "info.yaml"))
    assert flow.node("info").loc == SourceLocation(str(CASES / "includes" / "info.yaml"), 3, 3)
    [option] = flow.menus()[0].options
    assert (option.key, option.target, option.prompt) == ("1", "info", "opt.one")


def test_numbers_stay_as_written_where_text_is_meant(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        HEAD + "  root: {kind: transfer, destination: 0123, title: yes, timeout: 1:30}\n",
    )
    flow = load_flow(path, check=False)
    node = flow.node("root")
    assert flow.version == "1.10"
    assert (node.destination, node.title) == ("0123", "yes")  # type: ignore[attr-defined]
    assert node.timeout == 90.0  # type: ignore[attr-defined]  # YAML 1.1 reads 1:30 as 90


def test_conditions(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        "id: t\nversion: '1'\nstart: root\nlanguages: [zh-CN, en]\n"
        "holidays: {cn: [2026-10-01..2026-10-03, 2026-01-01]}\n"
        "nodes:\n"
        "  root:\n"
        "    kind: condition\n"
        "    branches:\n"
        "      - when: {time: ['22:00-24:00', '00:00-06:30'], weekdays: [sat-mon, wed], not_holiday: cn}\n"
        "        target: a\n"
        "      - when: {tier: VIP, language: en, variables: {caller: '139\\d+'}}\n"
        "        target: a\n"
        "      - when: {}\n"
        "        target: a\n"
        "  a: {kind: hangup}\n",
    )
    flow = load_flow(path, check=False)
    assert flow.holidays == {
        "cn": frozenset({dt.date(2026, 10, 1), dt.date(2026, 10, 2), dt.date(2026, 10, 3), dt.date(2026, 1, 1)})
    }
    condition = flow.node("root")
    assert isinstance(condition, Condition)
    first, second, third = (b.when for b in condition.branches)
    assert first.time == (
        TimeRange(start=dt.time(22), end=dt.time(0)),
        TimeRange(start=dt.time(0), end=dt.time(6, 30)),
    )
    assert first.time[0].contains(dt.time(23, 59)) and not first.time[0].contains(dt.time(21))
    assert first.weekdays == (5, 6, 0, 2)
    assert first.not_holiday == "cn"
    assert (second.tier, second.language, second.variables) == (("VIP",), ("en",), (("caller", r"139\d+"),))
    assert third == type(third)()


def test_nodes_of_every_kind_load(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        HEAD
        + "  root: {kind: menu, options: {'1': a, '2': c, '3': l, '4': s, '5': q, '6': t, '7': v, '8': y, '9': g}}\n"
        "  a: {kind: announcement, prompts: [x, y], next: root, interruptible: false}\n"
        "  c: {kind: collect, variable: pin, min_length: 4, max_length: 6, pattern: '\\d+', next: root,\n"
        "      on_failure: h}\n"
        "  l: {kind: lookup, url: 'https://example.org/x', method: POST, params: {pin: pin}, branches: {ok: a},\n"
        "      on_error: h}\n"
        "  s: {kind: set, variables: {tier: vip}, next: lang}\n"
        "  lang: {kind: language, language: en, next: root}\n"
        "  q: {kind: queue, queue: general, skills: [a, b], priority: 3, timeout: 2m, callback: true, next: h}\n"
        "  t: {kind: transfer, destination: '1000', timeout: 20s, next: h}\n"
        "  v: {kind: voicemail, mailbox: general, max_seconds: 60, next: h}\n"
        "  y: {kind: survey, variable: score, scale: 9, next: h}\n"
        "  g: {kind: goto, target: root}\n"
        "  h: {kind: hangup}\n",
    )
    flow = load_flow(path, check=False)
    assert {n.kind for n in flow.nodes.values()} == {
        "menu",
        "announcement",
        "collect",
        "lookup",
        "set",
        "language",
        "queue",
        "transfer",
        "voicemail",
        "survey",
        "goto",
        "hangup",
    }
    assert flow.node("a") == Announcement(id="a", prompts=("x", "y"), next="root", interruptible=False)
    assert flow.node("q") == Queue(
        id="q", queue="general", skills=("a", "b"), priority=3, timeout=120.0, callback=True, next="h"
    )


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        HEAD + "  root: {kind: menu, retries: -1, options: {'1': a}}\n  a: {kind: queue}\n  b: {kind: nope}\n",
    )
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert [str(d).split(": ", 1)[1] for d in caught.value.diagnostics] == [
        "error: menu 'root': 'retries' must be between 0 and 9, got -1",
        "error: queue 'a': the field 'queue' is missing",
        "error: unknown node kind 'nope'",
    ]
