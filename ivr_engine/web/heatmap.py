"""The flow tree as a heatmap: the ops diagram (flow.draw) with nodes coloured by hits and the
number of calls printed on each edge.

Hits are very uneven (every call passes the root, few reach a deep leaf), so colours follow the
logarithm of the count: a linear scale would paint everything but the root the same pale shade.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ivr_engine.flow.draw import default_label, flow_graph
from ivr_engine.flow.model import Flow, Node

# ColorBrewer YlOrRd, light to dark; the last three need white text.
PALETTE: tuple[str, ...] = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026")
DARK_FROM = 4
UNVISITED = "#f1f3f5"


def shade(hits: int, most: int) -> int | None:
    """Index into PALETTE for `hits` out of the busiest node's `most`; None for no hits."""
    if hits <= 0 or most <= 0:
        return None
    if most == 1:
        return len(PALETTE) - 1
    level = math.log(hits) / math.log(most)  # 0 for one hit, 1 for the busiest node
    return min(len(PALETTE) - 1, int(level * len(PALETTE)))


def legend_svg(most: int) -> str:
    """A strip of the colours in use, each labelled with the smallest hit count drawn in it."""
    lows: dict[int, int] = {}
    for index in range(len(PALETTE)):
        low = 1 if index == 0 else math.ceil(most ** (index / len(PALETTE)))
        if shade(low, most) == index:
            lows.setdefault(index, low)
    step = 64
    parts = [
        (
            f'<svg class="legend" role="img" width="{step * len(lows) + 4}" height="34" '
            'xmlns="http://www.w3.org/2000/svg"><title>Colour by node hits</title>'
        )
    ]
    for i, (index, low) in enumerate(sorted(lows.items())):
        parts.append(
            f'<rect x="{i * step + 2}" y="2" width="{step - 4}" height="14" fill="{PALETTE[index]}" '
            f'stroke="#d9e2ec"/><text x="{i * step + 2}" y="30" font-size="11">≥ {low:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def heatmap_svg(
    flow: Flow,
    hits: Mapping[str, int],
    transitions: Mapping[tuple[str, str], int],
) -> bytes:
    """SVG of `flow` with node `hits` (node id -> visits) and `transitions` ((from, to) -> calls)."""
    most = max(hits.values(), default=0)

    def label(node: Node) -> str:
        count = hits.get(node.id, 0)
        return f"{default_label(node)}\n{count:,} {'hit' if count == 1 else 'hits'}"

    def style(node: Node) -> dict[str, str]:
        index = shade(hits.get(node.id, 0), most)
        if index is None:
            return {"fillcolor": UNVISITED, "fontcolor": "#616e7c"}
        return {"fillcolor": PALETTE[index], "fontcolor": "white" if index >= DARK_FROM else "black"}

    def edge_label(node: Node, target: str, default: str) -> str:
        count = transitions.get((node.id, target), 0)
        return f"{default} ×{count:,}" if default else f"×{count:,}"

    graph = flow_graph(flow, node_label=label, node_style=style, edge_label=edge_label)
    return graph.pipe(format="svg")
