"""Properties: any valid flow survives dump -> load and export -> import unchanged, and no input,
however broken, gets anything out of the loader but a Flow or FlowError."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from flow_fixtures import CASES, FLOW_SCHEMA, HOTLINE, SchemaLoader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr_engine.flow.diagnostics import FlowError
from ivr_engine.flow.export import dump_flow, export_flow, flow_from_export
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import (
    Announcement,
    Branch,
    Collect,
    Condition,
    Flow,
    Goto,
    Hangup,
    KeyBindings,
    Language,
    Lookup,
    Menu,
    MenuOption,
    Node,
    Queue,
    Set,
    Survey,
    TimeRange,
    Transfer,
    Voicemail,
    When,
)
from ivr_engine.flow.validate import validate

# Text that YAML would love to misread: numbers, booleans, nulls, times, keys, quotes, unicode.
TRICKY = ["yes", "no", "null", "~", "1.10", "010", "08:00", "1:30", "*", "#", "- a", "a: b", "'", '"', "  x ", "欢迎"]
texts = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))
words = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
durations = st.one_of(st.integers(0, 600).map(float), st.floats(0, 600, allow_nan=False, allow_infinity=False))
small = st.integers(0, 9)
LANGUAGES = ("zh-CN", "en", "yue")


def times() -> st.SearchStrategy[dt.time]:
    return st.builds(dt.time, st.integers(0, 23), st.integers(0, 59), st.sampled_from([0, 0, 30]))


def whens(calendars: list[str]) -> st.SearchStrategy[When]:
    return st.builds(
        When,
        time=st.lists(st.builds(TimeRange, start=times(), end=times()), max_size=2).map(tuple),
        weekdays=st.lists(st.integers(0, 6), unique=True, max_size=7).map(tuple),
        holiday=st.none() | st.sampled_from(calendars) if calendars else st.none(),
        not_holiday=st.none() | st.sampled_from(calendars) if calendars else st.none(),
        tier=st.lists(texts, max_size=2).map(tuple),
        language=st.lists(st.sampled_from(LANGUAGES), max_size=2).map(tuple),
        variables=st.dictionaries(words, texts, max_size=2).map(lambda d: tuple(d.items())),
    )


@st.composite
def flows(draw: st.DrawFn) -> Flow:
    ids = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_.-]{0,10}", fullmatch=True), min_size=1, max_size=10, unique=True))
    target = st.sampled_from(ids)
    maybe = st.none() | target
    prompt = st.none() | st.from_regex(r"[a-z][a-z0-9.]{0,10}", fullmatch=True)
    calendars = draw(st.lists(words, unique=True, max_size=2))
    kinds = {
        "menu": st.builds(
            Menu,
            prompt=prompt,
            options=st.lists(
                st.builds(
                    MenuOption,
                    key=st.sampled_from("0123456789*#"),
                    target=target,
                    prompt=prompt,
                    title=texts,
                    pinned=st.booleans(),
                ),
                max_size=5,
                unique_by=lambda o: o.key,
            ).map(tuple),
            timeout=durations,
            retries=small,
            invalid_prompt=prompt,
            on_exhausted=maybe,
            keep_together=st.booleans(),
            changed_notice=prompt,
            changed_notice_until=st.none() | st.dates(),
        ),
        "announcement": st.builds(
            Announcement,
            prompts=st.lists(prompt.filter(bool), max_size=3).map(tuple),
            next=maybe,
            interruptible=st.booleans(),
        ),
        "collect": st.builds(
            Collect,
            variable=words,
            min_length=st.integers(1, 64),
            max_length=st.integers(1, 64),
            terminator=st.sampled_from(["#", "*", ""]),
            pattern=st.none() | texts,
            timeout=durations,
            next=maybe,
            on_failure=maybe,
        ),
        "lookup": st.builds(
            Lookup,
            hook=st.just("ivr_engine.flow.demo_hooks:vaccination_appointment"),
            method=st.sampled_from(["GET", "POST"]),
            params=st.dictionaries(words, words, max_size=2).map(lambda d: tuple(d.items())),
            branches=st.dictionaries(texts, target, max_size=3).map(lambda d: tuple(d.items())),
            default=maybe,
            on_error=maybe,
        ),
        "condition": st.builds(
            Condition,
            branches=st.lists(st.builds(Branch, when=whens(calendars), target=target), max_size=3).map(tuple),
            default=maybe,
        ),
        "set": st.builds(
            Set,
            variables=st.dictionaries(words, texts, min_size=1, max_size=3).map(lambda d: tuple(d.items())),
            next=maybe,
        ),
        "goto": st.builds(Goto, target=target),
        "language": st.builds(Language, language=st.sampled_from(LANGUAGES), next=maybe),
        "voicemail": st.builds(Voicemail, mailbox=texts.filter(bool), max_seconds=st.integers(1, 3600), next=maybe),
        "queue": st.builds(
            Queue,
            queue=st.from_regex(r"[a-z][a-z-]{0,8}", fullmatch=True),
            skills=st.lists(texts, max_size=2).map(tuple),
            priority=st.integers(0, 100),
            timeout=st.none() | durations,
            callback=st.booleans(),
            next=maybe,
        ),
        "transfer": st.builds(Transfer, destination=texts.filter(bool), timeout=durations, next=maybe),
        "hangup": st.builds(Hangup, prompt=prompt),
        "survey": st.builds(Survey, variable=words, scale=st.integers(2, 9), thanks_prompt=prompt, next=maybe),
    }
    nodes: dict[str, Node] = {}
    for node_id in ids:
        node = draw(st.sampled_from(list(kinds)).flatmap(lambda k: kinds[k]))
        nodes[node_id] = dataclasses.replace(node, id=node_id, title=draw(texts))
    key = st.none() | st.sampled_from(["0", "*", "#", "9", "**"])
    return Flow(
        id=draw(words),
        version=draw(texts.filter(bool)),
        title=draw(texts),
        start=draw(target),
        operator=draw(maybe),
        nodes=nodes,
        languages=tuple(draw(st.lists(st.sampled_from(LANGUAGES), min_size=1, max_size=3, unique=True))),
        default_language=draw(st.sampled_from(LANGUAGES)),
        keys=KeyBindings(
            operator=draw(key), back=draw(key), repeat=draw(key), bookmark=draw(key), personal_menu=draw(key)
        ),
        holidays={
            name: frozenset(draw(st.lists(st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)), max_size=4)))
            for name in calendars
        },
        timezone=draw(st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin"])),
        max_depth=draw(st.none() | st.integers(1, 20)),
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("props") / "flows"
    path.mkdir()
    return path


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=flows())
def test_dump_load_export_import_round_trip(flow: Flow, workdir: Path) -> None:
    path = workdir / "generated.yaml"
    text = dump_flow(flow)
    path.write_text(text, encoding="utf-8")
    FLOW_SCHEMA.validate(yaml.load(text, Loader=SchemaLoader))  # what loads, the schema accepts
    loaded = load_flow(path, check=False)
    assert loaded == dataclasses.replace(flow, files=(str(path),))
    exported = json.loads(json.dumps(export_flow(loaded)))
    assert flow_from_export(exported) == flow
    validate(loaded, None)  # whatever the flow, validating it reports, never raises


def mutations(text: str) -> st.SearchStrategy[str]:
    """The text with a few characters deleted, replaced or inserted at random places."""
    edit = st.tuples(st.integers(0, len(text)), st.integers(0, 3), st.text(max_size=3))

    def apply(edits: list[tuple[int, int, str]]) -> str:
        result = text
        for at, cut, insert in edits:
            at = min(at, len(result))
            result = result[:at] + insert + result[at + cut :]
        return result

    return st.lists(edit, min_size=1, max_size=4).map(apply)


yaml_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "version",
                    "start",
                    "nodes",
                    "kind",
                    "options",
                    "target",
                    "prompt",
                    "next",
                    "include",
                    "keys",
                    "holidays",
                    "branches",
                    "when",
                    "time",
                    "1",
                    "root",
                    "languages",
                    "prompts",
                ]
            )
            | texts,
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=200),
        mutations((CASES / "minimal.yaml").read_text(encoding="utf-8")),
        mutations(HOTLINE.read_text(encoding="utf-8")[:1500]),
        yaml_data.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    )
)
def test_garbage_gives_diagnostics_never_a_traceback(text: str, workdir: Path) -> None:
    path = workdir / "fuzzed.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_flow(path)
    except FlowError as exc:
        assert exc.diagnostics and all(d.loc.file == str(path) or d.loc.file.endswith(".yaml") for d in exc.diagnostics)


@settings(max_examples=100, deadline=None)
@given(data=yaml_data)
def test_bad_exports_give_diagnostics(data: Any) -> None:
    document = {"format": "ivr-engine/flow-export", "format_version": 1, "flow": data, "nodes": data}
    try:
        flow_from_export(document)
    except FlowError as exc:
        assert exc.diagnostics
