from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ivr_engine.flow.model import Announcement, Flow, Menu, MenuOption, Queue
from ivr_engine.flow.tree import MAX_MENU_OPTIONS
from ivr_engine.optimizer import (
    CostParams,
    MenuTree,
    Service,
    leaf_paths,
    optimize,
    walk,
)
from ivr_engine.optimizer.flow_adapter import (
    FlowAdapterError,
    changed_offers,
    flow_from_tree,
    menu_tree_from_flow,
    with_notice,
    without_ended_notices,
)

# clip durations as the prompt module would report them
SECONDS = {"welcome": 4.0, "vacc.menu": 3.0, "opt.vacc": 2.5}


def seconds(prompt: str | None) -> float:
    return SECONDS.get(prompt or "", 2.0)


def hotline() -> Flow:
    services = [f"svc{i}" for i in range(8)]
    nodes: dict = {s: Queue(id=s, queue=s) for s in services}
    nodes["vacc"] = Menu(
        id="vacc",
        prompt="vacc.menu",
        options=tuple(
            MenuOption(key=str(i + 1), target=s, prompt=f"opt.{s}")
            for i, s in enumerate(services[4:])
        ),
        keep_together=False,
    )
    nodes["main"] = Menu(
        id="main",
        prompt="welcome",
        options=(
            *(
                MenuOption(key=str(i + 1), target=s, prompt=f"opt.{s}")
                for i, s in enumerate(services[:3])
            ),
            MenuOption(key="4", target="vacc", prompt="opt.vacc"),
            MenuOption(key="5", target="svc3", prompt="opt.svc3", pinned=True),
            MenuOption(key="6", target="bye", prompt="opt.bye"),
        ),
    )
    nodes["bye"] = Announcement(id="bye", prompts=("thanks",))
    return Flow(id="hotline", version="1", start="main", nodes=nodes)


def test_flow_menus_become_a_tree_with_the_flow_constraints() -> None:
    source = menu_tree_from_flow(hotline(), "main", seconds)
    tree = source.tree
    assert tree.id == "main" and tree.header == 4.0
    vacc = next(node for _, node in walk(tree) if node.id == "vacc")
    assert isinstance(vacc, MenuTree) and vacc.header == 3.0 and vacc.prompt == 2.5
    assert leaf_paths(tree)["svc6"] == ("4", "3")
    assert leaf_paths(tree)["bye"] == ("6",)  # any non-menu target is a service
    assert dict(source.constraints.pinned_keys) == {"svc3": "5"}
    assert "0" not in source.constraints.keys


def test_optimized_tree_maps_back_to_a_flow() -> None:
    flow = hotline()
    source = menu_tree_from_flow(flow, "main", seconds)
    hits = {
        "svc7": 50,
        "svc6": 30,
        "svc0": 5,
        "svc1": 5,
        "svc2": 4,
        "svc3": 3,
        "svc4": 2,
        "svc5": 1,
        "bye": 1,
    }
    result = optimize(source.tree, hits, CostParams(), source.constraints)
    assert result.applied
    until = dt.date(2027, 1, 2)
    written = flow_from_tree(flow, source, result.tree)
    assert set(changed_offers(flow, written, {}, {})) == {"main", "vacc"}  # the generated menus are new to all
    # the same options saying something else ("... and more") change the menu as well
    main_menu = flow.nodes["main"]
    assert isinstance(main_menu, Menu)
    reworded = dataclasses.replace(main_menu.options[0], prompt="opt.vacc.and-more")
    other = dataclasses.replace(main_menu, options=(reworded, *main_menu.options[1:]))
    assert changed_offers(flow, dataclasses.replace(flow, nodes={**flow.nodes, "main": other}), {}, {}) == ("main",)
    # and so does a clip that says something else under the same id (regenerated texts)
    clip = main_menu.options[0].prompt
    assert changed_offers(flow, flow, {clip: {"en": "Flu: press 1."}}, {clip: {"en": "Flu and more: press 1."}}) == (
        "main",
    )
    # a notice that has ended is not carried into the next release
    ended = with_notice(flow, ["main"], "menu.changed", dt.date(2026, 12, 3))
    assert without_ended_notices(ended, dt.date(2026, 12, 2)) == ended
    assert without_ended_notices(ended, dt.date(2026, 12, 3)).nodes["main"] == main_menu
    new = with_notice(written, changed_offers(flow, written, {}, {}), "menu.changed", until)
    main = new.nodes["main"]
    assert (
        isinstance(main, Menu)
        and main.prompt == "welcome"
        and (main.changed_notice, main.changed_notice_until) == ("menu.changed", until)
    )
    # written again with nothing changed, the menu keeps the notice it has, ending when it did
    again = menu_tree_from_flow(new, "main", seconds)
    kept = flow_from_tree(new, again, again.tree)
    assert changed_offers(new, kept, {}, {}) == ()
    assert (kept.nodes["main"].changed_notice, kept.nodes["main"].changed_notice_until) == ("menu.changed", until)
    # every service is still offered exactly once, with its own clip
    offered = [o for n in new.nodes.values() if isinstance(n, Menu) for o in n.options]
    service_targets = sorted(
        o.target for o in offered if not isinstance(new.nodes[o.target], Menu)
    )
    assert service_targets == sorted(["bye", *(f"svc{i}" for i in range(8))])
    assert all(
        o.prompt == f"opt.{o.target}" for o in offered if o.target.startswith("svc")
    )
    assert next(o for o in main.options if o.target == "svc3").key == "5"
    # the two most popular services are one keypress away now
    assert {o.target for o in main.options} >= {"svc7", "svc6"}
    for menu in (
        n
        for n in new.nodes.values()
        if isinstance(n, Menu) and n.id.startswith("auto-")
    ):
        assert menu.prompt == f"{menu.id}.header"
        parent_option = next(
            o
            for m in new.nodes.values()
            if isinstance(m, Menu)
            for o in m.options
            if o.target == menu.id
        )
        assert parent_option.prompt == f"{menu.id}.option"
    if "vacc" not in {n.id for _, n in walk(result.tree)}:
        assert "vacc" not in new.nodes


