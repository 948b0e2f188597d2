"""Order-preserving interval dynamic program that lays out menus.

Free units (a service, or a keep-together group of services) are sorted by popularity. A menu
covers a contiguous run of units and splits it into contiguous runs, one per option in play
order; a run of one unit is that service, a longer run a generated "more options" submenu.

Why it decomposes: in a menu covering units s..j, the clip of the option whose run starts at
unit x is heard by every caller of units x..j (and by callers of fixed children played later),
so a menu's cost is a sum of per-option terms that depend only on the run, the menu's end j,
and (for kept menus with fixed children) the slot. V[q, s] = cheapest way to place units s..j
in slots q.. of a menu ending at j.

Kept menus ("skeleton": ancestors of fixed nodes, and the root) have slots in key order: fixed
children at their keys, open keys for free runs, and kept submenus that may absorb a run.

A keep-together group always has a menu to itself (its own generated `group-<hash>` menu, or the
kept menu its fixed members hold in place): no other service joins it, so the written flow can
say so with `keep_together: true` on that menu and the next run keeps the group as this one did.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

import numpy as np

from ivr_engine.optimizer.cost import CostParams
from ivr_engine.optimizer.tree import MenuTree, Node, Option, Service

INF = float("inf")
SKIP = -1  # open slot left unused / kept submenu given no free units


@dataclass(frozen=True)
class Unit:
    """What the program places as one piece: a service, or a group sharing a parent."""

    services: tuple[Service, ...]  # a group's members in the order they are played
    masses: tuple[float, ...]
    group: bool
    pinned: frozenset[str]  # pinned keys of the members

    @property
    def mass(self) -> float:
        return sum(self.masses)


def make_unit(
    members: Sequence[Service],
    p: dict[str, float],
    params: CostParams,
    pinned: dict[str, str],
    group: bool,
) -> Unit:
    # Smith's rule: ordering options by mass / clip seconds minimises the clip time heard
    ordered = sorted(
        members, key=lambda s: (-p[s.id] / params.option_seconds(s.prompt), s.id)
    )
    return Unit(
        services=tuple(ordered),
        masses=tuple(p[s.id] for s in ordered),
        group=group,
        pinned=frozenset(pinned[s.id] for s in ordered if s.id in pinned),
    )


@dataclass
class Slot:
    key: str
    kind: Literal["open", "fixed", "skeleton"]
    seconds: float = 0.0  # the child's option clip plus the pause
    mass: float = 0.0  # callers whose service lies under a fixed child / kept submenu's fixed part
    internal: float = 0.0  # caller-seconds spent inside a fixed child after choosing it
    node: Node | None = None
    menu: KeptMenu | None = None


@dataclass
class KeptMenu:
    """A menu that keeps its id and path; free units may fill its open keys."""

    menu: MenuTree
    level: int  # keypresses to reach its options' services (root = 1)
    slots: list[Slot]
    a: float  # fixed cost of this level
    # it holds a keep-together group's fixed members: free services may not join them, only
    # generated submenus
    exclusive: bool = False
    suffix_mass: list[float] = field(default_factory=list)  # fixed mass at slots q..
    full: np.ndarray | None = (
        None  # cost over free units s..e (same units as the planner)
    )
    empty: float = INF  # cost with no free units

    def __post_init__(self) -> None:
        self.suffix_mass = [0.0] * (len(self.slots) + 1)
        for q in range(len(self.slots) - 1, -1, -1):
            self.suffix_mass[q] = self.suffix_mass[q + 1] + self.slots[q].mass

    @property
    def forbidden(self) -> frozenset[str]:
        return frozenset(slot.key for slot in self.slots if slot.kind != "open")


@dataclass
class Entry:
    """An option of a menu under construction."""

    node: Node
    mass: float
    seconds: float
    key: str | None  # kept key of a fixed child, else None

    @property
    def id(self) -> str:
        return self.node.id


def synthetic_id(prefix: str, leaf_ids: Sequence[str]) -> str:
    # content-derived ids stay the same across releases when a group's content does not change
    digest = hashlib.sha1("\x1f".join(sorted(leaf_ids)).encode()).hexdigest()[:10]
    return f"{prefix}-{digest}"


class Planner:
    def __init__(
        self,
        units: Sequence[Unit],
        params: CostParams,
        breadth: int,
        keys: str,
        max_depth: int | None,
        pinned: dict[str, str],
    ):
        self.units = list(units)
        self.params = params
        self.k = breadth
        self.keys = keys
        self.max_depth = max_depth
        self.pinned = pinned
        n = self.n = len(self.units)
        self.cum = np.concatenate([[0.0], np.cumsum([u.mass for u in self.units])])
        self.own = np.array(
            [
                INF if u.group else params.option_seconds(u.services[0].prompt)
                for u in self.units
            ]
        )
        self.group_seconds = params.option_seconds(params.group_prompt)
        self.a_syn = params.level_overhead + params.synthetic_header
        # a group's own menu: its level, and each member's clip heard by the members from it on
        self.group_menu = np.zeros(n)
        for x, unit in enumerate(self.units):
            if unit.group:
                suffix = np.cumsum(unit.masses[::-1])[::-1]
                clips = np.array(
                    [params.option_seconds(s.prompt) for s in unit.services]
                )
                self.group_menu[x] = self.a_syn * unit.mass + float(clips @ suffix)
        # layers[d]: generated menus whose services are at most d levels below their parent
        # (None = depth unlimited, one self-referencing table)
        self.layers: dict[int, tuple[np.ndarray, np.ndarray, list[np.ndarray]]] = {}
        if max_depth is None:
            self._fill_layer(0, sub_layer=0)
        else:
            for d in range(1, max(1, max_depth - 1) + 1):
                self._fill_layer(d, sub_layer=d - 1 if d >= 2 else None)

    # --- generated menus --------------------------------------------------------------------

    def _layer_for(self, depth_left: int | None) -> int | None:
        """Table for a generated submenu with `depth_left` levels of room (None: unlimited)."""
        if self.max_depth is None:
            return 0
        if depth_left is None or depth_left < 1:
            return None
        return min(depth_left, max(self.layers))

    def _candidates(
        self,
        s: int,
        j: int,
        heard: float,
        sub: int | None,
        direct_ok: bool,
        forbidden: frozenset[str],
    ) -> np.ndarray:
        """Cost of the option whose run is s..e, for e = s..j, heard by `heard` mass."""
        cand = np.full(j - s + 1, INF)
        unit = self.units[s]
        if unit.group:
            if sub is not None:
                cand[0] = self.group_seconds * heard + self.group_menu[s]
        elif direct_ok and not (unit.pinned & forbidden):
            cand[0] = self.own[s] * heard
        if sub is not None and j > s:
            cand[1:] = (
                self.group_seconds * heard + self.layers[sub][0][s, s + 1 : j + 1]
            )
        return cand

    def _fill_layer(self, d: int, sub_layer: int | None) -> None:
        n, k = self.n, self.k
        F = np.full((n, n), INF)
        arg_first = np.full((n, n), SKIP, dtype=np.int32)
        arg_rest: list[np.ndarray] = []
        self.layers[d] = (F, arg_first, arg_rest)
        for j in range(n):
            V = np.full((k + 1, j + 2), INF)
            V[:, j + 1] = 0.0
            arg = np.full((k, j + 1), SKIP, dtype=np.int32)
            for s in range(j, -1, -1):
                P = self.cum[j + 1] - self.cum[s]
                # in the unlimited table the run s..j itself is not known yet: filled below
                cand = self._candidates(s, j, P, sub_layer, True, frozenset())
                if j > s:
                    # a menu needs at least two options, so its first run stops before j
                    total = cand[:-1] + V[1, s + 1 : j + 1]
                    e = int(np.argmin(total))
                    F[s, j] = self.a_syn * P + total[e]
                    arg_first[s, j] = s + e
                    if sub_layer == d:
                        cand[-1] = self.group_seconds * P + F[s, j]
                M = cand[None, :] + V[1 : k + 1, s + 1 : j + 2]
                best = M.argmin(axis=1)
                V[:k, s] = M[np.arange(k), best]
                arg[:, s] = s + best
            arg_rest.append(arg)

    # --- kept menus -------------------------------------------------------------------------

    def fill_kept(self, menu: KeptMenu, only_full: bool, band: int | None) -> None:
        """Cost of `menu` over runs s..e of free units: the whole run for the root, else every
        run of at most `band` units (None: every run)."""
        n = self.n
        menu.full = np.full((n, n), INF)
        V, _ = self._kept_pass(menu, -1)
        menu.empty = menu.a * menu.suffix_mass[0] + V[0, 0]
        for j in [n - 1] if only_full and n else range(n):
            lo = 0 if only_full or band is None else max(0, j - band + 1)
            V, _ = self._kept_pass(menu, j, lo)
            P = self.cum[j + 1] - self.cum[lo : j + 1]
            menu.full[lo : j + 1, j] = (
                menu.a * (P + menu.suffix_mass[0]) + V[0, : j + 1 - lo]
            )

    def _kept_pass(
        self, menu: KeptMenu, j: int, lo: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """V[q, s - lo] and its choices for a kept menu ending at unit j, for s = lo..j+1 (j+1:
        no free unit left), one slot at a time for every s at once: row q only needs row q+1,
        since kept submenus and generated tables are already final."""
        Q = len(menu.slots)
        size = j + 2 - lo
        V = np.full((Q + 1, size), INF)
        V[Q, size - 1] = 0.0
        arg = np.full((Q, size), SKIP, dtype=np.int32)
        depth_left = None if self.max_depth is None else self.max_depth - menu.level
        direct_ok = (self.max_depth is None or menu.level <= self.max_depth) and not menu.exclusive
        sub = self._layer_for(depth_left)
        P = self.cum[j + 1] - self.cum[lo : j + 2]  # callers of units s..j
        width = size - 1  # runs start and end within lo..j
        starts = np.arange(width)
        singles = self._single_costs(lo, j, sub, direct_ok, menu.forbidden)
        for q in range(Q - 1, -1, -1):
            slot = menu.slots[q]
            heard = P + menu.suffix_mass[q]
            after = V[q + 1, 1:size]  # continuing at unit e+1, for e = lo..j
            if slot.kind == "fixed":
                V[q] = slot.seconds * heard + slot.internal + V[q + 1]
                continue
            if slot.kind == "skeleton":
                assert slot.menu is not None and slot.menu.full is not None
                best, choice = (
                    slot.menu.empty + V[q + 1],
                    np.full(size, SKIP, dtype=np.int32),
                )
                if width > 0:
                    M = slot.menu.full[lo : j + 1, lo : j + 1] + after[None, :]
                    e = M.argmin(axis=1)
                    take = M[starts, e] < best[:width]
                    best[:width] = np.where(take, M[starts, e], best[:width])
                    choice[:width] = np.where(take, e + lo, SKIP)
                V[q] = slot.seconds * heard + best
                arg[q] = choice
                continue
            best, choice = V[q + 1].copy(), np.full(size, SKIP, dtype=np.int32)
            if width > 0:
                C = np.full((width, width), INF)
                if sub is not None:
                    C = (
                        self.group_seconds * heard[:width, None]
                        + self.layers[sub][0][lo : j + 1, lo : j + 1]
                    )
                # a unit that may not sit here has infinite seconds; heard may be 0 (unused services)
                allowed = np.isfinite(singles[0])
                C[starts, starts] = np.where(
                    allowed,
                    np.where(allowed, singles[0], 0.0) * heard[:width] + singles[1],
                    INF,
                )
                M = C + after[None, :]
                e = M.argmin(axis=1)
                take = M[starts, e] < best[:width]
                best[:width] = np.where(take, M[starts, e], best[:width])
                choice[:width] = np.where(take, e + lo, SKIP)
            V[q] = best
            arg[q] = choice
        return V, arg

    def _single_costs(
        self,
        lo: int,
        j: int,
        sub: int | None,
        direct_ok: bool,
        forbidden: frozenset[str],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per unit s in lo..j, the cost of offering it alone as (seconds per caller heard, fixed part)."""
        seconds = np.full(j + 1 - lo, INF)
        fixed = np.zeros(j + 1 - lo)
        for s in range(lo, j + 1):
            unit = self.units[s]
            if unit.group:
                if sub is not None:
                    seconds[s - lo], fixed[s - lo] = (
                        self.group_seconds,
                        self.group_menu[s],
                    )
            elif direct_ok and not (unit.pinned & forbidden):
                seconds[s - lo] = self.own[s]
        return seconds, fixed

    # --- building the tree ------------------------------------------------------------------

    def _unit_entries(self, s: int, e: int, sub: int | None) -> list[Entry]:
        if e == s:
            unit = self.units[s]
            if unit.group:
                members = [
                    Entry(svc, m, self.params.option_seconds(svc.prompt), None)
                    for svc, m in zip(unit.services, unit.masses)
                ]
                node = self._menu(
                    synthetic_id("group", [svc.id for svc in unit.services]), members
                )
                return [Entry(node, unit.mass, self.group_seconds, None)]
            svc = unit.services[0]
            return [Entry(svc, unit.mass, self.params.option_seconds(svc.prompt), None)]
        assert sub is not None
        node = self.build_generated(sub, s, e)
        return [
            Entry(node, float(self.cum[e + 1] - self.cum[s]), self.group_seconds, None)
        ]

    def build_generated(self, d: int, s: int, j: int) -> MenuTree:
        _, arg_first, arg_rest = self.layers[d]
        sub = 0 if self.max_depth is None else (d - 1 if d >= 2 else None)
        entries: list[Entry] = []
        e = int(arg_first[s, j])
        entries += self._unit_entries(s, e, sub)
        x, q = e + 1, 1
        while x <= j:
            choice = int(arg_rest[j][q, x])
            entries += self._unit_entries(x, choice, sub)
            q += 1
            x = choice + 1
        leaf_ids = [svc.id for u in self.units[s : j + 1] for svc in u.services]
        return self._menu(synthetic_id("auto", leaf_ids), entries)

    def _menu(self, menu_id: str, entries: list[Entry]) -> MenuTree:
        return MenuTree(
            id=menu_id,
            header=self.params.synthetic_header,
            options=arrange(entries, self.keys, self.pinned),
            prompt=self.params.group_prompt,
            synthetic=True,
        )

    def build_kept(self, menu: KeptMenu, s: int, j: int) -> MenuTree:
        """The kept menu holding free units s..j (s > j: none)."""
        _, arg = self._kept_pass(menu, j)
        depth_left = None if self.max_depth is None else self.max_depth - menu.level
        sub = self._layer_for(depth_left)
        entries: list[Entry] = []
        q = 0
        while q < len(menu.slots):
            slot = menu.slots[q]
            choice = int(arg[q, s]) if s <= j + 1 else SKIP
            if slot.kind == "fixed":
                assert slot.node is not None
                entries.append(Entry(slot.node, slot.mass, slot.seconds, slot.key))
            elif slot.kind == "skeleton":
                assert slot.menu is not None
                child = (
                    self.build_kept(slot.menu, s, choice)
                    if choice != SKIP
                    else self.build_kept(slot.menu, 0, -1)
                )
                free = (
                    float(self.cum[choice + 1] - self.cum[s]) if choice != SKIP else 0.0
                )
                entries.append(Entry(child, slot.mass + free, slot.seconds, slot.key))
                if choice != SKIP:
                    s = choice + 1
            elif choice != SKIP:
                entries += self._unit_entries(s, choice, sub)
                s = choice + 1
            q += 1
        return MenuTree(
            id=menu.menu.id,
            header=menu.menu.header,
            options=arrange(entries, self.keys, self.pinned),
            prompt=menu.menu.prompt,
            synthetic=menu.menu.synthetic,
            topic=menu.menu.topic,
        )


