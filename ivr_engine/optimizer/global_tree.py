"""The system-generated global tree: rearrange a menu tree so popular services sit near the root.

`optimize` lays the free services out with the interval program in `dp`, keeps what the
constraints keep, limits path churn against the current tree, and only proposes a new tree when
it saves enough caller-seconds.
"""

from __future__ import annotations

import contextlib
import heapq
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ivr_engine.optimizer.bound import (
    KeptLevel,
    KeptSlot,
    kept_bound,
    position_costs,
    services_bound,
)
from ivr_engine.optimizer.cost import (
    CostParams,
    TreeMetrics,
    evaluate,
    expected_time,
    inside,
    leaf_times,
    normalize,
)
from ivr_engine.optimizer.dp import KeptMenu, Planner, Slot, Unit, make_unit
from ivr_engine.optimizer.labels import Labels, recharge
from ivr_engine.optimizer.polish import polish
from ivr_engine.optimizer.search import Rules, improve, iterate
from ivr_engine.optimizer.tree import (
    Constraints,
    MenuTree,
    Path,
    Service,
    TreeError,
    ancestor_ids,
    broken_groups,
    check_tree,
    leaf_paths,
    node_at,
    over_wide_menus,
    paths,
    services,
    violations,
    walk,
)

KEPT_RUN_LIMIT = 32  # free services one kept submenu may take in the fast pass


class InfeasibleError(TreeError):
    """No tree satisfies the constraints (e.g. too many services for max_depth and breadth)."""


@dataclass(frozen=True)
class OptimizationResult:
    tree: MenuTree  # the proposed tree, or the current one when `applied` is False
    before: TreeMetrics  # the current tree
    after: TreeMetrics  # `tree`
    bound: float  # no tree the constraints allow has a smaller E[T] (`problem_bound`)
    unconstrained_bound: float  # no tree over these services at all has a smaller E[T]
    ratio: float  # after.expected_time / bound
    saving: float  # relative E[T] saving of the best tree found over the current one
    applied: bool  # False: saving below min_saving, current tree returned unchanged
    changed_paths: Mapping[
        str, tuple[Path, Path]
    ]  # service id -> (old key path, new key path)
    changed_menus: tuple[
        str, ...
    ]  # menus whose options differ or that are new (only the former say "this menu has changed")
    max_churn: int | None = None
    # why more than `max_churn` services changed path: the ways the current tree breaks the
    # constraints, which have to be mended whatever the cap
    churn_forced_by: tuple[str, ...] = ()
    # not applied because of: "min_saving", or "max_churn" when the best tree without the cap
    # would have saved enough
    held_back_by: str | None = None
    uncapped_saving: float | None = None  # with `max_churn`: what the best tree without the cap saves
    # applied below min_saving, since the current tree breaks the constraints in these ways
    mends: tuple[str, ...] = ()


