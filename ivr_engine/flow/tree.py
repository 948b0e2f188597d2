"""The flow as a graph: where a call can go, how many menus deep each node is, which nodes serve.

A menu also leads, implicitly, to the flow's operator (the operator key, and exhausted retries when
`on_exhausted` is not set), so the operator node counts as reachable and as a way out.
"""

from __future__ import annotations

from collections import deque

from ivr_engine.flow.model import ROUTING_KINDS, Condition, Flow, Goto, Menu, Node

# Beyond this many menus callers get lost; the validator warns (docs/flows.md).
MAX_MENU_DEPTH = 4
MAX_MENU_OPTIONS = 5


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
    escapes = {n for n in live if can_end(flow, flow.nodes[n])}
    predecessors: dict[str, list[str]] = {n: [] for n in live}
    for node_id in live:
        for target in successors(flow, flow.nodes[node_id]):
            if target in predecessors:
                predecessors[target].append(node_id)
    todo = list(escapes)
    while todo:
        for before in predecessors[todo.pop()]:
            if before not in escapes:
                escapes.add(before)
                todo.append(before)
    return live - escapes


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


def leaves(flow: Flow) -> list[str]:
    """Ids of the services a menu option leads to: the first non-routing node after an option
    (through conditions, sets, gotos and language switches), in the order written."""
    found: set[str] = set()
    for menu in flow.menus():
        todo = [option.target for option in menu.options]
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
    return [node_id for node_id in flow.nodes if node_id in found]


def depth(flow: Flow) -> int:
    """Menus on the way to the deepest service (by the shortest way to each)."""
    depths = menu_depths(flow)
    return max((depths[leaf] for leaf in leaves(flow) if leaf in depths), default=0)
