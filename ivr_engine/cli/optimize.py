"""`ivr optimize`: the system-generated flow, a shallower menu tree built from leaf demand.

    ivr optimize flows/hotline-12320.yaml --stats sqlite:///var/stats.db -o build/hotline-opt.yaml
    ivr optimize flows/hotline-12320.yaml --demand demand.json --audio prompts/audio -o new.yaml --json

The new flow serves exactly the services of the old one; texts of the prompts it needs that the
catalog does not have (generated "more options" menus, options whose key changed) are written to
a catalog directory next to it (docs/flows.md, "System-generated flows").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import re
import secrets
import shutil
from collections import Counter, deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import yaml

from ivr_engine.cli.flow import _load, _manifest, _output
from ivr_engine.flow.fields import node_prompts
from ivr_engine.flow.model import Flow, Menu, MenuOption
from ivr_engine.flow.tree import MAX_MENU_OPTIONS
from ivr_engine.optimizer import (
    DIGIT_KEYS,
    Constraints,
    CostParams,
    MenuTree,
    TreeError,
    TreeMetrics,
    evaluate,
    leaf_paths,
    walk,
)
from ivr_engine.optimizer import optimize as optimize_tree
from ivr_engine.optimizer.demand import (
    DEFAULT_HALF_LIFE_DAYS,
    DEFAULT_PRIOR,
    Demand,
    DemandError,
    TooFewCalls,
    leaf_rows,
    read_demand_file,
    recency_weights,
    service_demand,
)
from ivr_engine.optimizer.flow_adapter import (
    MORE_OPTIONS,
    FlowTree,
    PromptSeconds,
    changed_offers,
    flow_from_tree,
    menu_tree_from_flow,
    prompt_ids,
    regrouped_prompt_ids,
    services_below,
    with_changed_notices,
    with_notice,
    without_ended_notices,
)
from ivr_engine.optimizer.global_tree import OptimizationResult
from ivr_engine.optimizer.labels import Labels
from ivr_engine.optimizer.report import RunInfo, report_data, report_text
from ivr_engine.optimizer.tree import services
from ivr_engine.prompts.catalog import DurationSource, PromptCatalog, estimate_seconds

_EXISTING = click.Path(exists=True, path_type=Path)
GENERATED_PROMPTS = "generated.yaml"
# days a "this menu has changed" notice plays: long enough for a caller who calls monthly to hear
# it once, not so long that it becomes one more thing every caller waits through
DEFAULT_NOTICE_DAYS = 30
REKEYED = ".key"  # "opt.flu.1.key3": opt.flu.1 saying key 3

Texts = dict[str, dict[str, str]]  # prompt id -> language -> text


def find_root(flow: Flow) -> str:
    """The menu with the most services below it; the one nearest the start on a tie.

    A hotline's first menu is often a language choice with two options; the menu worth
    rearranging is the one the services hang from.
    """
    order: list[str] = []
    seen = {flow.start}
    queue = deque([flow.start])
    while queue:
        node = flow.nodes.get(queue.popleft())
        if node is None:
            continue
        if isinstance(node, Menu):
            order.append(node.id)
        for target in node.targets():
            if target not in seen:
                seen.add(target)
                queue.append(target)
    if not order:
        raise click.ClickException(f"flow {flow.id!r}: no menu is reachable from the start {flow.start!r}")

    return max(order, key=lambda menu_id: (len(services_below(flow, menu_id)), -order.index(menu_id)))


@dataclass
class ClipTimer:
    """Clip seconds in one language: measured when the manifest has the clip, else estimated and
    scaled by the built voice's speech rate (`PromptCatalog.speech_rate`)."""

    catalog: PromptCatalog
    language: str
    manifest: DurationSource | None
    rate: float = 1.0
    measured: int = 0
    estimated: int = 0

    def __call__(self, prompt: str | None) -> float:
        if prompt is None:
            return 0.0
        try:
            clip = self.catalog.clip(prompt, self.language, self.manifest)
        except KeyError as exc:
            raise click.ClickException(f"{exc.args[0]}: validate the flow first (ivr validate)") from None
        if clip.measured:
            self.measured += 1
            return clip.duration
        self.estimated += 1
        return clip.duration * self.rate


_PRESS_EN = re.compile(r"^(?:(?:for|to)\s+)?(.+?)[,:]?\s*press\s*\d+\W*$", re.IGNORECASE)
_PRESS_ZH = re.compile(r"^(.+?)[，,]?请按\d+\W*$")
_MORE_ZH, _MORE_EN = "等服务", " and more"