def optimize(
    current: MenuTree,
    probabilities: Mapping[str, float],
    params: CostParams | None = None,
    constraints: Constraints | None = None,
    *,
    max_churn: int | None = None,
    min_saving: float = 0.0,
) -> OptimizationResult:
    """A shallower tree over the services of `current`, for leaf access frequencies `probabilities`.

    `max_churn` caps how many services may change key path; `min_saving` is the relative E[T]
    saving below which the current tree is kept (unless it breaks the constraints).
    """
    params = params or CostParams()
    constraints = constraints or Constraints()
    if max_churn is not None and max_churn < 0:
        raise TreeError(f"max_churn must be >= 0, got {max_churn}")
    if not (math.isfinite(min_saving) and min_saving < 1.0):
        raise TreeError(
            f"min_saving must be a finite fraction below 1, got {min_saving}"
        )
    check_tree(current)
    p = normalize(probabilities, services(current))
    check_constraints(current, constraints)
    constraints = hold_groups(current, constraints)
    candidate = layout(current, p, params, constraints)
    before = evaluate(current, p, params)

    def saving_of(tree: MenuTree) -> float:
        return (before.expected_time - expected_time(tree, p, params)) / before.expected_time

    uncapped = None
    if max_churn is not None:
        uncapped = saving_of(candidate)
        candidate = _limit_churn(current, candidate, p, params, constraints, max_churn)
    found = evaluate(candidate, p, params)
    saving = (before.expected_time - found.expected_time) / before.expected_time
    broken = tuple(violations(current, constraints, current))
    enough = max(min_saving, 1e-12)
    applied = bool(broken) or saving >= enough
    tree, after = (candidate, found) if applied else (current, before)
    held_back = None
    if not applied:
        held_back = "max_churn" if uncapped is not None and uncapped >= enough else "min_saving"
    changed = changed_paths(current, tree)
    forced = broken if max_churn is not None and len(changed) > max_churn else ()
    free = unconstrained_bound(current, p, params, constraints)
    bound = max(free, _kept_part(current, p, params, constraints))  # `problem_bound`
    return OptimizationResult(
        tree=tree,
        before=before,
        after=after,
        bound=bound,
        unconstrained_bound=free,
        ratio=after.expected_time / bound if bound > 0 else math.inf,
        saving=saving,
        applied=applied,
        changed_paths=changed,
        changed_menus=changed_menus(current, tree),
        max_churn=max_churn,
        churn_forced_by=forced,
        held_back_by=held_back,
        uncapped_saving=uncapped,
        mends=broken if saving < enough else (),
    )


def problem_bound(
    current: MenuTree,
    p: Mapping[str, float],
    params: CostParams,
    constraints: Constraints,
) -> float:
    """No tree the constraints allow has a smaller E[T]: the larger of `unconstrained_bound` and
    the bound that charges the menus and children the constraints keep in place (`kept_bound`)."""
    return max(unconstrained_bound(current, p, params, constraints), _kept_part(current, p, params, constraints))


def _kept_part(
    current: MenuTree,
    p: Mapping[str, float],
    params: CostParams,
    constraints: Constraints,
) -> float:
    plan = _plan(current, constraints)
    if current.id in plan.frozen:
        return expected_time(current, p, params)  # the only tree there is
    leaves = services(current).values()
    repeatable = _repeatable_prompt(current, params)
    k = _widest(current, plan, constraints)
    free_costs = position_costs(
        params.level_overhead + _cheapest_header(current, params),
        [s.prompt for s in leaves],
        repeatable,
        params.option_gap,
        k,
    )
    movable = [s.prompt for s in leaves if s.id not in plan.stays]
    cheapest = [params.option_seconds(c) for c in heapq.nsmallest(k, [*movable, *[repeatable] * k])]
    root = _kept_level(current, plan, p, params, constraints, is_root=True)
    called = {i: w for i, w in p.items() if w > 0.0}
    return kept_bound(called, root, cheapest, free_costs)


def unconstrained_bound(
    current: MenuTree,
    p: Mapping[str, float],
    params: CostParams,
    constraints: Constraints,
) -> float:
    """H(p)/lambda for any tree over these services with these clips, breadth and headers.

    The root always stays, so every caller hears its header: the part of it above the cheapest
    header the per-level costs assume is added to the bound, which keeps it valid and tighter.
    """
    cheapest = _cheapest_header(current, params)
    bound = services_bound(
        p,
        {s.id: s.prompt for s in services(current).values()},
        level_cost=params.level_overhead + cheapest,
        repeatable_prompt=_repeatable_prompt(current, params),
        option_gap=params.option_gap,
        k=_widest(current, _plan(current, constraints), constraints),
    )
    return current.header - cheapest + bound


def _cheapest_header(current: MenuTree, params: CostParams) -> float:
    """The shortest header any menu level can have: generated, or any menu's own."""
    return min([params.synthetic_header, *(n.header for _, n in walk(current) if isinstance(n, MenuTree))])


