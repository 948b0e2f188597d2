"""`validate` on flows built in code, as the optimizer builds them (no source positions)."""

from __future__ import annotations

import dataclasses

from flow_fixtures import CASES

from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import (
    Announcement,
    Branch,
    Collect,
    Condition,
    Flow,
    Hangup,
    KeyBindings,
    Language,
    Lookup,
    Menu,
    MenuOption,
    Node,
    Queue,
    When,
)
from ivr_engine.flow.validate import load_catalog, validate
from ivr_engine.prompts.manifest import Manifest, ManifestEntry


def flow_of(*nodes: Node, **settings: object) -> Flow:
    menu = Menu(id="root", options=(MenuOption(key="1", target=nodes[0].id),)) if nodes else None
    all_nodes = ([menu] if menu else []) + list(nodes)
    return Flow(id="gen", version="1", start="root", nodes={n.id: n for n in all_nodes}, **settings)  # type: ignore[arg-type]


def messages(flow: Flow) -> list[str]:
    return [str(d) for d in validate(flow, None)]


def test_a_generated_flow_is_reported_without_positions() -> None:
    flow = flow_of(Announcement(id="info", prompts=("x",), next="nowhere"))
    assert messages(flow) == ["<generated>:0:0: error: announcement 'info': next 'nowhere' does not exist"]


def test_flow_settings() -> None:
    flow = flow_of(
        Hangup(id="end"),
        operator="agent",
        languages=("en", "en"),
        default_language="fr",
        timezone="Mars/Olympus",
        keys=KeyBindings(back="0", repeat="##", bookmark="*x"),
    )
    assert [m.split(": ", 2)[2] for m in messages(flow)] == [
        "operator node 'agent' does not exist",
        "language 'en' is listed twice",
        "default language 'fr' is not one of the flow's languages (en, en)",
        "unknown time zone 'Mars/Olympus' (e.g. Asia/Shanghai)",
        "key binding 'repeat': '##' is not one phone key (0-9, *, #)",
        "key binding 'bookmark': '*x' is not one to four phone keys (0-9, *, #)",
        "keys 'back' and 'operator' are both '0' ('operator' is '0' unless set otherwise)",
    ]


def test_node_checks() -> None:
    flow = flow_of(
        Collect(id="ask", variable="pin", min_length=6, max_length=4, terminator="x", next="look"),
        Lookup(id="look", hook="no_such_module_here:f", url="https://example.org", default="when"),
        Condition(
            id="when",
            branches=(Branch(when=When(holiday="cn", language=("fr",), weekdays=(7,)), target="lang"),),
            default="lang",
        ),
        Language(id="lang", language="de", next="end"),
        Hangup(id="end"),
    )
    assert [m.split(": ", 2)[2] for m in messages(flow)] == [
        "collect 'ask': min_length 6 exceeds max_length 4",
        "collect 'ask': terminator 'x' is not one phone key",
        "lookup 'look': a lookup needs exactly one of 'hook' (module:function) or 'url'",
        "lookup 'look': hook module 'no_such_module_here' cannot be imported: "
        "ModuleNotFoundError: No module named 'no_such_module_here'",
        "condition 'when': unknown holiday calendar 'cn' (none defined)",
        "condition 'when': language 'fr' is not one of the flow's (en)",
        "condition 'when': weekdays run from 0 (Monday) to 6 (Sunday)",
        "language 'lang': language 'de' is not one of the flow's (en)",
    ]


def test_menus_reach_the_operator_so_a_loop_of_menus_is_not_stuck() -> None:
    loop = Menu(id="other", options=(MenuOption(key="1", target="root"),))
    agent = Queue(id="agent", queue="general")
    assert (
        messages(dataclasses.replace(flow_of(loop), operator="agent", nodes={**flow_of(loop).nodes, "agent": agent}))
        == []
    )
    assert messages(flow_of(loop)) == []  # without an operator, exhausted retries hang up
    stuck = Menu(id="other", options=(MenuOption(key="1", target="root"),), on_exhausted="root")
    root = Menu(id="root", options=(MenuOption(key="1", target="other"),), on_exhausted="other")
    flow = Flow(id="g", version="1", start="root", nodes={"root": root, "other": stuck})
    assert messages(flow) == [
        "<generated>:0:0: error: calls entering 'root', 'other' loop forever: "
        "no service or hang-up can be reached from there"
    ]


