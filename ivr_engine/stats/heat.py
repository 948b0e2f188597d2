"""The flow tree coloured by node hits, with the number of calls on each edge.

Drawing is ivr_engine.flow.draw's; this module only supplies the labels and colours.
"""

from __future__ import annotations

from pathlib import Path

from ivr_engine.flow.draw import render_flow
from ivr_engine.flow.model import Flow, Node
from ivr_engine.stats import reports
from ivr_engine.stats.store import StatsStore

# White (no hits) to deep red (the most hit node), in steps a reader can tell apart.
HEAT_COLOURS = ("#ffffff", "#fee5d9", "#fcbba1", "#fc9272", "#fb6a4a", "#de2d26", "#a50f15")


def heat_colour(hits: int, most: int) -> str:
    if hits <= 0 or most <= 0:
        return HEAT_COLOURS[0]
    step = 1 + round((len(HEAT_COLOURS) - 2) * hits / most)
    return HEAT_COLOURS[min(step, len(HEAT_COLOURS) - 1)]


def render_heatmap(store: StatsStore, flow: Flow, flt: reports.ReportFilter, out: Path) -> Path:
    """Draw `flow` to `out` (.svg, .png, .pdf, .dot) with the hits of `flt` (its flow_id is `flow.id`)."""
    hits = {n.node_id: n.hits for n in reports.node_stats(store, flt)}
    edges = reports.edge_counts(store, flt)
    most = max(hits.values(), default=0)

    def node_label(node: Node) -> str:
        name = f"{node.title}\n{node.id}" if node.title else node.id
        return f"{name}\n{hits.get(node.id, 0)} hits"

    def node_style(node: Node) -> dict[str, str]:
        colour = heat_colour(hits.get(node.id, 0), most)
        text = "#ffffff" if colour in HEAT_COLOURS[-2:] else "#000000"
        return {"style": "filled", "fillcolor": colour, "fontcolor": text}

    def edge_label(node: Node, target: str, label: str) -> str:
        count = edges.get((node.id, target), 0)
        return f"{label} ({count})" if label else str(count)

    return render_flow(flow, out, node_label=node_label, node_style=node_style, edge_label=edge_label)