def _repeatable_prompt(current: MenuTree, params: CostParams) -> float:
    """The shortest option clip a submenu can have: generated, or any menu's own (the root is
    never offered)."""
    return min(
        [params.group_prompt, *(n.prompt for _, n in walk(current) if isinstance(n, MenuTree) and n is not current)]
    )


def _widest(current: MenuTree, plan: _Plan, constraints: Constraints) -> int:
    """Most options a menu may have: the breadth, or more where kept children force it."""
    forced = [
        sum(o.child.id in plan.stays for o in node.options)
        for _, node in walk(current)
        if isinstance(node, MenuTree) and node.id in plan.kept
    ]
    return max([constraints.max_options, *forced])


def _kept_level(
    menu: MenuTree,
    plan: _Plan,
    p: Mapping[str, float],
    params: CostParams,
    constraints: Constraints,
    is_root: bool = False,
) -> KeptLevel:
    """What a kept menu holds in place, as cheap as its labels allow: a kept submenu that loses
    its topic plays generated texts (`labels`), so it costs at least the cheaper of the two."""
    slots: list[KeptSlot] = []
    for option in menu.options:
        child = option.child
        if child.id in plan.kept:
            assert isinstance(child, MenuTree)
            slots.append(
                KeptSlot(
                    option.key,
                    params.option_seconds(min(child.prompt, params.group_prompt)),
                    menu=_kept_level(child, plan, p, params, constraints),
                )
            )
        elif child.id in plan.frozen:
            assert isinstance(child, MenuTree)
            times, _, _ = leaf_times(child, params)
            called = tuple(t for i, t in times.items() if p[i] > 0.0)
            slots.append(KeptSlot(option.key, params.option_seconds(child.prompt), inside=called))
        elif child.id in plan.fixed_services:
            called = (0.0,) if p[child.id] > 0.0 else ()
            slots.append(KeptSlot(option.key, params.option_seconds(child.prompt), inside=called))
    header = menu.header if is_root else min(menu.header, params.synthetic_header)
    used = {slot.key for slot in slots}
    return KeptLevel(
        level_cost=params.level_overhead + header,
        slots=tuple(slots),
        free_keys="".join(k for k in constraints.keys if k not in used),
        room=max(0, constraints.max_options - len(slots)),
    )


def changed_paths(current: MenuTree, new: MenuTree) -> dict[str, tuple[Path, Path]]:
    old, now = leaf_paths(current), leaf_paths(new)
    return {leaf: (old[leaf], now[leaf]) for leaf in old if old[leaf] != now[leaf]}


def changed_menus(current: MenuTree, new: MenuTree) -> tuple[str, ...]:
    def layout_of(tree: MenuTree) -> dict[str, tuple[tuple[str, str], ...]]:
        return {
            node.id: tuple((o.key, o.child.id) for o in node.options)
            for _, node in walk(tree)
            if isinstance(node, MenuTree)
        }

    old, now = layout_of(current), layout_of(new)
    return tuple(
        menu_id for menu_id, options in now.items() if old.get(menu_id) != options
    )


# --- constraints -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """How the current tree splits under the constraints."""

    frozen: frozenset[str]  # fixed menus: kept whole
    inside_frozen: frozenset[str]  # every node id under (and including) a frozen menu
    kept: frozenset[str]  # menus that keep id and path: root and ancestors of fixed nodes
    fixed_services: frozenset[str]

    @property
    def stays(self) -> frozenset[str]:
        """Every node the constraints keep where it is; a service not in it is free to move."""
        return self.kept | self.inside_frozen | self.fixed_services


def _plan(current: MenuTree, constraints: Constraints) -> _Plan:
    where = paths(current)
    frozen = frozenset(
        i for i in constraints.fixed if isinstance(node_at(current, where[i]), MenuTree)
    )
    inside: set[str] = set()
    for menu_id in frozen:
        inside.update(node.id for _, node in walk(node_at(current, where[menu_id])))  # type: ignore[arg-type]
    kept = {current.id}
    for node_id in constraints.fixed:
        kept.update(a for a in ancestor_ids(current, where[node_id]) if a not in inside)
    fixed_services = frozenset(i for i in constraints.fixed if i not in inside)
    return _Plan(
        frozenset(frozen),
        frozenset(inside),
        frozenset(kept - inside),
        fixed_services - frozen,
    )


