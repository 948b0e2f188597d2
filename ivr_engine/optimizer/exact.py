"""Exact layout of a few services: a dynamic program over subsets.

The interval program in `dp` only considers menus whose options are consecutive runs of one
ordering of the services, which is optimal when clips are equal but not when they differ (a
popular service with a long clip may belong deeper than a rarer one with a short clip). For a
handful of services every tree can be searched instead: W[d][q][R] is the cheapest way to offer
the set R in at most q options of one menu whose options may open submenus d - 1 levels deep.
Options are chosen in play order, so the first option is heard by all of R:

    W[d][q][R] = min over non-empty B within R of  c(B) * m(R) + inside(B) + W[d][q-1][R - B]

with c(B) the option clip of a single service or of a generated submenu, and inside(B) the cost of
that submenu (its header and its own options). That is 3^n states per (d, q), so it is used up to
EXACT_LIMIT services (8: a few thousand states, milliseconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

INF = float("inf")
EXACT_LIMIT = 8


@dataclass(frozen=True)
class Item:
    """A service to place: its share of calls and its option clip plus pause, in seconds."""

    mass: float
    seconds: float


Layout = tuple["Layout | int", ...]  # a menu's options in play order: item index or submenu


class SubsetProgram:
    """Cheapest menus over subsets of `items`; generated submenus cost `level_cost` (overhead
    plus header) per caller entering them and `group_seconds` as an option."""

    def __init__(
        self,
        items: Sequence[Item],
        breadth: int,
        level_cost: float,
        group_seconds: float,
    ):
        if len(items) > EXACT_LIMIT:
            raise ValueError(
                f"exact layout is limited to {EXACT_LIMIT} services, got {len(items)}"
            )
        self.items = list(items)
        self.k = breadth
        self.level_cost = level_cost
        self.group_seconds = group_seconds
        size = 1 << len(items)
        self.mass = [0.0] * size
        for mask in range(1, size):
            low = mask & -mask
            self.mass[mask] = self.mass[mask ^ low] + items[low.bit_length() - 1].mass
        # depth -> (W[q][R], choice[q][R]), and the cost inside a generated submenu over R
        self._options: dict[int, tuple[list[list[float]], list[list[int]]]] = {}
        self._inside: dict[int, list[float]] = {}

    def _option(self, block: int, depth: int) -> float:
        """Seconds the option offering `block` costs: its clip per caller hearing it comes
        separately; this is what choosing it adds afterwards (a submenu's inside)."""
        if block & (block - 1) == 0:
            return 0.0
        return self.inside(block, depth - 1) if depth > 1 else INF

    def _clip(self, block: int) -> float:
        if block & (block - 1) == 0:
            return self.items[block.bit_length() - 1].seconds
        return self.group_seconds

    def options(self, depth: int) -> tuple[list[list[float]], list[list[int]]]:
        """W[q][R] for q = 0..k and every subset R, with the first block chosen."""
        if depth in self._options:
            return self._options[depth]
        size = len(self.mass)
        W = [[INF] * size for _ in range(self.k + 1)]
        arg = [[0] * size for _ in range(self.k + 1)]
        for q in range(self.k + 1):
            W[q][0] = 0.0
        extra = [self._option(b, depth) for b in range(size)]
        clip = [self._clip(b) if b else 0.0 for b in range(size)]
        for q in range(1, self.k + 1):
            previous, row, choice = W[q - 1], W[q], arg[q]
            for R in range(1, size):
                heard = self.mass[R]
                best, pick = INF, 0
                B = R
                while B:
                    cost = clip[B] * heard + extra[B] + previous[R ^ B]
                    if cost < best:
                        best, pick = cost, B
                    B = (B - 1) & R
                row[R], choice[R] = best, pick
        self._options[depth] = (W, arg)
        return W, arg

    def inside(self, group: int, depth: int) -> float:
        """Cost inside a generated submenu offering `group` with options `depth` levels deep
        (at least two options: a one-option menu only adds a level)."""
        if depth not in self._inside:
            W, _ = self.options(depth)
            self._inside[depth] = [
                self.level_cost * self.mass[S] + self._split(S, depth, W)[0]
                if S & (S - 1)
                else INF
                for S in range(len(self.mass))
            ]
        return self._inside[depth][group]

    def _split(self, S: int, depth: int, W: list[list[float]]) -> tuple[float, int]:
        """Cheapest first option B (a proper part of S) followed by the rest in k - 1 options."""
        heard = self.mass[S]
        best, pick = INF, 0
        B = (S - 1) & S
        while B:
            cost = self._clip(B) * heard + self._option(B, depth) + W[self.k - 1][S ^ B]
            if cost < best:
                best, pick = cost, B
            B = (B - 1) & S
        return best, pick

    def menu(self, level_cost: float, depth: int) -> tuple[float, Layout]:
        """The cheapest menu over all items whose fixed part costs `level_cost` per caller."""
        full = len(self.mass) - 1
        if full & (full - 1) == 0:  # one service: a menu with a single option
            return (level_cost * self.mass[full] + self._clip(full) * self.mass[full], (0,))
        W, _ = self.options(depth)
        cost, first = self._split(full, depth, W)
        return level_cost * self.mass[full] + cost, self._layout(full, first, depth)

    def _layout(self, S: int, first: int, depth: int) -> Layout:
        _, arg = self.options(depth)
        blocks = [first]
        rest, q = S ^ first, self.k - 1
        while rest:
            blocks.append(arg[q][rest])
            rest ^= arg[q][rest]
            q -= 1
        return tuple(self._block(b, depth) for b in blocks)

    def _block(self, block: int, depth: int) -> Layout | int:
        if block & (block - 1) == 0:
            return block.bit_length() - 1
        W, _ = self.options(depth - 1)
        _, first = self._split(block, depth - 1, W)
        return self._layout(block, first, depth - 1)
