"""Menu benchmark: the hotline's own tree, the optimized global tree, and global + personal menus.

    .venv/bin/python bench/menu.py [--flow flows/hotline-12320.yaml] [--seeds 3] [--zipf 0.9]
                                   [--callers 12000] [--repeat 0.4] [--lookup-callers 1000000]

A synthetic history (bench/menu_workload.py) is split in time: the global tree and the personal
menus are built from the first 70% of calls and every call of the last 30% is scored, callers never
seen before included. Personal menus keep learning during the scored part exactly as in service
(each call is scored with the menu its caller had when it started, then recorded). Times come from
the optimizer's cost model over the flow adapter's tree of the real flow, with prompt durations
measured from the built audio (prompts/audio/manifest.json) where it exists and estimated from the
text otherwise; the table says how many were measured. Medians over the seeds are printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from menu_workload import Call, Workload, WorkloadSpec, generate

from ivr_engine.cli.optimize import generated_costs
from ivr_engine.flow.loader import load_flow
from ivr_engine.flow.model import Flow
from ivr_engine.optimizer import (
    Constraints,
    CostParams,
    MenuTree,
    TreeError,
    conditional_lower_bound,
    leaf_times,
    optimize,
    position_costs,
    problem_bound,
    walk,
)
from ivr_engine.optimizer.demand import DEFAULT_HALF_LIFE_DAYS, recency_weights
from ivr_engine.optimizer.flow_adapter import FlowTree, menu_tree_from_flow
from ivr_engine.optimizer.global_tree import check_constraints, unconstrained_bound
from ivr_engine.optimizer.labels import Labels
from ivr_engine.personal.history import ServiceUse
from ivr_engine.personal.layout import (
    GREETING_PROMPT,
    RootLayout,
    free_keys,
    main_menu,
    prompt_seconds,
    shortcut_prompt,
)
from ivr_engine.personal.menus import PersonalMenus, PersonalParams
from ivr_engine.prompts.catalog import PromptCatalog
from ivr_engine.prompts.manifest import Manifest
from ivr_engine.runtime.events import CallEnded, CallStarted, Outcome
from ivr_engine.runtime.prompt_source import CatalogPrompts
from ivr_engine.stats.privacy import CallerKeyer

BREADTH = 5  # options per menu: what callers remember, and it leaves keys free for shortcuts
BENCH_SECRET = "menu-benchmark-caller-key-secret"


@dataclass(frozen=True)
class Scores:
    expected: float
    p95: float
    keypresses: float
    within_two: float
    named: float  # share of calls whose every menu on the way names their service or its topic
    bound: float

    @property
    def ratio(self) -> float:
        return self.expected / self.bound


def scores(offers: Sequence[Offer], bound: float) -> Scores:
    ordered = sorted(o.seconds for o in offers)
    return Scores(
        expected=statistics.fmean(o.seconds for o in offers),
        p95=ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)],
        keypresses=statistics.fmean(o.keypresses for o in offers),
        within_two=sum(o.keypresses <= 2 for o in offers) / len(offers),
        named=sum(o.named for o in offers) / len(offers),
        bound=bound,
    )


@dataclass
class Setting:
    flow: Flow
    prompts: CatalogPrompts
    source: FlowTree
    cost: CostParams
    services: list[str]  # tree service ids a call can be for (first offer of each flow node)
    constraints: Constraints
    note: str  # how the flow's constraints had to be adapted for the optimizer, if at all
    measured: int
    clips: int


def setting(flow_path: Path, prompts_path: Path, audio: Path) -> Setting:
    flow = load_flow(flow_path)
    catalog = PromptCatalog.load(prompts_path)
    prompts = CatalogPrompts(catalog, Manifest.load(audio))
    language = flow.default_language
    source = menu_tree_from_flow(flow, main_menu(flow), prompt_seconds(prompts, language), breadth=BREADTH)
    # generated menus cost what `ivr optimize` will write for them (estimated from their texts at
    # the built voice's speech rate)
    cost = generated_costs(flow, source, catalog, language, catalog.speech_rate(language, prompts.durations))
    services = [sid for sid, node in source.targets.items() if sid == node]
    used = {o.prompt for o in source.options.values() if o.prompt} | {
        flow.nodes[n.id].prompt for _, n in walk(source.tree) if isinstance(n, MenuTree)  # type: ignore[attr-defined]
    }
    personal = [GREETING_PROMPT] + [
        shortcut_prompt(node, key) for node in set(source.targets.values()) for key in free_keys(flow.keys, set())
    ]
    clips = [prompts.clip(p, language) for p in [*used, *personal] if p and prompts.catalog.text(p, language)]
    constraints, note = source.constraints, ""
    try:
        check_constraints(source.tree, constraints)
    except TreeError as exc:
        # Pins the optimizer cannot keep apart (several services pinned to one key in different
        # menus) are still honoured by leaving those services where they are.
        constraints = constraints.with_fixed(frozenset(constraints.pinned_keys))
        check_constraints(source.tree, constraints)
        note = f"the optimizer rejects the flow's pins ({exc}); pinned services are kept in place instead"
    return Setting(
        flow, prompts, source, cost, services, constraints, note, sum(c.measured for c in clips), len(clips)
    )


@dataclass(frozen=True)
class Offer:
    seconds: float
    keypresses: int
    named: bool  # every menu on the way names the service or its topic (`Labels.named`)


Timed = dict[str, Offer]  # flow node -> its cheapest offer


def cheapest(tree: MenuTree, cost: CostParams, targets: Mapping[str, str], labels: Labels) -> Timed:
    """Where a service is offered twice (the crisis line, on the main menu and under mental
    health), callers take the quicker way; shortcuts ("shortcut:<node>") count as offers too."""
    barge, _, depth = leaf_times(tree, cost)
    named = labels.named(tree)
    best: Timed = {}
    for service, seconds in barge.items():
        node = targets.get(service.removeprefix("shortcut:"), service.removeprefix("shortcut:"))
        if node not in best or seconds < best[node].seconds:
            best[node] = Offer(seconds, depth[service], named[service])
    return best


def tree_scores(timed: Timed, calls: Sequence[Call], bound: float) -> Scores:
    return scores([timed[c.service] for c in calls], bound)


def personal_bound(s: Setting, workload: Workload, greeting: float, shortcuts: int) -> float:
    """H(service | caller) / lambda with the cheapest per-level costs any personal root or menu
    could have (its header no longer than the greeting or any menu header)."""
    menus = [n for _, n in walk(s.source.tree) if isinstance(n, MenuTree)]
    level = s.cost.level_overhead + min([greeting, s.cost.synthetic_header, *(m.header for m in menus)])
    prompts = [n.prompt for _, n in walk(s.source.tree) if n is not s.source.tree]
    costs = position_costs(level, prompts, min(prompts), s.cost.option_gap, BREADTH + shortcuts)
    joint = {str(i): workload.true_distribution(c) for i, c in enumerate(workload.test)}
    return conditional_lower_bound(joint, costs)


def events(call: Call, n: int, flow: Flow) -> tuple[CallStarted, CallEnded]:
    at = dt.datetime.fromtimestamp(call.at, dt.UTC)
    started = CallStarted(f"call-{n}", call.caller, flow.id, flow.version, at, "agi")
    return started, CallEnded(f"call-{n}", at, Outcome.SERVED, call.service, call.service, None)


def personal_scores(
    s: Setting, tree: MenuTree, workload: Workload, params: PersonalParams, labels: Labels
) -> tuple[Scores, float]:
    """Global tree `tree` with personal menus in front; also the share of calls offered one."""
    layout = RootLayout.build(s.flow, tree, s.source.targets, s.prompts, s.cost)
    now = [0.0]
    keyer = CallerKeyer(BENCH_SECRET)
    menus = PersonalMenus(
        key_of=keyer.key, params=params, cost=s.cost, clock=lambda: now[0], layout_of=lambda *_: layout
    )
    menus.add_flow(s.flow, s.prompts)
    for n, call in enumerate(workload.train):
        for event in events(call, n, s.flow):
            getattr(menus, "call_started" if isinstance(event, CallStarted) else "call_ended")(event)
    canonical = cheapest(tree, s.cost, s.source.targets, labels)
    cache: dict[tuple[str, ...], Timed] = {}
    offers: list[Offer] = []
    offered = 0
    for n, call in enumerate(workload.test, start=len(workload.train)):
        now[0] = call.at
        root = menus.root_for(call.caller, s.flow)
        timed = canonical
        if root is not None:
            offered += 1
            key = tuple(f"{sc.key}{sc.target}" for sc in root.shortcuts)
            if key not in cache:
                cache[key] = cheapest(layout.personal_tree(tree, root), s.cost, s.source.targets, labels)
            timed = cache[key]
        offers.append(timed[call.service])
        started, ended = events(call, n, s.flow)
        menus.call_started(started)
        menus.call_ended(ended)
    bound = personal_bound(s, workload, layout.greeting_seconds, params.max_shortcuts)
    return scores(offers, bound), offered / len(workload.test)


@dataclass(frozen=True)
class SeedResult:
    original: Scores
    optimized: Scores
    personal: Scores
    in_sample_ratio: float  # optimized tree on its training distribution
    offered: float  # share of scored calls offered a personal menu
    test_calls: int
    new_callers: float  # share of scored calls from callers absent from the training part
    unconstrained_bound: float  # H(p)/lambda of the scored calls without the flow's constraints


def run_seed(
    s: Setting, spec: WorkloadSpec, seed: int, params: PersonalParams, half_life: float | None
) -> SeedResult:
    workload = generate(s.services, spec, seed)
    # the demand `ivr optimize --stats` would read from the training part's calls
    train = recency_weights([(c.service, c.at, 1.0) for c in workload.train], half_life)
    test = Counter(c.service for c in workload.test)
    result = optimize(s.source.tree, train, s.cost, s.constraints)
    shares = _shares(test, s)
    global_bound = problem_bound(s.source.tree, shares, s.cost, s.constraints)
    # what the menus' texts name, as `ivr optimize` writes them for this demand
    labels = Labels(s.source.tree, s.cost, train)
    personal, offered = personal_scores(s, result.tree, workload, params, labels)
    return SeedResult(
        original=tree_scores(cheapest(s.source.tree, s.cost, s.source.targets, labels), workload.test, global_bound),
        optimized=tree_scores(cheapest(result.tree, s.cost, s.source.targets, labels), workload.test, global_bound),
        personal=personal,
        in_sample_ratio=result.ratio,
        offered=offered,
        test_calls=len(workload.test),
        new_callers=_new_caller_share(workload),
        unconstrained_bound=unconstrained_bound(s.source.tree, shares, s.cost, s.constraints),
    )


def _shares(counts: Counter[str], s: Setting) -> dict[str, float]:
    total = sum(counts.values())
    return {sid: counts.get(sid, 0) / total for sid in s.source.targets}


def _new_caller_share(workload: Workload) -> float:
    seen = {c.caller for c in workload.train}
    return sum(c.caller not in seen for c in workload.test) / len(workload.test)


def lookup_latency(s: Setting, callers: int, lookups: int, seed: int) -> dict[str, float]:
    """p50/p99 of `root_for` with `callers` callers in memory (each with 1-3 services used)."""
    rng = random.Random(seed)
    keyer = CallerKeyer(BENCH_SECRET)
    now = 1_790_000_000.0
    menus = PersonalMenus(key_of=keyer.key, clock=lambda: now)
    menus.add_flow(s.flow, s.prompts)
    nodes = sorted(set(s.source.targets.values()))
    numbers = [f"1{3 + n % 7}{n:09d}" for n in range(callers)]
    def uses() -> list[ServiceUse]:
        rows = []
        for number in numbers:
            key = keyer.key(number)
            for leaf in rng.sample(nodes, rng.randint(1, 3)):
                seen = dt.datetime.fromtimestamp(now - rng.uniform(0, 90) * 86_400, dt.UTC)
                rows.append(ServiceUse(key, leaf, rng.randint(1, 6), seen))
        return rows

    rows = uses()
    started = time.perf_counter()
    menus.load(s.flow.id, rows, [])
    load_seconds = time.perf_counter() - started
    del rows
    gc.collect()
    samples = []
    offered = 0
    for _ in range(lookups):
        number = numbers[rng.randrange(callers)] if rng.random() < 0.8 else f"199{rng.randrange(10**8):08d}"
        t0 = time.perf_counter_ns()
        root = menus.root_for(number, s.flow)
        samples.append(time.perf_counter_ns() - t0)
        offered += root is not None
    samples.sort()
    return {
        "callers": len(menus),
        "p50_us": samples[len(samples) // 2] / 1000,
        "p99_us": samples[int(len(samples) * 0.99)] / 1000,
        "max_us": samples[-1] / 1000,
        "offered": offered / lookups,
        "load_s": load_seconds,
        "records_mb": menus.footprint() / 2**20,
    }


def _median(rows: list[SeedResult], pick: Callable[[SeedResult], float]) -> float:
    return statistics.median(pick(r) for r in rows)


def report(
    s: Setting,
    spec: WorkloadSpec,
    params: PersonalParams,
    half_life: float | None,
    rows: list[SeedResult],
    lookup: dict[str, float] | None,
) -> str:
    lines = [
        (
            f"flow {s.flow.id} {s.flow.version}: {len(s.services)} services, main menu {s.source.tree.id!r}, "
            f"breadth {BREADTH}{'; ' + s.note if s.note else ''}; prompt durations: {s.measured} of {s.clips} "
            "menu, greeting and shortcut clips measured from built audio, the rest estimated from text"
        ),
        (
            f"workload: zipf s={spec.zipf_s}, {spec.callers} callers, repeat p={spec.repeat}, favourite share "
            f"U{spec.concentration}, spike {spec.spike_share:.0%} from {spec.spike_start:.0%} of the timeline; "
            f"train/test {spec.train_share:.0%}/{1 - spec.train_share:.0%}; global tree from training demand "
            f"{f'with a {half_life:g}-day half-life' if half_life else 'as plain counts'}; medians over {len(rows)} seeds"
        ),
        (
            f"scored calls {_median(rows, lambda r: r.test_calls):.0f} "
            f"({_median(rows, lambda r: r.new_callers):.0%} from callers absent from the training part); personal "
            f"menus (half-life {params.half_life_days:g} days, min_calls {params.min_calls}, at most "
            f"{params.max_shortcuts} shortcuts) offered on {_median(rows, lambda r: r.offered):.0%} of them"
        ),
        "",
        "| menus | E[T] s | bound s | E[T]/bound | P95 s | keypresses | within 2 levels | named on the way | vs original |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = _median(rows, lambda r: r.original.expected)
    names = {"original": "original hotline tree", "optimized": "optimized global tree", "personal": "optimized + personal"}
    for name, label in names.items():
        def get(attr: str, name: str = name) -> float:
            return _median(rows, lambda r: float(getattr(getattr(r, name), attr)))

        expected = get("expected")
        lines.append(
            f"| {label} | {expected:.2f} | {get('bound'):.2f} | {get('ratio'):.3f} | {get('p95'):.2f} | "
            f"{get('keypresses'):.2f} | {get('within_two'):.1%} | {get('named'):.1%} | {expected / base - 1:+.1%} |"
        )
    lines += [
        "",
        (
            "bounds: global rows the optimizer's problem_bound over the scored calls (what no tree the flow's "
            f"constraints allow can beat; H(p)/lambda without them: {_median(rows, lambda r: r.unconstrained_bound):.2f} s); "
            "personal row H(service | caller)/lambda from each scored call's true distribution"
        ),
        f"optimized tree on its own training distribution: E[T]/bound = {_median(rows, lambda r: r.in_sample_ratio):.3f}",
        (
            "named on the way: scored calls whose every menu on the way names their service or a topic it belongs "
            "to, as `ivr optimize` writes the texts (a generated menu names its most called service, a shortcut "
            "its own): what a caller who does not know the way can follow"
        ),
    ]
    if lookup is not None:
        lines.append(
            f"personal-menu lookup, {lookup['callers']:,.0f} callers in memory: p50 {lookup['p50_us']:.1f} us, "
            f"p99 {lookup['p99_us']:.1f} us, max {lookup['max_us']:.0f} us ({lookup['offered']:.0%} of lookups "
            f"got a personal menu; records {lookup['records_mb']:.0f} MB; loading from history rows took {lookup['load_s']:.1f} s)"
        )
    return "\n".join(lines)


def sensitivity(s: Setting, base: WorkloadSpec, seeds: int, params: PersonalParams, half_life: float | None) -> str:
    """E[T] of the three menus, and the saving, at the ends of the workload ranges."""
    lines = [
        "",
        "| workload | original E[T] s | optimized E[T] s | optimized + personal E[T] s | saving |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, spec in [
        ("zipf s=0.6", dataclasses.replace(base, zipf_s=0.6)),
        ("zipf s=1.2", dataclasses.replace(base, zipf_s=1.2)),
        ("repeat p=0.2", dataclasses.replace(base, repeat=0.2)),
        ("repeat p=0.6", dataclasses.replace(base, repeat=0.6)),
    ]:
        rows = [run_seed(s, spec, seed, params, half_life) for seed in range(1, seeds + 1)]
        e = {
            name: _median(rows, lambda r, name=name: float(getattr(r, name).expected))  # type: ignore[misc]
            for name in ("original", "optimized", "personal")
        }
        lines.append(
            f"| {label} | {e['original']:.2f} | {e['optimized']:.2f} | {e['personal']:.2f} | "
            f"{1 - e['personal'] / e['original']:.1%} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flow", type=Path, default=Path("flows/hotline-12320.yaml"))
    parser.add_argument("--prompts", type=Path, default=Path("prompts"), help="prompt catalog directory")
    parser.add_argument("--audio", type=Path, default=Path("prompts/audio"), help="built audio (manifest.json)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--zipf", type=float, default=WorkloadSpec.zipf_s)
    parser.add_argument("--callers", type=int, default=WorkloadSpec.callers)
    parser.add_argument("--repeat", type=float, default=WorkloadSpec.repeat)
    parser.add_argument("--min-calls", type=int, default=PersonalParams().min_calls, help="evidence before a prediction")
    parser.add_argument(
        "--half-life", type=float, default=DEFAULT_HALF_LIFE_DAYS, help="demand half-life in days (0: plain counts)"
    )
    parser.add_argument("--lookup-callers", type=int, default=1_000_000, help="0 skips the lookup benchmark")
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--no-sensitivity", action="store_true", help="skip the runs at the ends of the ranges")
    args = parser.parse_args()
    spec = WorkloadSpec(zipf_s=args.zipf, callers=args.callers, repeat=args.repeat)
    try:
        s = setting(args.flow, args.prompts, args.audio)
    except TreeError as exc:
        raise SystemExit(f"{args.flow}: the optimizer cannot rearrange this flow: {exc}") from None
    params = PersonalParams(min_calls=args.min_calls)
    half_life = args.half_life or None
    rows = [run_seed(s, spec, seed, params, half_life) for seed in range(1, args.seeds + 1)]
    lookup = lookup_latency(s, args.lookup_callers, args.lookups, seed=7) if args.lookup_callers else None
    print(report(s, spec, params, half_life, rows, lookup))
    if not args.no_sensitivity:
        print(sensitivity(s, spec, args.seeds, params, half_life))


if __name__ == "__main__":
    main()
