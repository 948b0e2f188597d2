"""Drawing a flow with Graphviz: node ids and titles, keys on the edges, kinds as shapes and colours.

The callbacks let other views reuse the drawing: a node-hit heatmap passes `node_style` to colour
nodes by traffic and `edge_label` to print counts beside the keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import graphviz

from ivr_engine.flow.fields import WEEKDAYS, format_time_range
from ivr_engine.flow.model import Collect, Condition, Flow, Lookup, Menu, Node, When

NodeLabel = Callable[[Node], str | None]
NodeStyle = Callable[[Node], dict[str, str] | None]
EdgeLabel = Callable[[Node, str, str], str | None]  # (source node, target id, default label)

# Shapes say what a node does; colours group routing steps (cool) apart from services (warm).
KIND_STYLES: dict[str, dict[str, str]] = {
    "menu": {"shape": "box", "style": "rounded,filled", "fillcolor": "#cfe2ff"},
    "announcement": {"shape": "note", "style": "filled", "fillcolor": "#fff3cd"},
    "collect": {"shape": "parallelogram", "style": "filled", "fillcolor": "#e2d9f3"},
    "lookup": {"shape": "cylinder", "style": "filled", "fillcolor": "#d1ecf1"},
    "condition": {"shape": "diamond", "style": "filled", "fillcolor": "#e9ecef"},
    "set": {"shape": "cds", "style": "filled", "fillcolor": "#e9ecef"},
    "goto": {"shape": "rarrow", "style": "filled", "fillcolor": "#e9ecef"},
    "language": {"shape": "octagon", "style": "filled", "fillcolor": "#e9ecef"},
    "voicemail": {"shape": "folder", "style": "filled", "fillcolor": "#f8d7da"},
    "queue": {"shape": "house", "style": "filled", "fillcolor": "#d4edda"},
    "transfer": {"shape": "invhouse", "style": "filled", "fillcolor": "#d4edda"},
    "hangup": {"shape": "doublecircle", "style": "filled", "fillcolor": "#adb5bd"},
    "survey": {"shape": "component", "style": "filled", "fillcolor": "#ffe5d0"},
}
FORMATS = ("svg", "png", "pdf", "dot")


def default_label(node: Node) -> str:
    return f"{node.id}\n{node.title}" if node.title else node.id


def edges(node: Node) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(target, label, extra edge attributes) of the ways out of `node`."""
    if isinstance(node, Menu):
        for option in node.options:
            yield option.target, option.key, {}
        if node.on_exhausted:
            yield node.on_exhausted, "retries", {"style": "dashed"}
    elif isinstance(node, Condition):
        for branch in node.branches:
            yield branch.target, describe_when(branch.when), {}
        if node.default:
            yield node.default, "else", {"style": "dashed"}
    elif isinstance(node, Lookup):
        for value, target in node.branches:
            yield target, f"= {value}", {}
        if node.default:
            yield node.default, "else", {"style": "dashed"}
        if node.on_error:
            yield node.on_error, "error", {"style": "dotted"}
    elif isinstance(node, Collect):
        if node.next:
            yield node.next, "", {}
        if node.on_failure:
            yield node.on_failure, "failed", {"style": "dotted"}
    else:
        for target in node.targets():
            yield target, "", {}


def describe_when(when: When) -> str:
    parts = [format_time_range(t) for t in when.time]
    if when.weekdays:
        parts.append(",".join(WEEKDAYS[d] for d in when.weekdays))
    if when.holiday:
        parts.append(f"holiday {when.holiday}")
    if when.not_holiday:
        parts.append(f"not {when.not_holiday}")
    parts.extend(f"tier {t}" for t in when.tier)
    parts.extend(when.language)
    parts.extend(f"{name}~{pattern}" for name, pattern in when.variables)
    return " ".join(parts) or "always"


def text(value: str) -> str:
    """`value` drawn as written. Graphviz reads a label in <...> as HTML-like (a title such as
    "<script>...</script>" made `dot` fail) and a backslash as an escape ("\\N" is the node's name,
    "\\d" of a pattern lost its backslash); the graph's own line breaks are newline characters."""
    return graphviz.escape(value)


def flow_graph(
    flow: Flow,
    *,
    node_label: NodeLabel | None = None,
    node_style: NodeStyle | None = None,
    edge_label: EdgeLabel | None = None,
) -> graphviz.Digraph:
    """The flow as a graph. Every label (the callbacks' too) is plain text, escaped here; node ids
    need no escaping (letters, digits, _ . -, see flow.loader)."""
    graph = graphviz.Digraph(name=flow.id, graph_attr={"rankdir": "LR", "label": text(flow.title or flow.id)})
    graph.attr("node", fontname="Helvetica", fontsize="10")
    graph.attr("edge", fontname="Helvetica", fontsize="9")
    for node in flow.nodes.values():
        label = (node_label(node) if node_label else None) or default_label(node)
        style = {**KIND_STYLES[node.kind], **((node_style(node) if node_style else None) or {})}
        if node.id == flow.start:
            style.setdefault("penwidth", "2")
        graph.node(node.id, label=text(label), tooltip=text(f"{node.kind} {node.id}"), **style)
    for node in flow.nodes.values():
        for target, label, attributes in edges(node):
            if target not in flow.nodes:
                continue
            drawn = (edge_label(node, target, label) if edge_label else None) or label
            graph.edge(node.id, target, label=text(drawn), **attributes)
    return graph


def render_flow(
    flow: Flow,
    out: Path,
    *,
    node_label: NodeLabel | None = None,
    node_style: NodeStyle | None = None,
    edge_label: EdgeLabel | None = None,
) -> Path:
    """Draw `flow` to `out`, in the format its suffix names (.svg, .png, .pdf, .dot).

    Raises ValueError for another suffix, graphviz.ExecutableNotFound when `dot` is not installed.
    """
    out = Path(out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot draw to {out.name}: use one of {', '.join('.' + f for f in FORMATS)}")
    graph = flow_graph(flow, node_label=node_label, node_style=node_style, edge_label=edge_label)
    if fmt == "dot":
        out.write_text(graph.source, encoding="utf-8")
    else:
        out.write_bytes(graph.pipe(format=fmt))
    return out