def service_name(catalog: PromptCatalog, option: MenuOption, flow: Flow, language: str) -> str:
    """What an option offers: in Mandarin as its clip says it ("流感请按1。" -> "流感"), otherwise
    its title (short, where clips say more: "Make a suggestion"), else the clip's words ("For
    colds, press 2." -> "colds"; a generated option's title names nothing). A topic an earlier
    optimization offered "and more" is named without it, as `group_texts` adds it again where it
    still holds."""
    text = catalog.text(option.prompt, language) if option.prompt else None
    if language.startswith("zh") and text and (found := _PRESS_ZH.match(text)):
        return found.group(1).removesuffix(_MORE_ZH) or found.group(1)
    node = flow.nodes.get(option.target)
    title = option.title or (node.title if node is not None else "")
    if title and title != MORE_OPTIONS:
        return title.removesuffix(_MORE_EN) or title
    found = _PRESS_EN.match(text) if text else None
    if found:
        return found.group(1).removesuffix(_MORE_EN) or found.group(1)
    return title or option.target


def group_texts(names: list[str], key: str, language: str) -> tuple[str, str]:
    """(header, option clip) of a generated menu offering `names`, most called first. The clip
    names only the first: every name costs every caller who hears the clip about a second.

    In English the name leads, as a label ("Dental care and more: press 4."): titles are noun
    phrases ("Dental care") as often as verb phrases ("Make a suggestion"), and "For ..., press"
    reads right for the first only ("For make a suggestion and more")."""
    more = len(names) > 1
    if language.startswith("zh"):
        return "更多选项。", f"{names[0]}{_MORE_ZH if more else ''}请按{key}。"
    name = names[0][:1].upper() + names[0][1:]
    return f"{MORE_OPTIONS}.", f"{name}{_MORE_EN if more else ''}: press {key}."


