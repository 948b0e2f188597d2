"""Local search after the interval program and the polish.

The interval program is exact only among trees whose menus hold consecutive runs of one service
ordering; with real clips of unequal length the best tree is often outside that family. Three
moves repair much of it, each kept only when the expected time drops:
- re-solve a small generated submenu, or the whole tree when it is small, exactly (`exact`),
- move a service to another menu that has room,
- swap two services between menus,
- move a submenu with all it holds, or swap it with a service or another submenu.
Only services the constraints leave free move; kept children keep their keys, pinned services
theirs, frozen menus stay as they are, and no service goes deeper than max_depth.

Kept menus cost their own header and clip only while they stay on their topic (`labels`), which
makes some gains need several moves at once; `iterate` kicks a settled tree and searches again.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr_engine.optimizer.cost import CostParams, inside
from ivr_engine.optimizer.dp import Entry, arrange, key_order, synthetic_id
from ivr_engine.optimizer.exact import EXACT_LIMIT, Item, Layout, SubsetProgram
from ivr_engine.optimizer.labels import Labels
from ivr_engine.optimizer.tree import MenuTree, Node, Service, services

MAX_PASSES = 8  # a pass tries every move once; searches settle in a few passes
KICKS = 24  # perturbations `iterate` tries after the first settled tree
KICK_SWAPS = 6  # random swaps in one perturbation
KICK_RANKS = 8  # how far apart in popularity two services a kick swaps may be
PATIENCE = 8  # random kicks in a row that find nothing end the search
GAIN = 1e-12  # caller-seconds: smaller "improvements" are rounding, and would never end
SETTLED = 1e-4  # a pass saving less than this share of E[T] ends the search


@dataclass(frozen=True)
class Rules:
    """What the search may change (see `global_tree.layout`)."""

    movable: frozenset[str]  # services free to change menu
    kept_keys: frozenset[str]  # nodes that keep their key
    frozen: frozenset[str]  # menus kept exactly as they are
    keys: str
    pinned: Mapping[str, str]
    breadth: int
    max_depth: int | None
    labels: Labels | None = None  # topics of the current tree's menus: what regrouping costs
    grouped: frozenset[str] = frozenset()  # members of keep-together groups: their menu takes no other service


@dataclass(frozen=True)
class _Option:
    id: str
    mass: float
    seconds: float
    key: str | None
    inside: float  # caller-seconds spent below this option after choosing it


@dataclass
class _Menu:
    id: str
    header: float
    prompt: float
    synthetic: bool
    level: int  # keypresses that reach its options
    children: list[str] = field(default_factory=list)
    topic: bool = True


class Draft:
    """A mutable copy of a tree whose expected time is recomputed only along changed paths."""

    def __init__(self, tree: MenuTree, p: Mapping[str, float], params: CostParams, rules: Rules):
        self.p, self.params, self.rules = p, params, rules
        self.menus: dict[str, _Menu] = {}
        # what never changes inside: services, and frozen menus as (node, mass, inside cost)
        self.blocks: dict[str, tuple[Node, float, float]] = {}
        self.parent: dict[str, str] = {}  # node (service or menu) -> the menu offering it
        self.kept: dict[str, str] = {}  # child -> the key it keeps
        self.root = tree.id
        self._cache: dict[str, tuple[float, float]] = {}
        self._held: dict[str, frozenset[str]] = {}  # menu -> services below it
        self._costs: dict[str, tuple[float, float]] = {}  # menu -> `_charged`
        self._fresh = itertools.count()
        self._add(tree, 1)

    def _add(self, menu: MenuTree, level: int) -> None:
        draft = _Menu(menu.id, menu.header, menu.prompt, menu.synthetic, level, topic=menu.topic)
        self.menus[menu.id] = draft
        for option in menu.options:
            child = option.child
            draft.children.append(child.id)
            self.parent[child.id] = menu.id
            if child.id in self.rules.kept_keys:
                self.kept[child.id] = option.key
            if isinstance(child, Service):
                self.blocks[child.id] = (child, self.p[child.id], 0.0)
            elif child.id in self.rules.frozen:
                self.blocks[child.id] = (child, *inside(child, self.p, self.params))
            else:
                self._add(child, level + 1)

    # --- cost -----------------------------------------------------------------------------

    def _options(self, menu_id: str) -> list[_Option]:
        out = []
        for child in self.menus[menu_id].children:
            if child in self.menus:
                mass, inside = self.cost(child)
                prompt = self._charged(child)[1]
            else:
                node, mass, inside = self.blocks[child]
                prompt = node.prompt
            out.append(_Option(child, mass, self.params.option_seconds(prompt), self.kept.get(child), inside))
        return out

    def cost(self, menu_id: str) -> tuple[float, float]:
        """(share of callers entering the menu, their caller-seconds from its header on)."""
        cached = self._cache.get(menu_id)
        if cached is not None:
            return cached
        options = self._options(menu_id)
        mass = math.fsum(o.mass for o in options)
        total = (self.params.level_overhead + self._charged(menu_id)[0]) * mass
        heard = mass
        for _, option in key_order(options, self.rules.keys, self.rules.pinned):
            total += option.seconds * heard + option.inside
            heard -= option.mass
        self._cache[menu_id] = (mass, total)
        return mass, total

    def total(self) -> float:
        return self.cost(self.root)[1]

    def _charged(self, menu_id: str) -> tuple[float, float]:
        """(header, option clip) the menu costs with what it holds now (`labels`)."""
        found = self._costs.get(menu_id)
        if found is None:
            menu = self.menus[menu_id]
            labels = self.rules.labels
            costs = None if labels is None or menu_id == self.root else labels.costs(menu_id, self.held(menu_id))
            found = self._costs[menu_id] = costs or (menu.header, menu.prompt)
        return found

    def held(self, menu_id: str) -> frozenset[str]:
        found = self._held.get(menu_id)
        if found is None:
            found = frozenset().union(
                *(self.held(c) if c in self.menus else self._services_of(c) for c in self.menus[menu_id].children)
            )
            self._held[menu_id] = found
        return found

    def _services_of(self, block: str) -> frozenset[str]:
        node = self.blocks[block][0]
        if isinstance(node, Service):
            return frozenset([block])
        return frozenset(services(node))

    def _changed(self, menu_id: str | None) -> None:
        while menu_id is not None:
            self._forget(menu_id)
            menu_id = self.parent.get(menu_id)

    def _forget(self, menu_id: str) -> None:
        for cache in (self._cache, self._held, self._costs):
            cache.pop(menu_id, None)

    # --- moves ----------------------------------------------------------------------------

    def movable_services(self) -> list[str]:
        return sorted(i for i in self.rules.movable if i in self.parent)

    def open_menus(self) -> list[str]:
        """Menus a free service may join: shallow enough for max_depth, and not a keep-together
        group's own menu (frozen menus are blocks, never in `menus`)."""
        depth = self.rules.max_depth
        return sorted(
            m.id
            for m in self.menus.values()
            if (depth is None or m.level <= depth) and self.takes_services(m.id)
        )

    def takes_services(self, menu_id: str) -> bool:
        """Whether a service may join the menu: not while a keep-together group is in it, which has
        its menu to itself (by its members, whatever the menu is called after `Labels.adopt`)."""
        return not any(child in self.rules.grouped for child in self.menus[menu_id].children)

    def relocate(self, node: str, target: str) -> None:
        """Move a service, or a menu with all it holds, to the end of `target`."""
        source = self.parent[node]
        self.menus[source].children.remove(node)
        self.menus[target].children.append(node)
        self.parent[node] = target
        self._place_at(node, self.menus[target].level + 1)
        self._changed(source)
        self._changed(target)

    def swap(self, x: str, y: str) -> None:
        a, b = self.parent[x], self.parent[y]
        ca, cb = self.menus[a].children, self.menus[b].children
        ca[ca.index(x)], cb[cb.index(y)] = y, x
        self.parent[x], self.parent[y] = b, a
        self._place_at(x, self.menus[b].level + 1)
        self._place_at(y, self.menus[a].level + 1)
        self._changed(a)
        self._changed(b)

    def _place_at(self, node: str, level: int) -> None:
        menu = self.menus.get(node)
        if menu is not None and menu.level != level:
            menu.level = level
            for child in menu.children:
                self._place_at(child, level + 1)

    # --- moving whole menus ---------------------------------------------------------------

    def movable_menus(self) -> list[str]:
        """Submenus free to move with what they hold (a keep-together group's menu moves whole):
        all but those the constraints keep."""
        return sorted(m for m in self.menus if m != self.root and m not in self.rules.kept_keys)

    def height(self, menu_id: str) -> int:
        """Levels from the menu's options to its deepest service."""
        return 1 + max((self.height(c) for c in self.menus[menu_id].children if c in self.menus), default=0)

    def within(self, node: str, ancestor: str) -> bool:
        while node != ancestor:
            parent = self.parent.get(node)
            if parent is None:
                return False
            node = parent
        return True

    def fits(self, node: str, target: str) -> bool:
        """Whether `node` may become an option of `target`: not into itself, and no service
        beyond max_depth."""
        if node not in self.menus:
            return True
        if self.within(target, node):
            return False
        depth = self.rules.max_depth
        return depth is None or self.menus[target].level + self.height(node) <= depth

    def off_topic(self) -> list[str]:
        """Kept menus now charged generated clips because they hold a service from outside their topic."""
        labels = self.rules.labels
        if labels is None:
            return []
        return sorted(m for m in self.menus if m != self.root and not labels.keeps(m, self.held(m)))

    def restore_topic(self, menu_id: str) -> None:
        """Swap the menu's most called services from elsewhere for its topic's own, most called
        first, until it holds only its topic again (or no more can move)."""
        labels = self.rules.labels
        assert labels is not None
        topic = labels.known[menu_id].services

        def by_calls(ids: set[str]) -> list[str]:
            return sorted(ids, key=lambda i: (-self.p[i], i))

        held = self.held(menu_id)
        movable = self.rules.movable
        strangers = by_calls({i for i in held - topic if i in movable})
        own = by_calls({i for i in topic - held if i in movable and i in self.parent})
        for out, back in zip(strangers, own):
            if labels.keeps(menu_id, self.held(menu_id)):
                break
            self.swap(out, back)

    def shake(self, rng: random.Random, swaps: int) -> bool:
        """Swap random pairs of movable services of similar popularity (at most `KICK_RANKS`
        apart) in different menus: alternative groupings that runs of one popularity order, as
        the interval program builds them, do not reach. False if no pair can be swapped."""
        ranked = sorted(self.movable_services(), key=lambda i: (-self.p[i], i))
        pairs = [
            (x, y)
            for n, x in enumerate(ranked)
            for y in ranked[n + 1 : n + 1 + KICK_RANKS]
            if self.parent[x] != self.parent[y]
        ]
        if not pairs:
            return False
        for x, y in rng.sample(pairs, min(swaps, len(pairs))):
            if self.parent[x] != self.parent[y]:
                self.swap(x, y)
        return True

    def can_leave(self, menu_id: str) -> bool:
        """A generated menu needs two options; a kept one at least one. A topic menu may drop to
        one on the way (`collapse` then takes it out)."""
        least = 2 if self.menus[menu_id].synthetic else 1
        return len(self.menus[menu_id].children) > least

    def collapse(self) -> None:
        """Replace every menu of one option that the constraints do not keep by that option: a
        level that offers no choice only costs callers time."""
        for menu_id in self.movable_menus():
            menu = self.menus.get(menu_id)
            if menu is None or len(menu.children) != 1 or menu.children[0] in self.rules.pinned:
                continue  # a pinned service keeps its key in its menu; the parent may have it taken
            (child,) = menu.children
            if child not in self.menus and not self.takes_services(self.parent[menu_id]):
                continue
            parent = self.parent.pop(menu_id)
            siblings = self.menus[parent].children
            siblings[siblings.index(menu_id)] = child
            self.parent[child] = parent
            del self.menus[menu_id]
            self._forget(menu_id)
            self._place_at(child, self.menus[parent].level + 1)
            self._changed(parent)

    def has_room(self, menu_id: str) -> bool:
        return len(self.menus[menu_id].children) < self.rules.breadth

    # --- exact re-solve -------------------------------------------------------------------

    def free_leaves(self, menu_id: str) -> list[str] | None:
        """Services below a menu made only of movable services and generated menus, else None."""
        found: list[str] = []
        for child in self.menus[menu_id].children:
            if child in self.menus:
                below = self.free_leaves(child) if self.menus[child].synthetic and child not in self.kept else None
                if below is None:
                    return None
                found += below
            elif child in self.rules.movable:
                found.append(child)
            else:
                return None
        return found

    def resolve(self, menu_id: str) -> bool:
        """Lay out the menu's subtree exactly; True when that was cheaper and is now applied."""
        leaves = self.free_leaves(menu_id)
        if leaves is None or not 2 <= len(leaves) <= EXACT_LIMIT:
            return False
        menu, params = self.menus[menu_id], self.params
        program = SubsetProgram(
            [Item(self.p[i], params.option_seconds(self.blocks[i][0].prompt)) for i in leaves],
            self.rules.breadth,
            params.level_overhead + params.synthetic_header,
            params.option_seconds(params.group_prompt),
        )
        room = len(leaves) if self.rules.max_depth is None else self.rules.max_depth - menu.level + 1
        cost, layout = program.menu(params.level_overhead + self._charged(menu_id)[0], room)
        if cost >= self.cost(menu_id)[1] - GAIN:
            return False
        self._drop_below(menu_id)
        menu.children = [self._place(block, leaves, menu) for block in layout]
        self._changed(menu_id)
        return True

    def _drop_below(self, menu_id: str) -> None:
        for child in self.menus[menu_id].children:
            if child in self.menus:
                self._drop_below(child)
                del self.menus[child], self.parent[child]
                self._forget(child)

    def _place(self, block: Layout | int, leaves: list[str], parent: _Menu) -> str:
        if isinstance(block, int):
            node_id = leaves[block]
        else:
            # a placeholder: moves change what a menu holds, so `_build` names generated menus
            # by their final content; a content name here could meet a stale one
            node_id = f"auto-draft-{next(self._fresh)}"
            menu = _Menu(
                node_id,
                self.params.synthetic_header,
                self.params.group_prompt,
                True,
                parent.level + 1,
            )
            self.menus[node_id] = menu
            menu.children = [self._place(b, leaves, menu) for b in block]
        self.parent[node_id] = parent.id
        return node_id

    # --- back to a tree -------------------------------------------------------------------

    def tree(self) -> MenuTree:
        return self._build(self.root)

    def _build(self, menu_id: str) -> MenuTree:
        entries = []
        for option in self._options(menu_id):
            node = self._build(option.id) if option.id in self.menus else self.blocks[option.id][0]
            entries.append(Entry(node, option.mass, option.seconds, option.key))
        menu = self.menus[menu_id]
        new_id = menu.id
        if menu.synthetic and menu.id.startswith("auto-"):
            new_id = synthetic_id("auto", self._leaf_ids(menu_id))
        header, prompt = self._charged(menu_id)
        options = arrange(entries, self.rules.keys, self.rules.pinned)
        return MenuTree(new_id, header, options, prompt, menu.synthetic, menu.topic)

    def _leaf_ids(self, menu_id: str) -> list[str]:
        out: list[str] = []
        for child in self.menus[menu_id].children:
            out += self._leaf_ids(child) if child in self.menus else [child]
        return out