def check_constraints(current: MenuTree, constraints: Constraints) -> None:
    """Reject constraints that name unknown nodes or contradict each other."""
    where = paths(current)
    leaves = services(current)
    named = [
        *constraints.fixed,
        *constraints.pinned_keys,
        *(i for g in constraints.together for i in g),
    ]
    for node_id in named:
        if node_id not in where:
            raise TreeError(
                f"constraints name {node_id!r}, which is not a node of tree {current.id!r}"
            )
    plan = _plan(current, constraints)
    stays = plan.stays
    free_pins: dict[str, str] = {}
    for node_id, key in constraints.pinned_keys.items():
        if node_id == current.id:
            raise TreeError(f"constraints: the root {node_id!r} has no key to pin")
        if node_id in stays:
            if where[node_id][-1] != key:
                raise TreeError(
                    f"constraints: {node_id!r} is pinned to key {key} but fixed at key {where[node_id][-1]}"
                )
        elif node_id not in leaves:
            raise TreeError(
                f"constraints: pinned menu {node_id!r} is rebuilt by the optimizer; fix it (or a service in it) too"
            )
        elif key in free_pins.values():
            other = next(i for i, k in free_pins.items() if k == key)
            raise TreeError(
                f"constraints: {node_id!r} and {other!r} are both pinned to key {key} and may share a menu"
            )
        else:
            free_pins[node_id] = key
    seen: set[str] = set()
    for group in constraints.together:
        if seen & group:
            raise TreeError(
                f"constraints: {sorted(seen & group)} belong to two keep-together groups"
            )
        seen |= group
        if any(i not in leaves for i in group):
            raise TreeError(
                f"constraints: keep-together group {sorted(group)} names a menu; only services can be grouped"
            )
        if len(group) > constraints.max_options:
            raise TreeError(
                f"constraints: keep-together group {sorted(group)} has more services than a menu's {constraints.max_options} options"
            )
        staying = group & stays
        if staying and len({where[i][:-1] for i in group}) > 1:
            raise TreeError(
                f"constraints: keep-together group {sorted(group)} has members the constraints keep in place "
                f"({', '.join(sorted(staying))}), and they hold the group in their menu: all its members must be there"
            )
        menu = node_at(current, where[min(group)][:-1])
        assert isinstance(menu, MenuTree)
        strangers = sorted(
            o.child.id for o in menu.options if isinstance(o.child, Service) and o.child.id in stays - group
        )
        if staying and strangers:
            raise TreeError(
                f"constraints: keep-together group {sorted(group)} is held in menu {menu.id!r}, which keeps "
                f"{', '.join(strangers)} in place too: a group has its menu to itself"
            )
        pins = [
            constraints.pinned_keys[i] for i in group if i in constraints.pinned_keys
        ]
        if len(pins) != len(set(pins)):
            raise TreeError(
                f"constraints: keep-together group {sorted(group)} pins two members to the same key"
            )
        # A group held in place stays there whole (hold_groups), each member at its key.
        for node_id in sorted(group - stays) if staying else ():
            key = constraints.pinned_keys.get(node_id, where[node_id][-1])
            if key != where[node_id][-1]:
                raise TreeError(
                    f"constraints: {node_id!r} is pinned to key {key}, but its keep-together group "
                    f"{sorted(group)} is held in place by {', '.join(sorted(staying))}, with {node_id!r} "
                    f"at key {where[node_id][-1]}"
                )
    if constraints.max_depth is not None:
        for node_id in sorted(plan.fixed_services | plan.inside_frozen):  # the same message every run
            if (
                isinstance(node_at(current, where[node_id]), Service)
                and len(where[node_id]) > constraints.max_depth
            ):
                raise InfeasibleError(
                    f"constraints: fixed {node_id!r} is {len(where[node_id])} levels deep, beyond max_depth "
                    f"{constraints.max_depth}{constraints.depth_note(current.id)}"
                )