def generated_costs(
    flow: Flow, source: FlowTree, catalog: PromptCatalog, language: str, rate: float = 1.0
) -> CostParams:
    """Cost parameters whose generated header and group clip last what `group_texts` says (estimated,
    there is no audio for them yet, and scaled by the built voice's speech `rate`): the median over
    the services that could head a group; "and more" costs what it adds to a clip."""

    def seconds(text: str) -> float:
        return estimate_seconds(text, language) * rate

    header, alone = group_texts(["x"], "1", language)
    _, more = group_texts(["x", "y"], "1", language)
    clips = sorted(
        seconds(group_texts([service_name(catalog, option, flow, language), "x"], "1", language)[1])
        for option in source.options.values()
    )
    return CostParams(
        synthetic_header=seconds(header),
        group_prompt=clips[len(clips) // 2],
        and_more=seconds(more) - seconds(alone),
    )


def _rekeyed(text: str, old: str, new: str) -> str | None:
    """`text` saying `new` where it said key `old` (its last mention), or None if it names no key."""
    mentions = list(re.finditer(rf"(?<!\d){re.escape(old)}(?!\d)", text))
    if not mentions:
        return None
    last = mentions[-1]
    return text[: last.start()] + new + text[last.end() :]


def rekeyed_original(prompt_id: str) -> str | None:
    """The clip `prompt_id` copies to say another key ("opt.flu.1.key3" -> "opt.flu.1"), if it is a copy."""
    original, _, key = prompt_id.rpartition(REKEYED)
    return original if original and key in DIGIT_KEYS else None


@dataclass(frozen=True)
class RekeyedDurations:
    """Built durations, where a copy of a clip that only says another key lasts as long as the clip
    until the copy is built itself."""

    manifest: DurationSource | None

    def duration(self, prompt_id: str, language: str) -> float | None:
        if self.manifest is None:
            return None
        measured = self.manifest.duration(prompt_id, language)
        original = rekeyed_original(prompt_id)
        return self.manifest.duration(original, language) if measured is None and original else measured


def rekey_prompts(old: Flow, new: Flow, catalog: PromptCatalog, fresh: Collection[str] = ()) -> tuple[Flow, Texts]:
    """Options whose key changed get a clip that says the new key ("press 1" -> "press 3"), except
    those whose clip this run wrote (`fresh`), for their new key already."""
    said: dict[str, str] = {}  # option prompt -> the key it was written for
    for menu in old.menus():
        for option in menu.options:
            if option.prompt:
                said.setdefault(option.prompt, option.key)
    texts: Texts = {}
    nodes = dict(new.nodes)
    for menu in new.menus():
        options = []
        for option in menu.options:
            old_key = said.get(option.prompt or "")
            if option.prompt and option.prompt not in fresh and old_key is not None and old_key != option.key:
                spoken = {
                    language: _rekeyed(catalog.text(option.prompt, language) or "", old_key, option.key)
                    for language in new.languages
                }
                if any(spoken.values()):
                    now = {
                        language: text or catalog.text(option.prompt, language) or ""
                        for language, text in spoken.items()
                    }
                    prompt_id = _rekeyed_id(option.prompt, option.key, now, catalog)
                    if any(catalog.text(prompt_id, language) != text for language, text in now.items()):
                        texts[prompt_id] = now
                    option = dataclasses.replace(option, prompt=prompt_id)
            options.append(option)
        nodes[menu.id] = dataclasses.replace(menu, options=tuple(options))
    return dataclasses.replace(new, nodes=nodes), texts


def _rekeyed_id(prompt_id: str, key: str, texts: Mapping[str, str], catalog: PromptCatalog) -> str:
    """The id of `prompt_id` saying `key` as `texts` do. A flow optimized again moves copies: the copy
    of a copy is a copy of the original ("opt.flu.1.key3" at 5: "opt.flu.1.key5"), and the original
    itself where it says the same again."""
    original = rekeyed_original(prompt_id)
    if original is None or original not in catalog.texts:
        return f"{prompt_id}{REKEYED}{key}"
    if all(catalog.text(original, language) == text for language, text in texts.items()):
        return original
    return f"{original}{REKEYED}{key}"


def describe_menus(
    flow: Flow,
    source: FlowTree,
    result: MenuTree,
    catalog: PromptCatalog,
    labels: Labels,
    changed: Collection[str] = (),
) -> tuple[Flow, Texts]:
    """Texts for the menus whose offer is new: generated groups, and kept submenus that lost their
    topic (`keeps_label`: a "Disease prevention" menu the optimizer moved a vaccination service
    into must stop saying only "disease prevention"). Such a menu is offered as its topic "and
    more" while its topic draws most of its calls and that is shorter than generated texts
    (`Labels.names_topic`), as the optimizer charged it; a generated group's header and option
    clip name the most called service it leads to (`Labels.by_calls`). A group an earlier
    optimization generated keeps its texts (edited before its release, perhaps) while its options
    are not `changed`."""
    texts: Texts = {}
    nodes = dict(flow.nodes)

    def offer(parent: str, key: str, prompt: str, title: str) -> None:
        above = nodes[parent]
        assert isinstance(above, Menu)
        options = tuple(
            dataclasses.replace(o, prompt=prompt, title=title) if o.key == key else o for o in above.options
        )
        nodes[parent] = dataclasses.replace(above, options=options)

    for _, parent in walk(result):
        if not isinstance(parent, MenuTree):
            continue
        for option in parent.options:
            group = option.child
            if not isinstance(group, MenuTree) or (not group.synthetic and labels.keeps(group.id, services(group))):
                continue
            if group.synthetic and group.id in source.options and group.id not in changed:
                continue
            held = labels.by_calls(services(group))
            named = [source.options[s] for s in held]
            header_id: str | None = None
            if group.synthetic:
                header_id, option_id = prompt_ids(group.id)
            elif labels.names_topic(group.id, held):
                option_id = f"{group.id}.and-more.option"
                topic = source.options[group.id]
                # offered "and more" by an earlier optimization already: say it once
                title = (topic.title or group.id).removesuffix(_MORE_EN)
                offer(parent.id, option.key, option_id, f"{title}{_MORE_EN}")
                named.insert(0, topic)
            else:
                header_id, option_id = regrouped_prompt_ids(group.id)
                menu = nodes[group.id]
                assert isinstance(menu, Menu)
                was = menu.title if menu.prompt == header_id else f"{MORE_OPTIONS} (was {menu.title or menu.id})"
                nodes[group.id] = dataclasses.replace(menu, prompt=header_id, title=was)
                offer(parent.id, option.key, option_id, MORE_OPTIONS)
            for language in flow.languages:
                names = [service_name(catalog, o, flow, language) for o in named]
                header, clip = group_texts(names, option.key, language)
                texts.setdefault(option_id, {})[language] = clip
                if header_id is not None:
                    texts.setdefault(header_id, {})[language] = header
    return dataclasses.replace(flow, nodes=nodes), texts


def offered_services(flow: Flow, root: str) -> Counter[str]:
    """Flow nodes offered as services below `root`, with how often each is offered."""
    return Counter(services_below(flow, root))


def pins_in_place(source: FlowTree) -> tuple[Constraints, tuple[str, ...]]:
    """Constraints that keep every pinned service in its menu under its key.

    A flow's `pinned: true` promises the key *here* (docs/flows.md); the adapter only pins the key,
    which lets a service move to another menu under the same digit (a crisis line at 5 in the main
    menu could end up at 8-5), and two services pinned to one key could not both stay movable.
    Fixing the service keeps its path, and with it its menu and key.
    """
    constraints = source.constraints
    where = leaf_paths(source.tree)
    held = tuple(sorted(i for i in constraints.pinned_keys if i in where and i not in constraints.fixed))
    return constraints.with_fixed(frozenset(held)), held


def _check_pins_within_depth(source: FlowTree, constraints: Constraints, held: Sequence[str]) -> None:
    """A pinned option keeps its place (`pins_in_place`): one deeper than max_depth can be neither
    kept nor moved. Said of the pin, where the flow writes it, rather than of the fixed service
    the optimizer sees."""
    if constraints.max_depth is None:
        return
    where = leaf_paths(source.tree)
    for service in held:
        if len(where[service]) > constraints.max_depth:
            option = source.options[service]
            place = f"{option.loc}: " if option.loc is not None else ""
            raise TreeError(
                f"{place}{service!r} is pinned at key path {'-'.join(where[service])}, "
                f"{len(where[service])} levels deep, beyond max_depth {constraints.max_depth}"
                f"{constraints.depth_note(source.tree.id)}: a pinned option keeps its place, so unpin it or "
                "raise max_depth"
            )


@dataclass(frozen=True)
class Optimized:
    flow: Flow
    texts: Texts  # what the new flow's generated.yaml holds: prompts the catalog lacks or an earlier run wrote
    result: OptimizationResult
    demand: Demand
    info: RunInfo
    as_written: TreeMetrics  # the new flow measured with its real clips, generated ones estimated
    # the same while its changed notices play (from its first day), None when no notice plays
    while_notices: TreeMetrics | None = None


def optimize_flow(
    flow: Flow,
    catalog: PromptCatalog,
    counts: Mapping[str, float],
    *,
    root: str,
    language: str,
    manifest: DurationSource | None = None,
    breadth: int | None = None,
    prior: float = DEFAULT_PRIOR,
    min_calls: int = 1,
    calls: Mapping[str, float] | None = None,
    max_churn: int | None = None,
    min_saving: float = 0.05,
    changed_notice: str | None = None,
    notice_days: int = DEFAULT_NOTICE_DAYS,
    version: str | None = None,
    today: dt.date | None = None,
    earlier: Collection[str] = (),
) -> Optimized:
    """The system-generated flow for per-leaf call `counts`; the flow itself when it saves too little.

    `earlier`: prompts of the catalog an earlier optimization generated (a released optimized
    flow's generated.yaml). This run may write them again; those the new flow still plays and this
    run did not write are carried into its texts, so its generated.yaml holds all it plays.

    `calls`: the plain per-leaf call counts behind `counts` when those are weighted by recency (the
    evidence `min_calls` asks for: weights shrink with age, so a year of calls could weigh under
    one); by default `counts` are plain counts.
    `changed_notice` plays in the changed menus on calls of `notice_days` days from `today` (in
    the flow's time zone; the version stamp is that day too).
    Raises `TooFewCalls` when fewer than `min_calls` calls reached a service below `root`.
    """
    today = today or dt.datetime.now(ZoneInfo(flow.timezone)).date()
    rate = catalog.speech_rate(language, manifest)
    timer = ClipTimer(catalog, language, RekeyedDurations(manifest), rate)
    seconds: PromptSeconds = timer
    source = menu_tree_from_flow(flow, root, seconds, breadth)
    demand = service_demand(flow, source, counts, prior)
    evidence = demand if calls is None else service_demand(flow, source, calls, prior)
    if evidence.calls < min_calls:
        raise TooFewCalls(evidence, min_calls)
    constraints, held = pins_in_place(source)
    _check_pins_within_depth(source, constraints, held)
    notes = source.notes + tuple(
        f"{', '.join(sorted(group - set(held)))} stay where they are with pinned "
        f"{', '.join(sorted(group & set(held)))}: a keep-together group stays where a pin holds it"
        for group in constraints.together
        if group & set(held) and group - set(held)
    )
    params = generated_costs(flow, source, catalog, language, rate)
    result = optimize_tree(source.tree, demand.weights, params, constraints, max_churn=max_churn, min_saving=min_saving)
    new = flow
    texts: Texts = {}
    labels = Labels(source.tree, params, demand.weights)
    if result.applied:
        new = flow_from_tree(flow, source, result.tree)
        new, texts = describe_menus(new, source, result.tree, catalog, labels, result.changed_menus)
        new, rekeyed = rekey_prompts(flow, new, catalog, fresh=texts)
        texts |= rekeyed
        played = {prompt for node in new.nodes.values() for _, prompt in node_prompts(node)}
        texts = {i: catalog.texts[i] for i in set(earlier) & played if i in catalog.texts} | texts
        new = dataclasses.replace(new, version=version or f"{flow.version}+opt.{today.strftime('%Y%m%d')}")
        new = without_ended_notices(new, today)
    changed = changed_offers(flow, new, catalog.texts, {**catalog.texts, **texts})
    until = None
    if changed_notice and changed:
        until = today + dt.timedelta(days=notice_days)
        new = with_notice(new, changed, changed_notice, until)
    clashes = sorted(set(texts) & (set(catalog.ids()) - set(earlier)))
    if clashes:
        raise click.ClickException(f"generated prompt ids already exist in the catalog: {', '.join(clashes)}")
    if offered_services(new, root) != offered_services(flow, root):
        raise click.ClickException(f"internal error: the optimized flow does not offer the services of {flow.id!r}")
    written = PromptCatalog(texts={**catalog.texts, **texts})
    written_seconds = ClipTimer(written, language, RekeyedDurations(manifest), rate)
    new_source = menu_tree_from_flow(new, root, written_seconds)
    weights = service_demand(new, new_source, counts, prior).weights
    as_written = evaluate(new_source.tree, weights, params)
    noticed = with_changed_notices(new, new_source.tree, written_seconds, today)
    while_notices = evaluate(noticed, weights, params) if noticed != new_source.tree else None
    info = RunInfo(
        flow_id=flow.id,
        version_before=flow.version,
        version_after=new.version,
        root=root,
        language=language,
        measured_clips=timer.measured,
        estimated_clips=timer.estimated,
        speech_rate=rate,
        targets=source.targets,
        held_in_place=held,
        named_on_the_way=(labels.named_share(source.tree), labels.named_share(result.tree)),
        # as flow_from_tree tells them: a menu is new where the flow has no menu of its id
        new_menus=tuple(m for m in result.changed_menus if not isinstance(flow.nodes.get(m), Menu)),
        changed_menus=changed,
        changed_notice=changed_notice,
        notice_until=until,
        notes=notes,
    )
    return Optimized(new, texts, result, demand, info, as_written, while_notices)


@dataclass(frozen=True)
class CatalogFiles:
    """A flow's catalog as the new flow's catalog takes it over: the files people wrote, linked to,
    and the generated.yaml of an earlier optimization (a released optimized flow's catalog), whose
    texts describe that run's menus: the new generated.yaml carries those still played instead."""

    own: tuple[Path, ...]
    earlier: frozenset[str]  # prompt ids of the earlier generated.yaml

    @classmethod
    def of(cls, flow: Flow, catalog: PromptCatalog) -> CatalogFiles:
        directory = Path(flow.prompts) if flow.prompts and Path(flow.prompts).is_dir() else None
        generated = str(directory / GENERATED_PROMPTS) if directory is not None else None
        return cls(
            own=tuple(Path(f) for f in catalog.files if f != generated),
            earlier=frozenset(i for i, loc in catalog.locations.items() if loc.file == generated),
        )


def write_flow(out: Path, flow: Flow, files: CatalogFiles, texts: Texts) -> None:
    """`flow` to `out`; with generated `texts`, its catalog `<name>.prompts` beside it: links to the
    files people wrote (one source of truth for their texts) and generated.yaml.

    All or nothing: both are built under temporary names beside their places, the flow is loaded
    back and validated there, and only then are they moved in. A flow optimized in place reads the
    catalog directory it replaces; a failure leaves what was there as it was.
    """
    directory = out.with_name(f"{out.stem}.prompts")
    plan = _catalog_plan(directory, files) if texts else {}
    staged: list[Path] = []
    try:
        prompts = Path(flow.prompts or "")
        if texts:
            prompts = _unused(directory)
            prompts.mkdir()
            staged.append(prompts)
            _fill_catalog(prompts, plan, texts)
        staged.append(staged_flow := _unused(out))
        _dump(staged_flow, flow, prompts)
        _check_written(staged_flow, out)
        if texts:
            _dump(staged_flow, flow, directory)
            _move_in(prompts, directory, staged_flow, out)
        else:
            os.replace(staged_flow, out)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc}") from None
    finally:
        for path in staged:
            if os.path.lexists(path):
                _remove(path)


