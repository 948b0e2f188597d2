from __future__ import annotations

import xml.etree.ElementTree as ET

from web_fixtures import HOSTILE, hotline_flow

from ivr_engine.web.heatmap import PALETTE, UNVISITED, heatmap_svg, legend_svg, shade
from ivr_engine.web.histogram import Bin, bin_seconds, histogram_svg, nice_width

SVG = "{http://www.w3.org/2000/svg}"


def test_shade_is_logarithmic_and_covers_the_palette() -> None:
    assert shade(0, 1000) is None
    assert shade(1, 1000) == 0
    assert shade(1000, 1000) == len(PALETTE) - 1
    assert shade(32, 1000) == 3  # 32 is about the geometric middle of 1..1000
    assert shade(5, 5) == len(PALETTE) - 1
    assert shade(1, 1) == len(PALETTE) - 1


def test_legend_labels_each_colour_with_its_smallest_count() -> None:
    root = ET.fromstring(legend_svg(1000))
    fills = [rect.get("fill") for rect in root.iter(f"{SVG}rect")]
    labels = [text.text for text in root.iter(f"{SVG}text")]
    assert fills == list(PALETTE)
    assert labels == ["≥ 1", "≥ 3", "≥ 8", "≥ 20", "≥ 52", "≥ 139", "≥ 373"]
    assert [shade(int(label[2:]), 1000) for label in labels] == list(range(len(PALETTE)))
    assert ET.fromstring(legend_svg(1)).find(f"{SVG}rect").get("fill") == PALETTE[-1]


def test_heatmap_colours_nodes_and_counts_edges() -> None:
    hits = {"main": 1000, "vaccination": 32, "vax_schedule": 1}
    svg = heatmap_svg(hotline_flow(), hits, {("main", "vaccination"): 32, ("vaccination", "vax_schedule"): 1})
    root = ET.fromstring(svg)
    nodes = {
        g.find(f"{SVG}title").text: g for g in root.iter(f"{SVG}g") if g.get("class") == "node"
    }

    def fill(node_id: str) -> str | None:
        shapes = (e for e in nodes[node_id].iter() if e.tag in (f"{SVG}path", f"{SVG}polygon"))
        return next(shapes).get("fill")

    assert fill("main") == PALETTE[-1]
    assert fill("vaccination") == PALETTE[3]
    assert fill("food_safety") == UNVISITED
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "1,000 hits" in texts
    assert "1 ×32" in texts  # key 1 of the main menu, taken by 32 calls
    assert "3 ×0" in texts


def test_heatmap_escapes_node_titles() -> None:
    svg = heatmap_svg(hotline_flow(), {}, {}).decode()
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert any(t.text == HOSTILE for t in ET.fromstring(svg).iter(f"{SVG}text"))


def test_nice_bin_widths() -> None:
    assert nice_width(60) == 5
    assert nice_width(61) == 10  # 61 / 12 bins = 5.08 s, so 5 s bins are too narrow
    assert nice_width(7) == 1
    assert nice_width(0.5) == 0.05
    assert nice_width(25) == 2.5


def test_bin_seconds_counts_every_value_once() -> None:
    values = [0.0, 4.9, 5.0, 12.5, 58.0, 60.0]
    bins = bin_seconds(values)
    assert bins[0] == Bin(0, 5, 2)
    assert bins[1] == Bin(5, 10, 1)
    assert bins[2] == Bin(10, 15, 1)
    assert bins[-1] == Bin(55, 60, 2)  # the last bin also holds the maximum
    assert len(bins) == 12
    assert sum(b.count for b in bins) == len(values)
    assert bin_seconds([]) == []
    assert bin_seconds([3.0, 3.0])[-1] == Bin(2.75, 3.0, 2)


def test_histogram_svg_draws_one_bar_per_bin_and_the_markers() -> None:
    bins = [Bin(0, 5, 2), Bin(5, 10, 4), Bin(10, 15, 0)]
    root = ET.fromstring(histogram_svg(bins, markers=[("mean", 6.5), ("P95", 12.0)]))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert [r.find(f"{SVG}title").text for r in bars] == [
        "0–5 s: 2 calls",
        "5–10 s: 4 calls",
        "10–15 s: 0 calls",
    ]
    assert [float(r.get("height")) for r in bars] == [75.0, 150.0, 0.0]  # plot 150 px high
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "mean 6.5 s" in texts and "P95 12.0 s" in texts
    assert "No call" in histogram_svg([])


def test_heatmap_draws_a_hostile_flow_title_as_text() -> None:
    # the title starts with "<" and ends with ">": Graphviz would take it for an HTML-like label
    root = ET.fromstring(heatmap_svg(hotline_flow(title=HOSTILE), {"main": 3}, {}))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts.count(HOSTILE) == 2  # the flow's title and the complaints node's
    assert root.find(f".//{SVG}script") is None and root.find(f".//{SVG}img") is None
