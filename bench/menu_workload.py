"""Synthetic call history for the menu benchmark (shared/menu-cost-model.md, "Benchmarks").

Services get Zipf(s) popularity in an order shuffled against the canonical tree. Each caller has a
favourite service (drawn from that popularity) that takes a share `c` ~ U(0.5, 0.9) of their calls,
the rest following the overall popularity. A caller calls first at a uniform time, then again with
the repeat probability after an exponential gap. From `spike_start` of the timeline on, an outbreak
sends 30% of all calls to one service that was not popular before.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from ivr_engine.optimizer import entropy

DAY = 86_400.0
EPOCH = 1_767_225_600.0  # 2026-01-01 00:00 UTC: calls carry unix times, as the runtime's events do


@dataclass(frozen=True)
class WorkloadSpec:
    zipf_s: float = 0.9
    callers: int = 12_000
    repeat: float = 0.4  # probability that a caller calls again
    concentration: tuple[float, float] = (0.5, 0.9)  # share of a caller's calls for their favourite
    days: float = 120.0
    mean_gap_days: float = 7.0
    spike_share: float = 0.3
    spike_start: float = 0.6  # fraction of the timeline
    train_share: float = 0.7  # menus are built from this first share of calls, scored on the rest

    def __post_init__(self) -> None:
        if not (0.0 <= self.repeat < 1.0 and 0.0 < self.train_share < 1.0 and self.callers > 0):
            raise ValueError(f"workload out of range: {self}")


@dataclass(frozen=True)
class Call:
    at: float  # unix seconds
    caller: str  # phone number
    service: str
    favourite: str
    concentration: float
    spiking: bool


@dataclass(frozen=True)
class Workload:
    popularity: dict[str, float]  # before the spike
    spike: str
    spike_share: float
    train: list[Call]
    test: list[Call]

    def true_distribution(self, call: Call) -> dict[str, float]:
        """What the caller of `call` was going to ask for at that moment."""
        c = call.concentration
        dist = {s: (1.0 - c) * w for s, w in self.popularity.items()}
        dist[call.favourite] += c
        if call.spiking:
            dist = {s: (1.0 - self.spike_share) * w for s, w in dist.items()}
            dist[self.spike] += self.spike_share
        return dist

    def conditional_entropy(self) -> float:
        """H(service | caller, time) over the scored calls, nats, from the true distributions."""
        return math.fsum(entropy(self.true_distribution(c).values()) for c in self.test) / len(self.test)


def zipf(services: Sequence[str], s: float, rng: random.Random) -> dict[str, float]:
    ranks = list(range(1, len(services) + 1))
    rng.shuffle(ranks)
    weights = {svc: rank**-s for svc, rank in zip(services, ranks)}
    total = math.fsum(weights.values())
    return {svc: w / total for svc, w in weights.items()}


def generate(services: Sequence[str], spec: WorkloadSpec, seed: int) -> Workload:
    rng = random.Random(seed)
    popularity = zipf(services, spec.zipf_s, rng)
    by_rank = sorted(services, key=lambda svc: -popularity[svc])
    spike = rng.choice(by_rank[len(by_rank) // 2 :])
    names, weights = list(popularity), list(popularity.values())
    horizon = spec.days * DAY
    spike_at = spec.spike_start * horizon
    calls: list[Call] = []
    for n in range(spec.callers):
        caller = f"1{3 + n % 7}{n:09d}"
        favourite = rng.choices(names, weights)[0]
        c = rng.uniform(*spec.concentration)
        t = rng.uniform(0.0, horizon)
        while t < horizon:
            spiking = t >= spike_at
            if spiking and rng.random() < spec.spike_share:
                service = spike
            elif rng.random() < c:
                service = favourite
            else:
                service = rng.choices(names, weights)[0]
            calls.append(Call(EPOCH + t, caller, service, favourite, c, spiking))
            if rng.random() >= spec.repeat:
                break
            t += rng.expovariate(1.0 / (spec.mean_gap_days * DAY))
    calls.sort(key=lambda call: call.at)
    cut = int(len(calls) * spec.train_share)
    return Workload(popularity, spike, spec.spike_share, calls[:cut], calls[cut:])
