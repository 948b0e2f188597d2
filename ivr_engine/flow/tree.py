"""The flow as a graph: where a call can go, how many menus deep each node is, which nodes serve.

A menu also leads, implicitly, to the flow's operator (the operator key, and exhausted retries when
`on_exhausted` is not set), so the operator node counts as reachable and as a way out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from ivr_engine.flow.model import ROUTING_KINDS, Collect, Condition, Flow, Goto, Lookup, Menu, Node

# Beyond this many menus callers get lost; the validator warns (docs/flows.md).
MAX_MENU_DEPTH = 4
MAX_MENU_OPTIONS = 5

# Where a caller who presses nothing leaves the menus: handed to people, to the mailbox, or hung up.
HAND_OFF_KINDS = frozenset({"queue", "transfer", "voicemail", "hangup"})


def successors(flow: Flow, node: Node) -> tuple[str, ...]:
    """Nodes a call may go to from `node`, the implicit operator included."""
    targets = node.targets()
    if isinstance(node, Menu) and flow.operator and flow.operator not in targets:
        targets = (*targets, flow.operator)
    return targets


def reachable(flow: Flow) -> set[str]:
    """Ids of the nodes a call can reach from the start (or through the operator)."""
    roots = [flow.start] + ([flow.operator] if flow.operator else [])
    seen: set[str] = set()
    todo = [r for r in roots if r in flow.nodes]
    while todo:
        node_id = todo.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        todo.extend(t for t in successors(flow, flow.nodes[node_id]) if t in flow.nodes)
    return seen


def can_end(flow: Flow, node: Node) -> bool:
    """Whether a call can leave the flow's routing at `node`: a service, or a routing step that
    has nowhere else to go (and so hangs up)."""
    if node.kind not in ROUTING_KINDS:
        return True
    if isinstance(node, Goto):
        return False
    if isinstance(node, Menu):
        return node.on_exhausted is None and flow.operator is None
    if isinstance(node, Condition):
        return node.default is None
    return not node.targets()


def stuck(flow: Flow) -> set[str]:
    """Reachable nodes from which no service and no hang-up can be reached: calls loop forever."""
    live = reachable(flow)
    ways = {n: successors(flow, flow.nodes[n]) for n in live}
    return _cannot_reach(ways, {n for n in live if can_end(flow, flow.nodes[n])})


def _cannot_reach(ways: dict[str, Sequence[str | None]], escapes: set[str]) -> set[str]:
    """The nodes of `ways` (node -> where it may go) from which no node of `escapes` is reached."""
    predecessors: dict[str, list[str]] = {n: [] for n in ways}
    for node_id, targets in ways.items():
        for target in targets:
            if target in predecessors:
                predecessors[target].append(node_id)
    reached = set(escapes)
    todo = list(escapes)
    while todo:
        for before in predecessors[todo.pop()]:
            if before not in reached:
                reached.add(before)
                todo.append(before)
    return ways.keys() - reached


def silence_exits(flow: Flow, node: Node) -> tuple[tuple[str, str | None], ...]:
    """Where a call may go from `node` when the caller presses nothing (None: the call ends),
    each with the field of `node` that sends it there.

    A condition or a lookup may take any of its ways: what decides is not the caller's keys but the
    time, the call's variables or another system's answer, which can change from one round to the
    next, so a loop through one of them counts as one the caller might leave.
    """
    if isinstance(node, Menu):
        return (("on_exhausted", node.on_exhausted or flow.operator),)
    if isinstance(node, Collect):
        return (("on_failure", node.on_failure),)  # no digits is never a valid answer (min_length >= 1)
    if isinstance(node, Condition):
        return (*(("branches", b.target) for b in node.branches), ("default", node.default))
    if isinstance(node, Lookup):
        branches = (("branches", target) for _, target in node.branches)
        return (*branches, ("default", node.default), ("on_error", node.on_error))
    if isinstance(node, Goto):
        return (("target", node.target),)
    return (("next", getattr(node, "next", None)),)  # announcement, set, language, survey


def on_silence(flow: Flow, node: Node) -> tuple[str | None, ...]:
    """The targets of `silence_exits`."""
    return tuple(target for _, target in silence_exits(flow, node))


def silent_loops(flow: Flow) -> list[list[str]]:
    """Loops a caller who presses nothing never leaves: on silence (timeouts, exhausted retries,
    an announcement's `next`, ...) the call comes round again without reaching a node that hands
    it off or ends it. Each loop is its node ids in the order written; loops are in that order too."""
    live = reachable(flow)
    ways = {n: on_silence(flow, flow.nodes[n]) for n in live}
    # A way to a node that does not exist is reported as such; it is not taken for a loop here.
    exits = {
        n
        for n, targets in ways.items()
        if flow.nodes[n].kind in HAND_OFF_KINDS or any(t is None or t not in flow.nodes for t in targets)
    }
    trapped = _cannot_reach(ways, exits)
    after = {n: _after(n, ways, trapped) for n in trapped}
    loops: list[list[str]] = []
    placed: set[str] = set()
    for node_id in (n for n in flow.nodes if n in trapped and n not in placed and n in after[n]):
        loop = [m for m in flow.nodes if m == node_id or (m in after[node_id] and node_id in after[m])]
        placed.update(loop)
        loops.append(loop)
    return loops


def _after(node_id: str, ways: dict[str, Sequence[str | None]], within: set[str]) -> set[str]:
    """Nodes of `within` reached from `node_id` in one step or more."""
    seen: set[str] = set()
    todo = [node_id]
    while todo:
        for target in ways[todo.pop()]:
            if target in within and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def menu_depths(flow: Flow) -> dict[str, int]:
    """For each reachable node, the fewest menus a call passes through to reach it from the start,
    counting the node itself when it is a menu (the root menu is at depth 1)."""
    if flow.start not in flow.nodes:
        return {}
    start = flow.nodes[flow.start]
    depths = {flow.start: int(isinstance(start, Menu))}
    todo: deque[str] = deque([flow.start])
    while todo:  # 0-1 breadth-first search: entering a menu costs one level, anything else none
        node_id = todo.popleft()
        for target in flow.nodes[node_id].targets():  # the operator shortcut is not a menu level
            if target not in flow.nodes:
                continue
            depth = depths[node_id] + int(isinstance(flow.nodes[target], Menu))
            if depth < depths.get(target, depth + 1):
                depths[target] = depth
                if depth == depths[node_id]:
                    todo.appendleft(target)
                else:
                    todo.append(target)
    return depths


def services_from(flow: Flow, targets: Iterable[str]) -> set[str]:
    """The services calls entering `targets` are served at: the first non-routing node on each way
    (through conditions, sets, gotos and language switches; a menu is a way on, not a service)."""
    found: set[str] = set()
    todo = list(targets)
    seen: set[str] = set()
    while todo:
        node_id = todo.pop()
        if node_id in seen or node_id not in flow.nodes:
            continue
        seen.add(node_id)
        node = flow.nodes[node_id]
        if node.kind not in ROUTING_KINDS:
            found.add(node_id)
        elif not isinstance(node, Menu):
            todo.extend(node.targets())
    return found


def leaves(flow: Flow) -> list[str]:
    """Ids of the services a menu option leads to (`services_from` its options), in the order written."""
    found = set().union(*(services_from(flow, [o.target for o in menu.options]) for menu in flow.menus()))
    return [node_id for node_id in flow.nodes if node_id in found]


def depth(flow: Flow) -> int:
    """Menus on the way to the deepest service (by the shortest way to each)."""
    depths = menu_depths(flow)
    return max((depths[leaf] for leaf in leaves(flow) if leaf in depths), default=0)
