"""Whether a kept menu still says what it holds, and what its clips then cost.

A menu of the current tree names a topic in its header and in its option clip ("disease
prevention, press 1"). Callers who do not know the way find a service by the topics they hear, so
a menu may go on naming only its topic while everything it holds belongs to that topic. Once the
optimizer moves another service in, `ivr optimize` rewrites its option clip to say "and more"
("disease prevention and more: press 1") while most of its calls are still for its topic,
the way a generated menu names its most called service and more. Otherwise, or where the
topic's texts are longer, generated texts ("more options"; "influenza and more: press 1")
replace both. Charging the old clip alone
would make such trees look faster than the flow written for them, and would let the optimizer
file services under topics callers would never look in. The other way round, a generated menu
holding only services of one old menu can be that menu again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace

from ivr_engine.optimizer.cost import CostParams
from ivr_engine.optimizer.tree import MenuTree, Option, services, walk


def keeps_label(before: Collection[str], held: Collection[str]) -> bool:
    """A menu keeps its texts while it holds something and nothing from outside its topic: a
    service it did not hold before would sit under a name its callers do not look for. (Until
    2026-12 a majority of calls was enough; the optimizer then filed about 45% of calls under
    other topics' names on the menu benchmark: docs/benchmarks.md.)"""
    return bool(held) and set(held) <= set(before)


@dataclass(frozen=True)
class Label:
    services: frozenset[str]  # services below the menu in the current tree
    header: float
    prompt: float  # its option clip in the parent


class Labels:
    """The topic of every menu below the root of the current tree (the root keeps its header)."""

    def __init__(self, current: MenuTree, params: CostParams, weights: Mapping[str, float]):
        self.params, self.weights = params, weights
        self.known: dict[str, Label] = {}
        for _, node in walk(current):
            if isinstance(node, MenuTree) and node is not current and not node.synthetic:
                # a menu whose texts name no topic has none to keep: it is charged and named as a
                # generated menu is, whatever it holds
                held = frozenset(services(node)) if node.topic else frozenset()
                self.known[node.id] = Label(held, node.header, node.prompt)

    def keeps(self, menu_id: str, held: Collection[str]) -> bool:
        """Whether the menu may go on playing its own texts holding `held` (menus it does not
        know have none to lose)."""
        label = self.known.get(menu_id)
        return label is None or keeps_label(label.services, held)

    def costs(self, menu_id: str, held: Collection[str]) -> tuple[float, float] | None:
        """(header, option clip) the menu costs holding `held`; None for menus it does not know."""
        label = self.known.get(menu_id)
        if label is None:
            return None
        return (label.header, label.prompt) if self.keeps(menu_id, held) else self.regrouped(menu_id, held)

    def regrouped(self, menu_id: str, held: Collection[str]) -> tuple[float, float]:
        """(header, option clip) of the menu holding `held`, some of it from outside its topic."""
        label = self.known.get(menu_id)
        if label is None or not self.names_topic(menu_id, held):
            return self.params.generated_menu
        return label.header, label.prompt + self.params.and_more

    def names_topic(self, menu_id: str, held: Collection[str]) -> bool:
        """Whether the known menu, holding `held`, still names its topic with "and more"
        ("disease prevention and more") rather than playing generated texts, which name its most
        called service. It does while its topic's own services draw most of its calls, so that the
        name is right for most callers who press it (an "influenza and more" holding travel advice
        and maternity checkups would send nobody the right way), and while those texts are the
        shorter."""
        label = self.known[menu_id]
        if label.header + label.prompt + self.params.and_more > sum(self.params.generated_menu):
            return False
        calls = math.fsum(self.weights.get(i, 0.0) for i in held)
        own = math.fsum(self.weights.get(i, 0.0) for i in held if i in label.services)
        return own > 0.5 * calls if calls > 0.0 else any(i in label.services for i in held)

    def named(self, tree: MenuTree) -> dict[str, bool]:
        """Per service of `tree` (as the optimizer leaves it), whether every submenu on its way
        names it or a topic it belongs to: what a caller who does not know the way can follow."""
        found: dict[str, bool] = {}

        def go(menu: MenuTree, above: tuple[Collection[str], ...]) -> None:
            for option in menu.options:
                child = option.child
                if isinstance(child, MenuTree):
                    go(child, (*above, self._names(child)))
                else:
                    found[child.id] = all(child.id in covers for covers in above)

        go(tree, ())
        return found

    def named_share(self, tree: MenuTree) -> float:
        """Share of the calls (`weights`) that `named` finds named on the way in `tree`."""
        named = self.named(tree)
        calls = math.fsum(self.weights.get(i, 0.0) for i in named)
        return math.fsum(self.weights.get(i, 0.0) for i, ok in named.items() if ok) / calls if calls > 0 else 1.0

    def _names(self, menu: MenuTree) -> Collection[str]:
        """The services a submenu's texts name, as `ivr optimize` writes them: a topic menu its
        topic ("and more" included), a generated one its most called service."""
        held = services(menu)
        label = self.known.get(menu.id)
        if label is not None and (self.keeps(menu.id, held) or self.names_topic(menu.id, held)):
            return label.services
        return set(self.by_calls(held)[:1])

    def by_calls(self, ids: Collection[str]) -> list[str]:
        """`ids` most called first (ties by id): the order generated texts name services in."""
        return sorted(ids, key=lambda i: (-self.weights.get(i, 0.0), i))

    def adopt(self, tree: MenuTree) -> MenuTree:
        """`tree` with generated menus renamed to a menu of the current tree it no longer holds,
        where the generated menu holds only that menu's services and that menu's header and
        clip are no longer than generated ones: callers hear a topic they know, in
        less time, and `ivr optimize` writes the old menu node and its clips back.
        The most called generated menus choose first; each old menu is adopted at most once.
        A generated menu that has the id of a menu of the current tree is that menu, whatever
        its clips: generated ids are digests of what a menu holds, so a group an earlier run
        generated gets its id again, and the flow has the node and its texts already."""
        groups = [node for _, node in walk(tree) if isinstance(node, MenuTree) and node.synthetic]
        present = {node.id for _, node in walk(tree)} - {g.id for g in groups}
        names = {g.id: g.id for g in groups if g.id in self.known}
        taken = present | names.keys()
        generated = self.params.generated_menu
        free = {
            menu_id: label
            for menu_id, label in self.known.items()
            if menu_id not in taken
            and label.header <= generated[0]
            and label.prompt <= generated[1]
        }
        held = {g.id: list(services(g)) for g in groups}
        for group in sorted(groups, key=lambda g: (-sum(self.weights.get(i, 0.0) for i in held[g.id]), g.id)):
            if group.id in names:
                continue
            topics = [m for m, label in free.items() if keeps_label(label.services, held[group.id])]
            if topics:
                names[group.id] = min(topics, key=lambda m: (free[m].header + free[m].prompt, m))
                del free[names[group.id]]

        def rename(menu: MenuTree) -> MenuTree:
            if menu.id not in names:
                return menu
            label = self.known[names[menu.id]]
            return replace(menu, id=names[menu.id], header=label.header, prompt=label.prompt, synthetic=False)

        return rewrite(tree, rename) if names else tree


def recharge(tree: MenuTree, costs: Callable[[MenuTree], tuple[float, float] | None]) -> MenuTree:
    """`tree` with each submenu's (header, option clip) replaced by `costs` of it, unless None."""

    def charge(menu: MenuTree) -> MenuTree:
        charged = costs(menu)
        return menu if charged is None else replace(menu, header=charged[0], prompt=charged[1])

    return rewrite(tree, charge)


def rewrite(tree: MenuTree, change: Callable[[MenuTree], MenuTree]) -> MenuTree:
    """`tree` with `change` applied to every submenu, deepest first."""
    options = []
    for option in tree.options:
        child = option.child
        if isinstance(child, MenuTree):
            child = change(rewrite(child, change))
        options.append(Option(option.key, child))
    return replace(tree, options=tuple(options))
