"""Between a flow's menu subtree and the optimizer's abstract tree.

Menus are the internal nodes; the target of every other option (queue, announcement, lookup,
condition, ...) is a service. Clip durations come from a callable so this module does not
depend on the prompt machinery.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from ivr_engine.flow.model import Flow, Menu, MenuOption
from ivr_engine.flow.tree import MAX_MENU_OPTIONS, menu_depths
from ivr_engine.optimizer.tree import (
    DIGIT_KEYS,
    Constraints,
    MenuTree,
    Node,
    Option,
    Service,
    TreeError,
    services,
    walk,
)

PromptSeconds = Callable[[str | None], float]
MORE_OPTIONS = "More options"  # title of a generated menu and of its option in the parent


class FlowAdapterError(TreeError):
    """A flow's menus cannot be turned into a tree (names the node)."""


@dataclass(frozen=True)
class FlowTree:
    """A flow's menu subtree as the optimizer sees it, and what is needed to map it back."""

    tree: MenuTree
    constraints: Constraints
    # service id -> the flow node the option leads to. Ids equal the node id, except when a node
    # is offered twice (a shared service, or a "back to the main menu" option): later offers get
    # "<node>@<menu>:<key>" so tree ids stay unique.
    targets: Mapping[str, str]
    options: Mapping[str, MenuOption]  # tree node id -> the flow option that offered it
    notes: tuple[str, ...] = ()  # what the adapter had to decide against what it was asked (for the report)


@dataclass
class _Converted:
    """What walking a flow's menus from a root collects, before the constraints are settled."""

    tree: MenuTree
    targets: dict[str, str]
    offered: dict[str, MenuOption]
    pinned: dict[str, str]
    fixed: set[str]
    together: list[frozenset[str]]


def _convert(flow: Flow, root: str, prompt_seconds: PromptSeconds) -> _Converted:
    start = flow.nodes.get(root)
    if not isinstance(start, Menu):
        raise FlowAdapterError(f"{_where(flow, root)}: {root!r} is not a menu")
    targets: dict[str, str] = {}
    offered: dict[str, MenuOption] = {}
    pinned: dict[str, str] = {}
    fixed: set[str] = set()
    together: list[frozenset[str]] = []
    visited: set[str] = set()

    def convert(menu: Menu, prompt: float) -> MenuTree:
        visited.add(menu.id)
        if menu.fixed:
            fixed.add(menu.id)
        options: list[Option] = []
        for option in menu.options:
            if option.key not in DIGIT_KEYS:
                raise FlowAdapterError(
                    f"{option.loc or _where(flow, menu.id)}: menu {menu.id!r} option key {option.key!r} is not 1-9"
                )
            node = flow.nodes.get(option.target)
            if node is None:
                raise FlowAdapterError(
                    f"{option.loc or _where(flow, menu.id)}: option {option.key} leads to unknown node {option.target!r}"
                )
            seconds = prompt_seconds(option.prompt)
            child: Node
            if isinstance(node, Menu) and node.id not in visited:
                child = convert(node, seconds)
                if option.pinned:
                    # a rebuilt menu has no identity to pin a key to, so a pinned menu stays put
                    fixed.add(node.id)
            else:
                again = option.target in targets or option.target in visited
                child_id = (
                    f"{option.target}@{menu.id}:{option.key}"
                    if again
                    else option.target
                )
                targets[child_id] = option.target
                child = Service(child_id, seconds)
            offered[child.id] = option
            if option.pinned:
                pinned[child.id] = option.key
            options.append(Option(option.key, child))
        if menu.keep_together:
            group = frozenset(
                o.child.id for o in options if isinstance(o.child, Service)
            )
            if len(group) >= 2:
                together.append(group)
        if not options:
            raise FlowAdapterError(
                f"{_where(flow, menu.id)}: menu {menu.id!r} has no options"
            )
        return MenuTree(
            menu.id, prompt_seconds(menu.prompt), tuple(options), prompt, generated(menu), names_a_topic(menu)
        )

    tree = convert(start, 0.0)
    return _Converted(tree, targets, offered, pinned, fixed, together)


def services_below(flow: Flow, root: str) -> list[str]:
    """The flow nodes offered as services below menu `root`, once per offer."""
    found = _convert(flow, root, lambda _: 0.0)
    return [found.targets.get(i, i) for i in services(found.tree)]