def improve(tree: MenuTree, p: Mapping[str, float], params: CostParams, rules: Rules) -> MenuTree:
    """`tree` after local search: same services, same constraints, no menu of one option the
    constraints do not keep, and never more expensive than `tree` without such menus."""
    draft = Draft(tree, p, params, rules)
    for _ in range(MAX_PASSES):
        before = draft.total()
        for menu_id in sorted(draft.menus):
            if menu_id in draft.menus:  # an earlier re-solve may have replaced it
                draft.resolve(menu_id)
        _relocations(draft, draft.movable_services())
        _swaps(draft)
        _menu_moves(draft)
        draft.collapse()
        if draft.total() >= before * (1 - SETTLED):
            break
    return draft.tree()


def iterate(
    tree: MenuTree,
    p: Mapping[str, float],
    params: CostParams,
    rules: Rules,
    kicks: int = KICKS,
    patience: int = PATIENCE,
) -> MenuTree:
    """Kick a tree `improve` settled and search again, keeping what is cheaper.

    Single moves stall where a gain needs several of them at once: a kept menu regains its own,
    shorter clips (`labels`) only when it holds only its topic again, which takes a
    few swaps that each cost time on their own. A kick first tries exactly that for each menu that
    lost its topic, then random swaps. The kicks are seeded, so a tree is always laid out the same.
    """
    best = tree
    cost = Draft(best, p, params, rules).total()
    rng = random.Random(0)
    tried: set[str] = set()
    fruitless = 0
    for _ in range(kicks):
        draft = Draft(best, p, params, rules)
        lost = [m for m in draft.off_topic() if m not in tried]
        if lost:
            tried.add(lost[0])
            draft.restore_topic(lost[0])
        elif fruitless >= patience or not draft.shake(rng, KICK_SWAPS):
            break
        else:
            fruitless += 1
        candidate = improve(draft.tree(), p, params, rules)
        found = Draft(candidate, p, params, rules).total()
        if found < cost - GAIN:
            best, cost = candidate, found
            tried.clear()
            fruitless = 0
    return best