def hold_groups(current: MenuTree, constraints: Constraints) -> Constraints:
    """`constraints` with every member of a keep-together group fixed where one member is kept in
    place (a pinned service in a keep-together menu): the group stays there as one unit, which
    keeps both the pin and the group (constraints assumed checked)."""
    plan = _plan(current, constraints)
    held = frozenset().union(*(g - plan.stays for g in constraints.together if g & plan.stays))
    return constraints.with_fixed(held) if held else constraints


# --- layout ------------------------------------------------------------------------------------


def layout(
    current: MenuTree,
    p: Mapping[str, float],
    params: CostParams,
    constraints: Constraints,
) -> MenuTree:
    """The program's best tree (constraints assumed checked)."""
    plan = _plan(current, constraints)
    if current.id in plan.frozen:
        return current
    leaves = services(current)
    free = set(leaves) - plan.stays
    pinned = dict(constraints.pinned_keys)
    grouped = {i for g in constraints.together for i in g}
    units: list[Unit] = [
        make_unit([leaves[i] for i in sorted(g)], dict(p), params, pinned, group=True)
        for g in constraints.together
        if g <= free
    ]
    units += [
        make_unit([leaves[i]], dict(p), params, pinned, group=False)
        for i in sorted(free - grouped)
    ]
    movable = frozenset(free - grouped - set(pinned))
    kept_keys = (plan.kept | plan.frozen | plan.fixed_services) - {current.id}
    labels = Labels(current, params, p)
    rules = Rules(
        movable,
        kept_keys,
        plan.frozen,
        constraints.keys,
        pinned,
        constraints.max_options,
        constraints.max_depth,
        labels,
        grouped=frozenset(grouped),
    )
    # popularity order is what the exchange argument asks for with equal clips; with unequal
    # clips a long-clip service is worth less near the root, so mass per clip second is tried too
    orders: list[list[Unit]] = []
    for order in (_by_mass, _by_mass_per_second(params)):
        units.sort(key=order)
        if units not in orders:  # equal clips: both orders agree
            orders.append(list(units))
    # The program charges a kept submenu its own clips, which it loses when it receives another
    # service; it runs once trusting them and once charging what they play regrouped. The search
    # knows which applies (`labels`) and lands in different places from each start, so every
    # start is searched and the cheapest end kicked (`iterate`).
    starts: list[MenuTree] = []
    regrouped = recharge(current, lambda menu: labels.regrouped(menu.id, services(menu)) if menu.id in plan.kept else None)
    # Runs are consecutive in the order, and a group's menu needs a level of its own: groups
    # amid the singles can leave the program no tree within max_depth where one exists with the
    # groups apart, so that order (singles, then groups, each by popularity) is the fallback.
    fallback = [sorted(orders[0], key=lambda unit: unit.group)]
    failed: InfeasibleError | None = None
    for tried in (orders, fallback):
        for source in (current, regrouped):
            for ordered in tried:
                try:
                    laid = _layout_units(source, ordered, plan, p, params, constraints)
                except InfeasibleError as exc:
                    failed = failed or exc
                    continue
                start = labels.adopt(
                    polish(laid, p, params, movable, kept_keys, plan.frozen, constraints.keys, pinned)
                )
                if start not in starts:  # no kept submenu, or both orders agree
                    starts.append(start)
        if starts or fallback[0] in orders:
            break
    if not starts:
        assert failed is not None
        raise failed
    searched = [improve(start, p, params, rules) for start in starts]
    ends = [min(searched, key=lambda tree: expected_time(tree, p, params))]
    # The current tree is searched and kicked on its own as well, when it keeps the constraints:
    # its topic menus play their own, often much shorter, texts, and moving services between
    # them keeps most of that, where the program's runs of one popularity order mix topics into
    # generated menus. Which of the two ends cheaper shows only after the kicks.
    if not violations(current, constraints, current):
        ends.append(improve(current, p, params, rules))
    kicked = [labels.adopt(iterate(tree, p, params, rules)) for tree in ends]
    return min(kicked, key=lambda tree: expected_time(tree, p, params))