def menu_tree_from_flow(
    flow: Flow, root: str, prompt_seconds: PromptSeconds, breadth: int | None = None
) -> FlowTree:
    """The menus reachable from menu `root` through menu options, with the flow's constraints.

    Without `breadth`, a menu gets no more options than the validator accepts without a warning,
    or than the flow's widest menu already has: a rebuilt flow then validates as cleanly as its
    source, and a main menu of five leaves digits free for personal shortcuts. The flow's
    `max_depth` counts menus from the start, as the validator does, so the menus above `root`
    take their share of it.
    """
    found = _convert(flow, root, prompt_seconds)
    tree, pinned, fixed = found.tree, found.pinned, found.fixed
    above = menu_depths(flow).get(root, 1) - 1
    max_depth = None if flow.max_depth is None else flow.max_depth - above
    if max_depth is not None and max_depth < 1:
        raise FlowAdapterError(
            f"{flow.loc_of('max_depth') or _where(flow, root)}: max_depth {flow.max_depth} counts the {above} "
            f"menu(s) a call passes before {root!r}, which leaves no level for its services; "
            f"raise it to at least {above + 1}"
        )
    reserved = reserved_keys(flow)
    keys = "".join(k for k in DIGIT_KEYS if k not in reserved)
    notes: list[str] = []
    for node_id, key in list(pinned.items()):
        if key in reserved:
            # the pin holds the service where it is anyway (`ivr optimize` fixes pinned services);
            # a free option can never be handed that key
            del pinned[node_id]
            fixed.add(node_id)
    if breadth is None:
        widest = max(len(n.options) for _, n in walk(tree) if isinstance(n, MenuTree))
        breadth = min(len(keys), max(MAX_MENU_OPTIONS, widest))
    elif breadth > len(keys):
        taken = ", ".join(f"{key} ({name})" for key, name in sorted(reserved.items()))
        notes.append(
            f"breadth {breadth} capped at {len(keys)}: options never take a key with a global meaning, here {taken}"
        )
        breadth = len(keys)
    constraints = Constraints(
        pinned_keys=pinned,
        together=tuple(found.together),
        fixed=frozenset(fixed),
        max_depth=max_depth,
        keys=keys,
        breadth=breadth,
        menus_above=above,
    )
    return FlowTree(
        tree=tree,
        constraints=constraints,
        targets=found.targets,
        options=found.offered,
        notes=tuple(notes),
    )


def with_changed_notices(flow: Flow, tree: MenuTree, prompt_seconds: PromptSeconds, day: dt.date) -> MenuTree:
    """`tree` (the flow adapter's tree of `flow`) with the changed notice each menu plays on `day`
    added to its header: the runtime plays it once per call, before the header, so every call
    entering that menu hears it. What a written flow costs while its notices play."""
    options = tuple(
        Option(o.key, with_changed_notices(flow, o.child, prompt_seconds, day) if isinstance(o.child, MenuTree) else o.child)
        for o in tree.options
    )
    menu = flow.nodes.get(tree.id)
    notice = menu.notice_on(day) if isinstance(menu, Menu) else None
    return dataclasses.replace(tree, header=tree.header + prompt_seconds(notice), options=options)


def changed_offers(
    old: Flow, new: Flow, said_before: Mapping[str, object], said_now: Mapping[str, object]
) -> tuple[str, ...]:
    """The menus of `new` that `old` has too and that say or do something else now: another header,
    or options on other keys, to other nodes or with other clips ("disease prevention and more"),
    also a clip whose text (`said_before`, `said_now`: prompt id -> texts) is another under its id.
    A caller who knew such a menu would be misled by it; a menu new to every caller misleads no one."""

    def offer(menu: Menu, said: Mapping[str, object]) -> tuple[object, ...]:
        def clip(prompt: str | None) -> tuple[object, ...]:
            return (prompt, said.get(prompt) if prompt is not None else None)

        return (clip(menu.prompt), tuple((o.key, o.target, clip(o.prompt)) for o in menu.options))

    return tuple(
        m.id
        for m in new.menus()
        if isinstance(was := old.nodes.get(m.id), Menu) and offer(was, said_before) != offer(m, said_now)
    )


def with_notice(flow: Flow, menus: Collection[str], notice: str, until: dt.date | None) -> Flow:
    """`flow` with `notice` played first in `menus`, on calls before `until` (None: always)."""
    nodes = dict(flow.nodes)
    for menu_id in menus:
        nodes[menu_id] = dataclasses.replace(nodes[menu_id], changed_notice=notice, changed_notice_until=until)  # type: ignore[call-arg]
    return dataclasses.replace(flow, nodes=nodes)


def without_ended_notices(flow: Flow, day: dt.date) -> Flow:
    """`flow` without the changed notices that no longer play on `day`: a release carries on only
    what its callers still hear."""
    ended = [m for m in flow.menus() if m.changed_notice is not None and m.notice_on(day) is None]
    nodes = {**flow.nodes, **{m.id: dataclasses.replace(m, changed_notice=None, changed_notice_until=None) for m in ended}}
    return dataclasses.replace(flow, nodes=nodes) if ended else flow