def _catalog_plan(directory: Path, files: CatalogFiles) -> dict[str, tuple[Path, bool]]:
    """File name in the new catalog -> (the file it takes the texts of, whether it copies it): a file
    that lives in the directory being replaced is copied, any other linked to. Refuses (before
    anything is written) to replace what `ivr optimize` did not write."""
    here = directory.resolve()
    plan: dict[str, tuple[Path, bool]] = {}
    for file in files.own:
        if file.name == GENERATED_PROMPTS:
            raise click.ClickException(f"{file}: {GENERATED_PROMPTS} is the name of the generated texts; rename it")
        real = file.resolve()
        plan[file.name] = (real, real.parent == here)
    if os.path.lexists(directory) and not directory.is_dir():
        raise click.ClickException(f"{directory}: not a directory; the new flow's prompt catalog goes there")
    if directory.is_dir():
        copied = {real for real, copy in plan.values() if copy}
        foreign = sorted(
            entry.name
            for entry in directory.iterdir()
            if not (entry.is_symlink() or entry.name == GENERATED_PROMPTS or entry.resolve() in copied)
        )
        if foreign:
            raise click.ClickException(
                f"{directory} holds files `ivr optimize` did not write ({', '.join(foreign)}): "
                "move them, or write the new flow elsewhere (-o)"
            )
    return plan