def _by_mass(unit: Unit) -> tuple[float, float, str]:
    return (-unit.mass, unit.services[0].prompt, unit.services[0].id)


def _by_mass_per_second(params: CostParams) -> Callable[[Unit], tuple[float, str]]:
    def key(unit: Unit) -> tuple[float, str]:
        seconds = (
            sum(params.option_seconds(s.prompt) for s in unit.services)
            if not unit.group
            else params.option_seconds(params.group_prompt)
        )
        return (-unit.mass / seconds if seconds > 0 else -math.inf, unit.services[0].id)

    return key


def _layout_units(
    current: MenuTree,
    units: list[Unit],
    plan: _Plan,
    p: Mapping[str, float],
    params: CostParams,
    constraints: Constraints,
) -> MenuTree:
    pinned = dict(constraints.pinned_keys)
    planner = Planner(
        units,
        params,
        constraints.max_options,
        constraints.keys,
        constraints.max_depth,
        pinned,
    )
    n = len(units)
    # a kept submenu rarely deserves a long run of free services (it is deeper than the open
    # keys above it); limiting the runs it may take keeps many fixed nodes affordable, and the
    # unlimited program only runs when the limit leaves no feasible tree
    for band in (KEPT_RUN_LIMIT, None) if n > KEPT_RUN_LIMIT else (None,):
        root = _kept_menu(current, 1, plan, p, params, constraints, planner, band)
        cost = root.full[0, n - 1] if n and root.full is not None else root.empty
        if math.isfinite(cost):
            return planner.build_kept(root, 0, n - 1)
    raise InfeasibleError(_infeasible(current, plan, constraints))


def _infeasible(current: MenuTree, plan: _Plan, constraints: Constraints) -> str:
    """Why no tree fits: the root full of what the constraints keep there, or too little room."""
    n, k, depth = len(services(current)), constraints.max_options, constraints.max_depth
    held = [f"{o.child.id} ({o.key})" for o in current.options if o.child.id in plan.stays]
    if len(held) >= k:
        why = f"{current.id!r} keeps {', '.join(held)} in place, which fills its {k} options"
    elif depth is not None and n > k**depth:
        why = f"{k} options {depth} levels deep hold at most {k**depth} services"
    else:
        why = "what the constraints keep in place, and a menu for each keep-together group, leave too little room"
    within = f" within max_depth {depth}{constraints.depth_note(current.id)}" if depth is not None else ""
    return f"no tree puts {n} services{within} using {k} options per menu: {why}"


def _kept_menu(
    menu: MenuTree,
    level: int,
    plan: _Plan,
    p: Mapping[str, float],
    params: CostParams,
    constraints: Constraints,
    planner: Planner,
    band: int | None,
) -> KeptMenu:
    slots: list[Slot] = []
    for option in menu.options:
        child = option.child
        seconds = params.option_seconds(child.prompt)
        if child.id in plan.kept:
            assert isinstance(child, MenuTree)
            sub = _kept_menu(
                child, level + 1, plan, p, params, constraints, planner, band
            )
            slots.append(
                Slot(option.key, "skeleton", seconds, sub.suffix_mass[0], menu=sub)
            )
        elif child.id in plan.frozen:
            assert isinstance(child, MenuTree)
            mass, seconds_inside = inside(child, p, params)
            slots.append(
                Slot(option.key, "fixed", seconds, mass, seconds_inside, node=child)
            )
        elif child.id in plan.fixed_services:
            slots.append(Slot(option.key, "fixed", seconds, p[child.id], node=child))
    used = {slot.key for slot in slots}
    room = max(0, constraints.max_options - len(slots))
    slots += [
        Slot(key, "open")
        for key in [k for k in constraints.keys if k not in used][:room]
    ]
    slots.sort(key=lambda slot: slot.key)
    grouped = {i for g in constraints.together for i in g}
    kept = KeptMenu(
        menu=menu,
        level=level,
        slots=slots,
        a=params.level_overhead + menu.header,
        exclusive=any(slot.node is not None and slot.node.id in grouped for slot in slots),
    )
    planner.fill_kept(kept, only_full=level == 1, band=band)
    return kept


