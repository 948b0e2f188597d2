"""A kept menu names only its topic while it holds only its topic, and says "and more" once it holds more."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from optimizer_brute import canonical_tree
from test_global import constrained

from ivr_engine.optimizer import (
    Constraints,
    CostParams,
    InfeasibleError,
    MenuTree,
    Option,
    Service,
    evaluate,
    leaf_paths,
    optimize,
    walk,
)
from ivr_engine.optimizer.cost import expected_time, normalize
from ivr_engine.optimizer.labels import Labels, keeps_label, recharge
from ivr_engine.optimizer.search import Draft, Rules
from ivr_engine.optimizer.tree import services

# generated menus cost much more than the hand-written ones below, as in Mandarin
PARAMS = CostParams(synthetic_header=1.5, group_prompt=3.5)


def as_played(labels: Labels, tree: MenuTree) -> MenuTree:
    """`tree` with every menu the current tree had charged what it plays holding what it holds."""
    return recharge(tree, lambda menu: labels.costs(menu.id, services(menu)))


def test_a_menu_keeps_its_name_only_while_it_holds_nothing_else() -> None:
    before = {"flu", "tb", "hiv"}
    assert keeps_label(before, ["flu", "tb", "hiv"])
    assert keeps_label(before, ["tb"])  # services may leave
    # one service from elsewhere, however rarely called, would sit under a name nobody looks for
    assert not keeps_label(before, ["flu", "tb", "hiv", "vax"])
    assert not keeps_label(before, [])


def test_a_regrouped_menu_says_its_topic_and_more_while_the_topic_draws_most_calls() -> None:
    leaves = [Service(f"s{i}", 2.0) for i in range(6)]
    current = canonical_tree(leaves, 2, header=0.5, prompt=1.0)
    labels = Labels(current, PARAMS, {leaf.id: 1.0 for leaf in leaves} | {"s5": 4.0})
    menu = next(n for _, n in walk(current) if isinstance(n, MenuTree) and n is not current)
    own = list(services(menu))
    assert labels.costs(menu.id, own) == (0.5, 1.0)
    strangers = [leaf.id for leaf in leaves if leaf.id not in own]
    quiet = next(i for i in strangers if i != "s5")
    # most calls still for its topic: its own header, and its clip with "and more" (0.8 s)
    assert labels.names_topic(menu.id, [*own, quiet])
    assert labels.costs(menu.id, [*own, quiet]) == (0.5, 1.8)
    # most calls for others (s5 alone outdraws the topic): generated texts, named after s5
    assert not labels.names_topic(menu.id, [*own, "s5"])
    assert labels.costs(menu.id, [*own, "s5"]) == PARAMS.generated_menu
    assert labels.costs(menu.id, [quiet]) == PARAMS.generated_menu
    assert labels.costs("auto-123", ["s0"]) is None  # generated menus are priced by the planner
    assert labels.regrouped("auto-123", ["s0"]) == PARAMS.generated_menu
    assert as_played(labels, current) == current
    # a topic whose texts and "and more" outlast generated ones (1.5 + 3.5 s) plays those instead
    wordy = Labels(canonical_tree(leaves, 2, header=1.7, prompt=2.6), PARAMS, labels.weights)
    assert not wordy.names_topic(menu.id, [*own, quiet])
    assert wordy.costs(menu.id, [*own, quiet]) == PARAMS.generated_menu
    assert wordy.costs(menu.id, own) == (1.7, 2.6)


def test_generated_menus_adopt_an_absent_topic_they_hold_only_services_of() -> None:
    leaves = [Service(f"s{i}", 2.0) for i in range(9)]
    current = canonical_tree(leaves, 3, header=0.5, prompt=1.0)  # menu1 s0-s2, menu2 s3-s5, menu3 s6-s8
    weights = {leaf.id: 1.0 for leaf in leaves} | {"s0": 5.0}
    labels = Labels(current, PARAMS, weights)

    def group(name: str, ids: list[str]) -> MenuTree:
        options = tuple(Option(str(k), Service(i, 2.0)) for k, i in enumerate(ids, start=1))
        return MenuTree(name, 1.5, options, 3.5, synthetic=True)

    def root(*groups: MenuTree | Service) -> MenuTree:
        return MenuTree("root", 3.0, tuple(Option(str(k), g) for k, g in enumerate(groups, start=1)))

    tree = root(
        group("auto-a", ["s0", "s1"]),  # menu1's only
        group("auto-b", ["s2", "s3"]),  # menu1's and menu2's: names no old topic
        group("auto-c", ["s4", "s5"]),  # menu2's only
        group("auto-d", ["s6", "s7", "s8"]),  # all of menu3
    )
    adopted = labels.adopt(tree)
    assert [o.child.id for o in adopted.options] == ["menu1", "auto-b", "menu2", "menu3"]
    menu1 = adopted.options[0].child
    assert isinstance(menu1, MenuTree) and not menu1.synthetic and (menu1.header, menu1.prompt) == (0.5, 1.0)
    assert as_played(labels, adopted) == adopted
    # each old menu once: the more called group takes it
    rivals = labels.adopt(root(group("auto-x", ["s1", "s2"]), group("auto-y", ["s0"]), Service("s3", 2.0)))
    assert [o.child.id for o in rivals.options] == ["auto-x", "menu1", "s3"]
    # an old menu whose clips are longer than a generated menu's is never worth adopting
    slow = Labels(canonical_tree(leaves, 3, header=2.0, prompt=1.0), PARAMS, weights)
    assert slow.adopt(tree) == tree


def test_a_service_is_named_on_the_way_when_every_menu_above_names_it_or_its_topic() -> None:
    leaves = [Service(f"s{i}", 2.0) for i in range(9)]
    current = canonical_tree(leaves, 3, header=0.5, prompt=1.0)  # menu1 s0-s2, menu2 s3-s5, menu3 s6-s8
    weights = {leaf.id: 1.0 for leaf in leaves} | {"s5": 2.0, "s7": 3.0}
    labels = Labels(current, PARAMS, weights)
    assert all(labels.named(current).values())  # the tree as written names everything

    def menu(name: str, *children: MenuTree | Service, synthetic: bool = False) -> MenuTree:
        options = tuple(Option(str(k), c) for k, c in enumerate(children, start=1))
        return MenuTree(name, 0.5, options, 1.0, synthetic=synthetic)

    s = {leaf.id: leaf for leaf in leaves}
    tree = menu(
        "root",
        menu("menu1", s["s0"], s["s2"], s["s3"]),  # its topic "and more": s3 is not named
        menu("auto-x", s["s6"], s["s7"], s["s8"], synthetic=True),  # "s7 and more"
        menu("menu2", s["s4"], menu("auto-y", s["s5"], s["s1"], synthetic=True)),  # s5: its topic, then its name
    )
    assert labels.names_topic("menu1", ["s0", "s2", "s3"]) and labels.names_topic("menu2", ["s4", "s5", "s1"])
    named = labels.named(tree)
    assert sorted(i for i, ok in named.items() if ok) == ["s0", "s2", "s4", "s5", "s7"]
    # a topic menu outdrawn by a stranger plays generated texts named after the stranger
    crowded = menu("root", menu("menu1", s["s0"], s["s7"]), *(s[f"s{i}"] for i in (1, 2, 3, 4, 5, 6, 8)))
    assert labels.named(crowded)["s7"] and not labels.named(crowded)["s0"]


@settings(max_examples=60, deadline=None)
@given(constrained())
def test_every_menu_of_the_result_costs_what_it_will_play(
    problem: tuple[MenuTree, dict[str, float], Constraints],
) -> None:
    tree, p, constraints = problem
    try:
        result = optimize(tree, p, PARAMS, constraints)
    except InfeasibleError:
        return
    weights = normalize(p, leaf_paths(tree))
    assert as_played(Labels(tree, PARAMS, weights), result.tree) == result.tree


def test_the_search_counts_regrouping_along_changed_paths_only() -> None:
    rng = random.Random(5)
    leaves = [Service(f"s{i:02d}", rng.uniform(1.2, 4.5)) for i in range(40)]
    p = {leaf.id: rng.random() ** 3 for leaf in leaves}
    total = sum(p.values())
    p = {i: w / total for i, w in p.items()}
    tree = canonical_tree(leaves, 4, header=0.6, prompt=1.3)
    labels = Labels(tree, PARAMS, p)
    draft = Draft(tree, p, PARAMS, Rules(frozenset(p), frozenset(), frozenset(), "123456789", {}, 9, None, labels))
    menus = [m for m in draft.open_menus() if m != tree.id]
    relabelled = 0
    for _ in range(300):
        x, y = rng.sample(draft.movable_services(), 2)
        if rng.random() < 0.5:
            if draft.parent[x] != draft.parent[y]:
                draft.swap(x, y)
        else:
            target = rng.choice(menus)
            if target != draft.parent[x] and draft.has_room(target) and draft.can_leave(draft.parent[x]):
                draft.relocate(x, target)
        built = draft.tree()
        assert draft.total() == pytest.approx(expected_time(as_played(labels, built), p, PARAMS), rel=1e-12)
        relabelled += sum(
            1 for _, n in walk(built) if isinstance(n, MenuTree) and n is not built and not labels.keeps(n.id, services(n))
        )
    assert relabelled > 0  # the moves did take menus off their topic


def test_topic_menus_kept_for_pins_name_their_topic_only_while_they_hold_only_it() -> None:
    leaves = [Service(f"s{i:02d}", 2.0 + (i % 5) * 0.4) for i in range(24)]
    tree = canonical_tree(leaves, 4, header=0.6, prompt=1.3)
    where = leaf_paths(tree)
    # held in place, so their menus stay; the popular services sit in other menus, and filling
    # the kept menus with them would cost those menus their short topic clips
    held = frozenset({"s00", "s12"})
    p = {leaf.id: (i + 1) ** -1.1 for i, leaf in enumerate(reversed(leaves))}
    result = optimize(tree, p, PARAMS, Constraints(fixed=held, breadth=4, max_depth=4))
    assert all(leaf_paths(result.tree)[i] == where[i] for i in held)
    weights = normalize(p, where)
    labels = Labels(tree, PARAMS, weights)
    assert result.after == evaluate(as_played(labels, result.tree), p, PARAMS)
    # a menu that names only its topic holds nothing else; the others say "and more" while the
    # topic draws most of their calls, and play generated texts otherwise
    kept = [n for _, n in walk(result.tree) if isinstance(n, MenuTree) and n.id in labels.known]
    assert kept
    for menu in kept:
        held = services(menu)
        topic = labels.known[menu.id].services
        own = math.fsum(weights[i] for i in held if i in topic) / math.fsum(weights[i] for i in held)
        expected = (0.6, 1.3) if own == 1.0 else (0.6, 1.3 + PARAMS.and_more) if own > 0.5 else PARAMS.generated_menu
        assert (menu.header, menu.prompt) == expected