def reserved_keys(flow: Flow) -> dict[str, str]:
    """Digits with a global meaning -> the binding: operator, back, repeat, the personal-menu key
    (pressed in the main menu it skips the personal part, docs/menus.md) and a bookmark's first
    key. A menu option on one would shadow it, so the optimizer hands none of them out."""
    return {key: name for key, name in flow.keys.first_keys().items() if key in DIGIT_KEYS}


def _where(flow: Flow, node_id: str) -> str:
    node = flow.nodes.get(node_id)
    loc = node.loc if node is not None else None
    return str(loc) if loc is not None else f"flow {flow.id!r}"


def prompt_ids(menu_id: str) -> tuple[str, str]:
    """Default prompt ids of a generated menu: (its header, its option in the parent)."""
    return f"{menu_id}.header", f"{menu_id}.option"


def regrouped_prompt_ids(menu_id: str) -> tuple[str, str]:
    """Prompt ids of a menu of the flow whose topic an optimization gave up ("more options"): its
    header, its option in the parent."""
    return f"{menu_id}.regrouped", f"{menu_id}.regrouped.option"


def names_a_topic(menu: Menu) -> bool:
    """Whether the menu's texts name a topic: not those an earlier optimization wrote for a menu
    it regrouped ("more options"; "influenza and more: press 2"), which name one service, as a
    generated menu's do."""
    return menu.prompt != regrouped_prompt_ids(menu.id)[0]


def generated(menu: Menu) -> bool:
    """Whether an earlier optimization generated the menu ("auto-<hash>" playing its generated
    header). Optimizing a released optimized flow again, such a menu is the optimizer's to regroup:
    it names no topic callers look for ("more options"), so it has none to keep or to say "and
    more" of."""
    return menu.id.startswith("auto-") and menu.prompt == prompt_ids(menu.id)[0]


def flow_from_tree(
    flow: Flow,
    source: FlowTree,
    tree: MenuTree,
    *,
    generated_prompts: Callable[[str], tuple[str, str]] = prompt_ids,
) -> Flow:
    """A new flow whose menu subtree is `tree` (an optimizer result over `source.tree`).

    Kept menus keep their node and settings with new options; generated menus become new menu
    nodes with generated prompt ids; menus the tree dropped disappear unless something else
    still leads to them. Kept menus keep their changed notice too; `with_notice` gives the new one
    to the menus whose offer changed (`changed_offers`), once their texts are final.

    The new flow carries the constraints of the old one, so that optimizing it again keeps them:
    pinned options keep `pinned`, fixed menus their node, the flow its `max_depth`, and the menu
    that holds a keep-together group (the optimizer gives each group a menu of its own) is marked
    `keep_together`, whatever it is called now.
    """
    nodes = dict(flow.nodes)
    old_menus = {n.id for _, n in walk(source.tree) if isinstance(n, MenuTree)}
    groups = set(source.constraints.together)
    for _, node in walk(tree):
        if not isinstance(node, MenuTree):
            continue
        options = tuple(
            _flow_option(option, source, generated_prompts) for option in node.options
        )
        held = frozenset(o.child.id for o in node.options if isinstance(o.child, Service))
        existing = flow.nodes.get(node.id)
        if isinstance(existing, Menu):
            # a flag over fewer than two services binds nothing (no group) and stays as written
            together = held in groups or (existing.keep_together and len(held) < 2)
            nodes[node.id] = dataclasses.replace(existing, options=options, keep_together=together)
        else:
            header, _ = generated_prompts(node.id)
            nodes[node.id] = Menu(
                id=node.id, title=MORE_OPTIONS, prompt=header, options=options, keep_together=held in groups
            )
    kept = {n.id for _, n in walk(tree) if isinstance(n, MenuTree)}
    for menu_id in old_menus - kept:
        if menu_id != flow.start and not any(
            menu_id in n.targets()
            for n in nodes.values()
            if n.id not in old_menus - kept
        ):
            del nodes[menu_id]
    return dataclasses.replace(flow, nodes=nodes)


def _flow_option(
    option: Option,
    source: FlowTree,
    generated_prompts: Callable[[str], tuple[str, str]],
) -> MenuOption:
    child = option.child
    original = source.options.get(child.id)
    if original is not None:
        target = source.targets.get(child.id, child.id)
        return dataclasses.replace(original, key=option.key, target=target, loc=None)
    _, clip = generated_prompts(child.id)
    return MenuOption(
        key=option.key, target=child.id, prompt=clip, title=MORE_OPTIONS
    )