# --- churn -------------------------------------------------------------------------------------


def _limit_churn(
    current: MenuTree,
    candidate: MenuTree,
    p: Mapping[str, float],
    params: CostParams,
    constraints: Constraints,
    max_churn: int,
) -> MenuTree:
    """Let only the `max_churn` services that gain most change path; fix every other one."""
    old, new = leaf_paths(current), leaf_paths(candidate)
    changed = {leaf for leaf in old if old[leaf] != new[leaf]}
    if len(changed) <= max_churn:
        return candidate
    t_old, _, _ = leaf_times(current, params)
    t_new, _, _ = leaf_times(candidate, params)
    group_of = {i: g for g in constraints.together for i in g}
    plan = _plan(current, constraints)
    movable = set(old) - plan.stays
    units = {group_of.get(leaf, frozenset([leaf])) for leaf in movable}
    # services the current tree places against the constraints have to move whatever the cap
    broken = {leaf for leaf in movable if _breaks(leaf, old, constraints)}
    for group, _ in broken_groups(current, constraints):
        if group <= movable:
            broken |= group
        else:  # held in place: the services that share its menu leave it
            broken |= {leaf for leaf in movable - group if old[leaf][:-1] == old[min(group)][:-1]}
    wide = over_wide_menus(current, constraints, current)

    def gain(unit: frozenset[str]) -> float:
        return math.fsum(p[i] * (t_old[i] - t_new[i]) for i in unit)

    def capped(forced: set[str]) -> MenuTree:
        movers: set[str] = set()
        for unit in (u for u in units if u & forced):
            movers |= unit
        for unit in sorted((u for u in units if u & changed and not u & movers), key=gain, reverse=True):
            if gain(unit) > 0 and len(movers | unit) <= max_churn:
                movers |= unit
        return layout(current, p, params, constraints.with_fixed(frozenset(movable - movers)))

    # An over-wide menu is mended by moving out its least called options, as few as bring it
    # within breadth: to other menus, else with one more to a new submenu; only if the layout can
    # mend it neither way does all that is below it move.
    for extra in (0, 1) if wide else ():
        leaving = (_crowded_out(menu, movable, p, constraints.max_options - extra) for menu in wide)
        with contextlib.suppress(TreeError):
            tree = capped(broken.union(*leaving))
            if not over_wide_menus(tree, constraints, current):
                return tree
    return capped(broken.union(*(movable & {n.id for _, n in walk(menu)} for menu in wide)))


def _crowded_out(menu: MenuTree, movable: set[str], p: Mapping[str, float], room: int) -> set[str]:
    """The services below the least called options of an over-wide menu that must leave it for
    the rest to fit in `room` options."""
    below = {option.key: set(services(option.child)) for option in menu.options}
    free = sorted(
        (option for option in menu.options if below[option.key] <= movable),
        key=lambda option: (math.fsum(p[i] for i in below[option.key]), option.key),
    )
    return set().union(*(below[option.key] for option in free[: len(menu.options) - room]))


def _breaks(leaf: str, where: Mapping[str, Path], constraints: Constraints) -> bool:
    path = where[leaf]
    pin = constraints.pinned_keys.get(leaf)
    if pin is not None and path[-1] != pin:
        return True
    return constraints.max_depth is not None and len(path) > constraints.max_depth
