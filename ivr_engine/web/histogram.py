"""The time-to-leaf distribution: bins with round edges, and their SVG drawing.

The drawing is made here rather than in the browser so the page needs no chart library (the
machines this runs on often have no internet) and the numbers in the picture are the API's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

MAX_BINS = 12
_NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Bin:
    start: float
    end: float  # exclusive, except for the last bin, which also holds everything above it
    count: int


def nice_width(span: float, max_bins: int = MAX_BINS) -> float:
    """The smallest 1/2/2.5/5 x 10^k width that covers `span` in at most `max_bins` bins."""
    if span <= 0:
        return 1.0
    raw = span / max_bins
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(step * magnitude for step in _NICE_STEPS if step * magnitude >= raw)


def bin_seconds(values: Sequence[float], max_bins: int = MAX_BINS) -> list[Bin]:
    """Counts of `values` in equal round-width bins from 0 up to the largest value."""
    if not values:
        return []
    width = nice_width(max(values), max_bins)
    n_bins = min(max_bins, max(1, math.floor(max(values) / width) + 1))
    counts = [0] * n_bins
    for value in values:
        counts[min(n_bins - 1, max(0, math.floor(value / width)))] += 1
    return [Bin(i * width, (i + 1) * width, c) for i, c in enumerate(counts)]


def _label(seconds: float) -> str:
    return f"{seconds:g}"


def histogram_svg(
    bins: Sequence[Bin],
    *,
    markers: Sequence[tuple[str, float]] = (),
    width: int = 560,
    height: int = 220,
) -> str:
    """An SVG bar chart of `bins`; `markers` are labelled vertical lines (mean, P95) in seconds."""
    if not bins:
        return '<p class="muted">No call reached a service in this window.</p>'
    left, right, bottom = 40, 14, 34
    top = 8 + 14 * len(markers)  # one line of text per marker above the plot
    plot_w, plot_h = width - left - right, height - top - bottom
    tallest = max(b.count for b in bins) or 1
    span = bins[-1].end
    bar_w = plot_w / len(bins)

    def x_of(seconds: float) -> float:
        return left + plot_w * min(seconds, span) / span

    parts = [
        (
            f'<svg class="histogram" role="img" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" xmlns="http://www.w3.org/2000/svg">'
        ),
        "<title>Seconds from answer to reaching a service</title>",
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{tallest}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for i, b in enumerate(bins):
        bar_h = plot_h * b.count / tallest
        x = left + i * bar_w
        parts.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{top + plot_h - bar_h:.1f}" '
            f'width="{bar_w - 2:.1f}" height="{bar_h:.1f}">'
            f"<title>{_label(b.start)}–{_label(b.end)} s: {b.count} calls</title></rect>"
        )
    # About six labelled edges whatever the number of bins, so the labels never overlap.
    every = math.ceil(len(bins) / 6)
    for i in range(0, len(bins), every):
        parts.append(
            f'<text x="{left + i * bar_w:.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
            f"{_label(bins[i].start)}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w:.1f}" y="{top + plot_h + 14}" text-anchor="end">{_label(span)} s</text>'
    )
    for row, (name, seconds) in enumerate(markers):
        x = x_of(seconds)
        y = 18 + 14 * row
        anchor = "end" if x > left + plot_w * 0.7 else "start"
        parts.append(f'<line class="marker" x1="{x:.1f}" y1="{y - 10}" x2="{x:.1f}" y2="{top + plot_h}"/>')
        parts.append(
            f'<text x="{x + (-3 if anchor == "end" else 3):.1f}" y="{y}" text-anchor="{anchor}">'
            f"{escape(name)} {seconds:.1f} s</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