def _fill_catalog(directory: Path, plan: Mapping[str, tuple[Path, bool]], texts: Texts) -> None:
    for name, (file, copy) in plan.items():
        if copy:
            shutil.copy2(file, directory / name)
        else:
            # relative to where the links are: the temporary directory is a sibling of their place
            (directory / name).symlink_to(os.path.relpath(file, directory.resolve()))
    header = "# Written by `ivr optimize`: texts of the prompts the optimized flow added. Edit freely.\n"
    body = yaml.safe_dump({"prompts": texts}, allow_unicode=True, sort_keys=False, width=100)
    (directory / GENERATED_PROMPTS).write_text(header + body, encoding="utf-8")


def _dump(path: Path, flow: Flow, prompts: Path) -> None:
    from ivr_engine.flow.export import dump_flow

    relative = os.path.relpath(prompts.resolve(), path.parent.resolve())
    path.write_text(dump_flow(dataclasses.replace(flow, prompts=relative)), encoding="utf-8")


def _check_written(path: Path, out: Path) -> None:
    from ivr_engine.flow.diagnostics import FlowError
    from ivr_engine.flow.loader import load_flow

    try:
        load_flow(path)  # and validated against its catalog: its errors, if any
    except FlowError as exc:
        found = "\n".join(str(problem).replace(str(path), str(out)) for problem in exc.diagnostics)
        raise click.ClickException(f"internal error: {out} would not validate, nothing was written:\n{found}") from None


