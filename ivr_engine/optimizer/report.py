"""The before/after report of a global optimization: as JSON-ready data and as a text table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ivr_engine.optimizer.cost import TreeMetrics
from ivr_engine.optimizer.demand import Demand
from ivr_engine.optimizer.global_tree import OptimizationResult

UNMATCHED_LISTED = 10  # leaves outside the optimized menus the table lists, most calls first


@dataclass(frozen=True)
class RunInfo:
    """What the run was based on, for the reader of the report."""

    flow_id: str
    version_before: str
    version_after: str
    root: str
    language: str
    measured_clips: int  # option and header clips timed from built audio
    estimated_clips: int  # ... estimated from their text
    speech_rate: float  # estimates were scaled by this (built audio against the text estimate)
    targets: Mapping[str, str]  # service id -> flow node
    held_in_place: tuple[str, ...] = ()  # pinned services: kept in their menu under their key
    # (before, after): share of calls whose every menu on the way names their service or its
    # topic (`Labels.named_share`), what callers who do not know the way can follow
    named_on_the_way: tuple[float, float] = (1.0, 1.0)
    # menus of the new tree the flow did not have: a caller never heard them before, so they do
    # not say they have changed
    new_menus: tuple[str, ...] = ()
    # menus callers knew that say or do something else now (flow_adapter.changed_offers): they
    # play `changed_notice` first
    changed_menus: tuple[str, ...] = ()
    changed_notice: str | None = None
    notice_until: dt.date | None = None  # the notice plays on calls before this day
    notes: tuple[str, ...] = ()  # where the run did other than asked, and why (a capped --breadth)


def _metrics(metrics: TreeMetrics, bound: float) -> dict[str, float]:
    return {
        "expected_seconds": metrics.expected_time,
        "p95_seconds": metrics.p95_time,
        "expected_keypresses": metrics.expected_keypresses,
        "within_two_levels": metrics.within_two_levels,
        "expected_seconds_full_listen": metrics.expected_time_full_listen,
        "ratio_to_bound": metrics.expected_time / bound if bound > 0 else float("inf"),
    }


def report_data(
    result: OptimizationResult,
    demand: Demand,
    info: RunInfo,
    as_written: TreeMetrics | None = None,
    while_notices: TreeMetrics | None = None,
) -> dict[str, Any]:
    """`before` and `after` are the optimizer's figures for the two trees; `after_as_written` measures
    the written flow again with the clips it really plays (generated texts estimated), and
    `after_while_notices_play` the same with the changed notices, which every call entering such a
    menu hears first until they end."""
    return {
        "flow": {"id": info.flow_id, "version_before": info.version_before, "version_after": info.version_after},
        "root": info.root,
        "language": info.language,
        "durations": {
            "measured_clips": info.measured_clips,
            "estimated_clips": info.estimated_clips,
            "speech_rate": info.speech_rate,
        },
        "demand": {
            "calls": demand.calls,
            "prior_per_service": demand.prior,
            "unmatched_leaves": dict(sorted(demand.unmatched.items())),
        },
        "before": _metrics(result.before, result.bound) | {"named_on_the_way": info.named_on_the_way[0]},
        "after": _metrics(result.after, result.bound) | {"named_on_the_way": info.named_on_the_way[1]},
        "after_as_written": _metrics(as_written, result.bound) if as_written is not None else None,
        "after_while_notices_play": _metrics(while_notices, result.bound) if while_notices is not None else None,
        "lower_bound_seconds": result.bound,
        "unconstrained_bound_seconds": result.unconstrained_bound,
        "ratio": result.ratio,
        "saving": result.saving,
        "applied": result.applied,
        "applied_to_mend": list(result.mends),
        "held_back_by": result.held_back_by,
        "max_churn": {
            "cap": result.max_churn,
            "saving_without_cap": result.uncapped_saving,
            "exceeded_because": list(result.churn_forced_by),
        },
        "changed_paths": [
            {"service": service, "node": info.targets.get(service, service), "old": "-".join(old), "new": "-".join(new)}
            for service, (old, new) in sorted(result.changed_paths.items(), key=lambda item: item[1][1])
        ],
        "changed_menus": list(info.changed_menus),
        "new_menus": list(info.new_menus),
        "changed_notice": info.changed_notice,
        "changed_notice_until": info.notice_until.isoformat() if info.notice_until else None,
        "pinned_kept_in_place": list(info.held_in_place),
        "notes": list(info.notes),
    }


def _row(label: str, before: str, after: str) -> str:
    return f"  {label:<28}{before:>12}{after:>12}"


def report_text(data: Mapping[str, Any]) -> str:
    before, after = data["before"], data["after"]
    durations = data["durations"]
    lines = [
        (
            f"flow {data['flow']['id']} {data['flow']['version_before']} -> {data['flow']['version_after']}"
            f" (root {data['root']!r}, language {data['language']}, clips: {durations['measured_clips']} measured,"
            f" {durations['estimated_clips']} estimated at {durations['speech_rate']:.2f}x the text estimate)"
        ),
        (
            f"demand: {data['demand']['calls']} calls{_weighting(data['demand'].get('half_life_days'))}, "
            f"+{data['demand']['prior_per_service']:g} per service (prior)"
        ),
        _row("", "before", "after"),
        _row("E[T] (s)", f"{before['expected_seconds']:.2f}", f"{after['expected_seconds']:.2f}"),
        _row("P95 T (s)", f"{before['p95_seconds']:.2f}", f"{after['p95_seconds']:.2f}"),
        _row("keypresses", f"{before['expected_keypresses']:.2f}", f"{after['expected_keypresses']:.2f}"),
        _row("within 2 levels", f"{before['within_two_levels']:.1%}", f"{after['within_two_levels']:.1%}"),
        _row(
            "E[T] full listen (s)",
            f"{before['expected_seconds_full_listen']:.2f}",
            f"{after['expected_seconds_full_listen']:.2f}",
        ),
        _row("ratio to bound", f"{before['ratio_to_bound']:.3f}", f"{after['ratio_to_bound']:.3f}"),
        _row("named on the way", f"{before['named_on_the_way']:.1%}", f"{after['named_on_the_way']:.1%}"),
    ]
    written = data["after_as_written"]
    if written is not None:
        lines.append(
            f"  as written (generated clips): E[T] {written['expected_seconds']:.2f} s,"
            f" P95 {written['p95_seconds']:.2f} s, ratio {written['ratio_to_bound']:.3f}"
        )
    noticed = data["after_while_notices_play"]
    if noticed is not None:
        lines.append(
            f"  while the changed notices play: E[T] {noticed['expected_seconds']:.2f} s,"
            f" P95 {noticed['p95_seconds']:.2f} s, ratio {noticed['ratio_to_bound']:.3f}"
        )
    lines += [
        f"lower bound {data['lower_bound_seconds']:.2f} s ({data['unconstrained_bound_seconds']:.2f} s without the"
        f" flow's constraints); saving {data['saving']:.1%}; {_verdict(data)}"
    ]
    churn = data["max_churn"]
    if churn["exceeded_because"]:
        lines.append(
            f"--max-churn {churn['cap']} exceeded: {len(data['changed_paths'])} service paths changed, because the"
            " current flow breaks its constraints and mending that moves them whatever the cap: "
            + "; ".join(churn["exceeded_because"])
        )
    lines += [f"note: {note}" for note in data["notes"]]
    if data["pinned_kept_in_place"]:
        lines.append(f"pinned services kept in place: {', '.join(data['pinned_kept_in_place'])}")
    unmatched = data["demand"]["unmatched_leaves"]
    if unmatched:
        lines.append(f"calls at leaves outside the optimized menus (ignored): {sum(unmatched.values()):g}")
        most = sorted(unmatched.items(), key=lambda item: (-item[1], item[0]))
        lines += [f"  {leaf:<32}{calls:>10g}" for leaf, calls in most[:UNMATCHED_LISTED]]
        if len(most) > UNMATCHED_LISTED:
            rest = most[UNMATCHED_LISTED:]
            lines.append(f"  ... {len(rest)} more leaves, {sum(c for _, c in rest):g} calls (all of them: --json)")
    lines.append(f"{len(data['changed_paths'])} service path(s) changed:")
    lines += [f"  {c['node']:<32}{c['old']:>10} -> {c['new']}" for c in data["changed_paths"]]
    ends = data["changed_notice_until"]
    last = f", last day {dt.date.fromisoformat(ends) - dt.timedelta(days=1)}" if ends else ""
    notice = (
        f" (each plays {data['changed_notice']} first{last})" if data["changed_notice"] and data["changed_menus"] else ""
    )
    lines.append(f"{len(data['changed_menus'])} menu(s) changed{notice}: {', '.join(data['changed_menus']) or '-'}")
    if data["new_menus"]:
        lines.append(f"{len(data['new_menus'])} new menu(s): {', '.join(data['new_menus'])}")
    return "\n".join(lines)


def _verdict(data: Mapping[str, Any]) -> str:
    if data["applied"] and data["applied_to_mend"]:
        return "applied, though below --min-saving, to mend the current flow: " + "; ".join(data["applied_to_mend"])
    if data["applied"]:
        return "applied"
    churn = data["max_churn"]
    if data["held_back_by"] != "max_churn":
        return "NOT applied (below --min-saving): the flow is unchanged"
    if churn["cap"] == 0:
        return "NOT applied: --max-churn 0 lets no service move, so the flow is unchanged"
    return (
        f"NOT applied: moving at most {churn['cap']} services saves too little (below --min-saving;"
        f" {churn['saving_without_cap']:.1%} without the cap), so the flow is unchanged"
    )


def _weighting(half_life_days: float | None) -> str:
    return "" if half_life_days is None else f" (recency-weighted, half-life {half_life_days:g} days)"