def _relocations(draft: Draft, nodes: list[str]) -> None:
    for node in nodes:
        for target in draft.open_menus():
            source = draft.parent[node]
            if target == source or not draft.has_room(target) or not draft.can_leave(source):
                continue
            if not draft.fits(node, target):
                continue
            before = draft.total()
            draft.relocate(node, target)
            if draft.total() >= before - GAIN:
                draft.relocate(node, source)


def _swap_if_cheaper(draft: Draft, x: str, y: str) -> None:
    before = draft.total()
    draft.swap(x, y)
    if draft.total() >= before - GAIN:
        draft.swap(x, y)


def _swaps(draft: Draft) -> None:
    for x, y in itertools.combinations(draft.movable_services(), 2):
        if draft.parent[x] != draft.parent[y]:
            _swap_if_cheaper(draft, x, y)


def _menu_moves(draft: Draft) -> None:
    """Move whole submenus, and swap them with services or other submenus: a topic menu keeps
    its short texts wherever it goes, which moving its services one at a time would lose."""
    _relocations(draft, draft.movable_menus())
    for menu in draft.movable_menus():
        for other in [*draft.movable_menus(), *draft.movable_services()]:
            a, b = draft.parent[menu], draft.parent[other]
            if (
                other != menu
                and a != b
                and draft.fits(menu, b)
                and draft.fits(other, a)
                and (other in draft.menus or draft.takes_services(a))
            ):
                _swap_if_cheaper(draft, menu, other)