def _move_in(catalog: Path, directory: Path, flow_file: Path, out: Path) -> None:
    """The staged catalog to `directory` and the staged flow to `out`; what was there before comes
    back if either move fails."""
    old = _unused(directory) if os.path.lexists(directory) else None
    if old is not None:
        os.rename(directory, old)
    try:
        os.rename(catalog, directory)
        try:
            os.replace(flow_file, out)
        except OSError:
            os.rename(directory, catalog)
            raise
    except OSError:
        if old is not None:
            os.rename(old, directory)
        raise
    if old is not None:
        _remove(old)


def _unused(path: Path) -> Path:
    """A hidden name beside `path` that nothing has (`.name.<random>.tmp`, which no *.yaml glob takes)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _counts(
    flow: Flow,
    stats_url: str | None,
    demand_file: Path | None,
    flow_version: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    half_life: float | None,
) -> tuple[dict[str, float], dict[str, float], float | None]:
    """Per-leaf demand, the plain call counts behind it, and the half-life in days it was weighted
    with (None: plain counts, the same two)."""
    if (stats_url is None) == (demand_file is None):
        raise click.UsageError("give exactly one of --stats and --demand")
    if demand_file is not None:
        if half_life is not None:
            raise click.UsageError("--half-life weighs calls by their time; a --demand file has no times")
        if since is not None or until is not None or flow_version is not None:
            raise click.UsageError(
                "--since, --until and --flow-version select calls of --stats; a --demand file has none"
            )
        try:
            plain = read_demand_file(demand_file)
            return plain, plain, None
        except DemandError as exc:
            raise click.BadParameter(str(exc), param_hint="--demand") from None
    from sqlalchemy.exc import DBAPIError

    from ivr_engine.stats.reports import ReportFilter, empty_window
    from ivr_engine.stats.store import StatsStore, StatsStoreError, database_url

    assert stats_url is not None
    if why := empty_window(since, until, "--until"):
        raise click.BadParameter(why, param_hint="--since")
    try:
        store = StatsStore.open(database_url(stats_url), run_migrations=False, create=False)
    except StatsStoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        flt = ReportFilter(flow_id=flow.id, flow_version=flow_version, since=since, until=until)
        days = DEFAULT_HALF_LIFE_DAYS if half_life is None else (half_life or None)
        rows = leaf_rows(store, flt)
        return recency_weights(rows, days), recency_weights(rows, None), days
    except DBAPIError as exc:
        raise click.ClickException(f"{stats_url}: not a readable statistics database ({exc.orig})") from None
    finally:
        store.close()


def _window(
    stats_url: str | None,
    demand_file: Path | None,
    flow_version: str | None,
    since: str | None,
    until: str | None,
) -> str:
    """Where the calls were counted, as the command line chose: for the refusal when there are none."""
    if demand_file is not None:
        return f"in {demand_file}"
    span = " ".join([*([f"from {since}"] if since else []), *([f"before {until}"] if until else [])]) or "any time"
    return f"in {stats_url} ({f'version {flow_version}' if flow_version else 'all versions'}, {span})"


def _moment(value: str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or time like 2026-11-01", param_hint=name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _below_one(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    # the optimizer's own check names its argument (min_saving), not the option the user typed
    if not (math.isfinite(value) and value < 1.0):
        raise click.BadParameter(f"{value:g} is not a fraction below 1 (0.05: apply from a 5% shorter E[T])")
    return value


def _draw(flow: Flow, new: Flow, changed: tuple[str, ...], directory: Path) -> None:
    from ivr_engine.cli.flow import write_drawing
    from ivr_engine.flow.draw import render_flow

    def style(node: object) -> dict[str, str] | None:
        return {"color": "red", "penwidth": "2"} if getattr(node, "id", None) in changed else None

    before, after = directory / "before.svg", directory / "after.svg"
    write_drawing(lambda: render_flow(flow, before), before, "'--draw'")
    write_drawing(lambda: render_flow(new, after, node_style=style), after, "'--draw'")


@click.command()
@click.argument("path", type=_EXISTING)
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The new flow file.")
@click.option("--stats", "stats_url", help="Statistics database: a URL, or the path of a SQLite file.")
@click.option("--demand", "demand_file", type=_EXISTING, help="Offline demand instead: JSON {leaf id: calls}.")
@click.option("--since", help="Count calls started at or after this ISO time (UTC unless given).")
@click.option("--until", help="Count calls started before this ISO time.")
@click.option("--flow-version", help="Count only calls of this flow version (default: all versions).")
@click.option("--prior", type=float, default=DEFAULT_PRIOR, show_default=True, help="Calls added to every service.")
@click.option(
    "--min-calls",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Refuse with fewer calls than this at the rearranged menus' services.",
)
@click.option(
    "--half-life",
    type=click.FloatRange(min=0),
    help=f"Days over which a call's weight halves (with --stats; default {DEFAULT_HALF_LIFE_DAYS:g}; 0: plain counts).",
)
@click.option("--root", help="Menu to rearrange (default: the menu with the most services below it).")
@click.option("--audio", type=_EXISTING, help="Audio directory or manifest.json: measured prompt durations.")
@click.option("--language", help="Language whose clip durations are used (default: the flow's).")
@click.option(
    "--breadth", type=click.IntRange(min=2), help=f"At most this many options per menu (default: {MAX_MENU_OPTIONS}, or the flow's widest menu if wider)."
)
@click.option("--max-churn", type=click.IntRange(min=0), help="At most this many services change key path.")
@click.option(
    "--min-saving",
    type=float,
    default=0.05,
    show_default=True,
    callback=_below_one,
    help="Relative E[T] saving below which nothing changes.",
)
@click.option("--changed-notice", help="Prompt id played first in every changed menu (e.g. menu.changed).")
@click.option(
    "--notice-days",
    type=click.IntRange(1, 3650),
    default=DEFAULT_NOTICE_DAYS,
    show_default=True,
    help="Days from today the --changed-notice plays (changed_notice_until).",
)
@click.option("--version", "new_version", help="Version of the new flow (default: <old>+opt.<yyyymmdd>).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--draw", type=click.Path(file_okay=False, path_type=Path), help="Draw before.svg and after.svg here.")
def optimize(
    path: Path,
    out: Path,
    stats_url: str | None,
    demand_file: Path | None,
    since: str | None,
    until: str | None,
    flow_version: str | None,
    prior: float,
    min_calls: int,
    half_life: float | None,
    root: str | None,
    audio: Path | None,
    language: str | None,
    breadth: int | None,
    max_churn: int | None,
    min_saving: float,
    changed_notice: str | None,
    notice_days: int,
    new_version: str | None,
    as_json: bool,
    draw: Path | None,
) -> None:
    """Write a shallower flow whose frequent services sit near the root, and report the saving."""
    from ivr_engine.flow.diagnostics import FlowError
    from ivr_engine.flow.validate import load_catalog

    flow = _load(path)
    try:
        catalog = load_catalog(flow)
    except FlowError as exc:
        raise click.ClickException("\n".join(map(str, exc.diagnostics))) from None
    if catalog is None:
        raise click.ClickException(f"{path}: the flow names no prompt texts (prompts:)")
    language = language or flow.default_language
    if language not in flow.languages:
        raise click.BadParameter(
            f"{language!r} is not one of the flow's languages {list(flow.languages)}", param_hint="--language"
        )
    if changed_notice is not None and not set(flow.languages) <= catalog.languages(changed_notice):
        raise click.BadParameter(
            f"prompt {changed_notice!r} needs a text in {', '.join(flow.languages)} in the catalog {flow.prompts}",
            param_hint="--changed-notice",
        )
    files = CatalogFiles.of(flow, catalog)
    counts, plain, half_life_days = _counts(
        flow, stats_url, demand_file, flow_version, _moment(since, "--since"), _moment(until, "--until"), half_life
    )
    root = root or find_root(flow)
    try:
        done = optimize_flow(
            flow,
            catalog,
            counts,
            root=root,
            language=language,
            manifest=_manifest(audio),
            breadth=breadth,
            prior=prior,
            min_calls=min_calls,
            calls=plain,
            max_churn=max_churn,
            min_saving=min_saving,
            changed_notice=changed_notice,
            notice_days=notice_days,
            version=new_version,
            earlier=files.earlier,
        )
    except TooFewCalls as exc:
        window = _window(stats_url, demand_file, flow_version, since, until)
        found = exc.demand.calls
        elsewhere = sum(exc.demand.unmatched.values())
        aside = f" ({elsewhere:g} at leaves outside it)" if elsewhere else ""
        raise click.ClickException(
            (
                f"no calls for flow {flow.id!r} {window} reached a service below menu {root!r}{aside}: "
                "nothing to optimize for (the prior alone would rearrange the menus)"
                if found == 0
                else f"only {found} calls for flow {flow.id!r} {window} reached a service below menu {root!r}{aside}, "
                f"--min-calls is {exc.needed}"
            )
            + f"; nothing written to {out}"
        ) from None
    except (TreeError, DemandError) as exc:
        raise click.ClickException(str(exc)) from None
    _output(out)
    if draw is not None:
        _output(draw / "before.svg", "'--draw'")
    write_flow(out, done.flow, files, done.texts)
    if draw is not None:
        _draw(flow, done.flow, (*done.info.changed_menus, *done.info.new_menus), draw)
    data = report_data(done.result, done.demand, done.info, done.as_written, done.while_notices)
    data["demand"]["half_life_days"] = half_life_days
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else report_text(data))
    if done.result.churn_forced_by:
        # whoever reads only the exit status and stderr learns that the cap did not hold
        click.echo(
            f"warning: --max-churn {max_churn} exceeded ({len(done.result.changed_paths)} paths changed): the"
            f" source flow breaks its constraints ({'; '.join(done.result.churn_forced_by)})",
            err=True,
        )
    click.echo(f"wrote {out}", err=True)