def test_unchanged_tree_round_trips() -> None:
    flow = hotline()
    source = menu_tree_from_flow(flow, "main", seconds)
    again = flow_from_tree(flow, source, source.tree)
    assert again.nodes == flow.nodes


def test_back_to_main_menu_gets_its_own_service_id() -> None:
    flow = hotline()
    vacc = flow.nodes["vacc"]
    assert isinstance(vacc, Menu)
    looped = dict(flow.nodes)
    looped["vacc"] = Menu(
        id="vacc",
        prompt="vacc.menu",
        options=(*vacc.options, MenuOption(key="9", target="main")),
    )
    source = menu_tree_from_flow(
        Flow(id="f", version="1", start="main", nodes=looped), "main", seconds
    )
    assert source.targets["main@vacc:9"] == "main"
    assert isinstance(
        next(n for _, n in walk(source.tree) if n.id == "main@vacc:9"), Service
    )


def test_root_must_be_a_menu() -> None:
    with pytest.raises(FlowAdapterError, match="'bye' is not a menu"):
        menu_tree_from_flow(hotline(), "bye", seconds)


def test_menus_are_no_wider_than_the_validator_accepts_unless_the_flow_is() -> None:
    flow = hotline()  # its main menu has six options
    assert menu_tree_from_flow(flow, "main", seconds).constraints.max_options == 6
    assert menu_tree_from_flow(flow, "main", seconds, breadth=8).constraints.max_options == 8
    main = flow.nodes["main"]
    assert isinstance(main, Menu)
    narrow = dict(flow.nodes, main=dataclasses.replace(main, options=main.options[:4]))
    source = menu_tree_from_flow(dataclasses.replace(flow, nodes=narrow), "main", seconds)
    assert source.constraints.max_options == MAX_MENU_OPTIONS == 5


def test_menus_an_earlier_optimization_generated_are_read_as_generated() -> None:
    flow = hotline()
    vacc = flow.nodes["vacc"]
    assert isinstance(vacc, Menu)
    main = flow.nodes["main"]
    assert isinstance(main, Menu)
    # the layout an earlier run wrote: a group playing its generated header, and a hand-made
    # menu whose id merely looks generated
    nodes = {
        **flow.nodes,
        "auto-1234567890": dataclasses.replace(vacc, id="auto-1234567890", prompt="auto-1234567890.header"),
        "auto-handmade": dataclasses.replace(vacc, id="auto-handmade", prompt="vacc.menu"),
    }
    del nodes["vacc"]
    options = [o for o in main.options if o.target != "vacc"]
    options += [
        MenuOption(key="8", target="auto-1234567890", prompt="auto-1234567890.option", title="More options"),
        MenuOption(key="9", target="auto-handmade", prompt="opt.vacc"),
    ]
    nodes["main"] = dataclasses.replace(main, options=tuple(options))
    tree = menu_tree_from_flow(dataclasses.replace(flow, nodes=nodes), "main", seconds).tree
    synthetic = {n.id: n.synthetic for _, n in walk(tree) if isinstance(n, MenuTree)}
    assert synthetic == {"main": False, "auto-1234567890": True, "auto-handmade": False}


def behind_a_language_menu(max_depth: int) -> Flow:
    flow = hotline()
    lang = Menu(id="lang", options=(MenuOption(key="1", target="main"),))
    return dataclasses.replace(flow, start="lang", nodes={"lang": lang, **flow.nodes}, max_depth=max_depth)


def test_max_depth_counts_the_menus_above_the_root_as_the_validator_does() -> None:
    source = menu_tree_from_flow(behind_a_language_menu(3), "main", seconds)
    assert source.constraints.menus_above == 1
    assert source.constraints.max_depth == 2  # the language menu takes one of the three
    with pytest.raises(FlowAdapterError, match="max_depth 1 counts the 1 menu.* raise it to at least 2"):
        menu_tree_from_flow(behind_a_language_menu(1), "main", seconds)


def test_options_never_take_a_key_with_a_global_meaning_whatever_the_breadth() -> None:
    flow = hotline()  # keys.personal_menu is 9 by default: in the main menu it skips the personal part
    source = menu_tree_from_flow(flow, "main", seconds, breadth=9)
    assert source.constraints.keys == "12345678" and source.constraints.max_options == 8
    assert source.notes == (
        "breadth 9 capped at 8: options never take a key with a global meaning, here 9 (personal_menu)",
    )
    hits = {f"svc{i}": 10.0 * (i + 1) for i in range(8)} | {"bye": 1.0}
    result = optimize(source.tree, hits, CostParams(), source.constraints)
    assert result.applied and "9" not in {path[-1] for path in leaf_paths(result.tree).values()}
    freed = dataclasses.replace(flow, keys=dataclasses.replace(flow.keys, personal_menu=None))
    unbound = menu_tree_from_flow(freed, "main", seconds, breadth=9)
    assert unbound.constraints.keys == "123456789" and unbound.notes == ()