def test_no_two_bindings_share_keys() -> None:
    clashes = KeyBindings(operator="0", bookmark="0", personal_menu="*", repeat="*")
    assert [m.split(": ", 2)[2] for m in messages(flow_of(Hangup(id="end"), keys=clashes))] == [
        "keys 'bookmark' and 'operator' are both '0' ('operator' is '0' unless set otherwise)",
        "keys 'repeat' and 'back' are both '*' ('back' is '*' unless set otherwise)",
        "keys 'personal_menu' and 'back' are both '*' ('back' is '*' unless set otherwise)",
    ]
    # A bookmark pressed at a leaf is the whole sequence: "**" leaves a lone "*" meaning back.
    assert messages(flow_of(Hangup(id="end"), keys=KeyBindings(bookmark="**", back="*"))) == []


def silent_caller(*nodes: Node) -> list[str]:
    """Messages for a flow whose root menu, when nobody presses, goes to the first of `nodes`."""
    root = Menu(id="root", options=(MenuOption(key="1", target="agent"),), on_exhausted=nodes[0].id)
    agent = Queue(id="agent", queue="general")
    flow = Flow(id="g", version="1", start="root", nodes={n.id: n for n in (root, *nodes, agent)})
    return [m.split(": ", 2)[2] for m in messages(flow)]


LOOP = "forever: on silence no queue, transfer, voicemail or hang-up is ever reached"


def test_a_caller_who_presses_nothing_must_not_go_round_forever() -> None:
    assert silent_caller(Announcement(id="sorry", prompts=("x",), next="root")) == [
        f"menu 'root': a caller who presses nothing goes round 'root', 'sorry' {LOOP}"
    ]
    assert silent_caller(
        Menu(id="more", options=(MenuOption(key="1", target="agent"),), on_exhausted="ask"),
        Collect(id="ask", variable="pin", next="agent", on_failure="more"),
    ) == [f"menu 'more': a caller who presses nothing goes round 'more', 'ask' {LOOP}"]
    # Before the loop: the nodes leading into it are not a loop of their own.
    assert silent_caller(
        Announcement(id="sorry", prompts=("x",), next="again"),
        Menu(id="again", options=(MenuOption(key="1", target="agent"),), on_exhausted="again"),
    ) == [f"menu 'again': a caller who presses nothing goes round 'again' {LOOP}"]


def test_a_silent_caller_who_may_leave_the_round_is_not_an_error() -> None:
    assert silent_caller(Queue(id="busy", queue="overflow", next="root")) == []  # handed to agents first
    assert silent_caller(Announcement(id="sorry", prompts=("x",))) == []  # then hangs up
    assert silent_caller(Announcement(id="sorry", prompts=("x",), next="nowhere")) == [
        "announcement 'sorry': next 'nowhere' does not exist"  # said once, not also as a loop
    ]
    # Office hours may have begun by the next round: a condition may take any of its ways.
    hours = Condition(id="hours", branches=(Branch(when=When(weekdays=(0,)), target="agent"),), default="root")
    assert silent_caller(hours) == []
    hook = "ivr_engine.flow.demo_hooks:vaccination_appointment"
    lookup = Lookup(id="crm", hook=hook, branches=(("booked", "agent"),), default="root", on_error="root")
    assert silent_caller(lookup) == []  # the next answer may be another


def test_missing_audio_is_a_warning_or_an_error_on_request() -> None:
    flow = load_flow(CASES / "minimal.yaml")
    catalog = load_catalog(flow)
    built = [("root", 1.0), ("opt.one", 1.5)]
    manifest = Manifest([ManifestEntry(p, "en", (f"en/{p}.wav",), d, "espeak-ng", "en", "k", "h") for p, d in built])
    expected = f"{CASES}/minimal.yaml:14:15: {{}}: announcement 'info': prompt 'info' has no built en audio"
    assert [str(d) for d in validate(flow, catalog, manifest=manifest)] == [expected.format("warning")]
    as_errors = validate(flow, catalog, manifest=manifest, missing_audio="error")
    assert [str(d) for d in as_errors] == [expected.format("error")]
    assert validate(flow, catalog) == []


def test_replacing_a_node_keeps_equality_semantics() -> None:
    flow = load_flow(CASES / "minimal.yaml")
    moved = dataclasses.replace(flow.node("info"), loc=None, field_locs=())
    assert moved == flow.node("info")  # positions never make two nodes differ