class Offered(Protocol):
    """What key assignment needs to know about an option."""

    @property
    def id(self) -> str: ...
    @property
    def mass(self) -> float: ...
    @property
    def seconds(self) -> float: ...
    @property
    def key(self) -> str | None: ...


O = TypeVar("O", bound=Offered)


def key_order(entries: Sequence[O], keys: str, pinned: Mapping[str, str]) -> list[tuple[str, O]]:
    """Keys and play order: fixed children keep their keys, pinned ones get theirs, the rest take
    the lowest free keys by mass per clip second (Smith's rule); options play in key order."""
    taken = {e.key for e in entries if e.key is not None} | {
        pinned[e.id] for e in entries if e.key is None and e.id in pinned
    }
    free_keys = iter(k for k in keys if k not in taken)
    keyed: list[tuple[str, O]] = []
    free = sorted(
        (e for e in entries if e.key is None),
        key=lambda e: -e.mass / e.seconds if e.seconds > 0 else -INF,
    )
    for entry in free:
        keyed.append((pinned.get(entry.id) or next(free_keys), entry))
    keyed += [(e.key, e) for e in entries if e.key is not None]
    return sorted(keyed, key=lambda pair: pair[0])


def arrange(
    entries: list[Entry], keys: str, pinned: Mapping[str, str]
) -> tuple[Option, ...]:
    return tuple(Option(key, e.node) for key, e in key_order(entries, keys, pinned))
