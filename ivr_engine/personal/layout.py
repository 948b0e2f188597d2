"""What a flow offers a personal menu: its canonical root menu, its services, their canonical
times, the keys free for shortcuts, and the clip that offers each service on each free key.

Shortcut keys are digits the canonical root menu does not use and no global binding (operator,
back, repeat, the personal-menu key, the bookmark sequence) claims, so every canonical key path
keeps working in the personal root. A flow whose root menu leaves no digit free gets no shortcuts.

A service's canonical option clip ("for influenza, press 1") names its canonical key, which is
wrong for a shortcut, so each shortcut has its own prompt `shortcut.<service>.<key>` ("for
influenza symptoms, press 7"), a whole sentence per key so it sounds natural (prompts/personal.yaml).
A service whose shortcut prompt is missing for a key, in any of the flow's languages, is not offered
on that key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from ivr_engine.flow import model as m
from ivr_engine.optimizer import CostParams, MenuTree, Option, Service, leaf_times
from ivr_engine.optimizer.flow_adapter import PromptSeconds, menu_tree_from_flow
from ivr_engine.runtime.personal import PersonalRoot
from ivr_engine.runtime.prompt_source import PromptSource

logger = structlog.get_logger(__name__)

GREETING_PROMPT = "personal.greeting"
DIGITS = "123456789"


def shortcut_prompt(service: str, key: str) -> str:
    return f"shortcut.{service}.{key}"


@dataclass(frozen=True, slots=True)
class RootLayout:
    flow_id: str
    before: str  # id of the canonical root menu the personal part precedes
    free_keys: str  # shortcut keys, in the order shortcuts get them (best shortcut first)
    canonical: Mapping[str, float]  # service node id -> seconds from entering the root, barging in
    service_of: Mapping[str, str]  # node a call is recorded as served at -> the service leading there
    clips: Mapping[tuple[str, str], float]  # (service, key) -> seconds of its shortcut clip
    greeting: str | None
    greeting_seconds: float  # 0 without a greeting
    level: float  # `a`: reaction + keypress + system delay
    gap: float  # pause after each option clip

    @classmethod
    def for_flow(cls, flow: m.Flow, prompts: PromptSource, params: CostParams) -> RootLayout:
        """The layout in front of the flow's main menu, timed in its default language."""
        source = menu_tree_from_flow(flow, main_menu(flow), prompt_seconds(prompts, flow.default_language))
        return cls.build(flow, source.tree, source.targets, prompts, params)

    @classmethod
    def build(
        cls, flow: m.Flow, tree: MenuTree, targets: Mapping[str, str], prompts: PromptSource, params: CostParams
    ) -> RootLayout:
        """`tree` is the flow's menu tree from the main menu down (the optimizer's flow adapter,
        or an optimized tree that keeps the main menu's id), timed with the prompts' real
        durations; `targets` maps its service ids to flow nodes."""
        if not isinstance(flow.nodes.get(tree.id), m.Menu):
            raise ValueError(f"flow {flow.id}: the menu tree's root {tree.id!r} is not a menu of the flow")
        barge, _, _ = leaf_times(tree, params)
        canonical: dict[str, float] = {}
        for service, seconds in barge.items():
            node_id = targets.get(service, service)
            canonical[node_id] = min(seconds, canonical.get(node_id, seconds))
        free = free_keys(flow.keys, {option.key for option in tree.options})
        unheard: list[str] = []
        clips = {
            (service, key): clip
            for service in canonical
            for key in free
            if (clip := _seconds(prompts, shortcut_prompt(service, key), flow, unheard)) is not None
        }
        greeting = _seconds(prompts, GREETING_PROMPT, flow, unheard)
        if unheard:  # offered, they would be silence: the shortcuts (or the greeting) are left out
            logger.warning("personal.prompts_without_audio", flow=flow.id, prompts=unheard, build="ivr prompts build")
        return cls(
            flow_id=flow.id,
            before=tree.id,
            free_keys=free,
            canonical=canonical,
            service_of=served_at(flow, canonical),
            clips=clips,
            greeting=GREETING_PROMPT if greeting is not None else None,
            greeting_seconds=greeting if greeting is not None else 0.0,
            level=params.level_overhead,
            gap=params.option_gap,
        )

    def personal_tree(self, tree: MenuTree, root: PersonalRoot) -> MenuTree:
        """`tree` with `root` in front, as the cost model sees a call: one menu whose header is
        the greeting and whose first options are the shortcuts (services "shortcut:<target>"),
        then the canonical options, the canonical header heard just before the first of them."""
        shortcuts = tuple(
            Option(s.key, Service(f"shortcut:{s.target}", self.clips[(s.target, s.key)])) for s in root.shortcuts
        )
        first, *rest = tree.options
        first = Option(first.key, dataclasses.replace(first.child, prompt=first.child.prompt + tree.header))
        return MenuTree(tree.id, self.greeting_seconds, (*shortcuts, first, *rest), tree.prompt)


def personalizable(flow: m.Flow) -> bool:
    """Personal menus need a menu to stand in front of, and the cost model's timing of the menus
    below it; a flow without one (an after-hours message, a straight-to-queue line) has no
    personal menus, nor has one whose menus the cost model cannot take (an option on key 0, which
    a flow may give where the operator key is off: the model places keys 1-9)."""
    try:
        menu_tree_from_flow(flow, main_menu(flow), lambda _: 0.0)
    except ValueError:  # no menu (main_menu), or a tree the model refuses (FlowAdapterError)
        return False
    return True


def main_menu(flow: m.Flow) -> str:
    """The first menu a call meets that is not a language choice (every option of which switches
    the language): personal shortcuts are offered there, in the caller's language. One per flow,
    breadth-first from the start: of two main menus behind a condition, the one it names first."""
    todo, seen = [flow.start], set()
    while todo:
        node_id = todo.pop(0)
        node = flow.nodes.get(node_id)
        if node is None or node_id in seen:
            continue
        seen.add(node_id)
        if isinstance(node, m.Menu) and not all(
            isinstance(flow.nodes.get(o.target), m.Language) for o in node.options
        ):
            return node_id
        todo.extend(node.targets())
    raise ValueError(f"flow {flow.id}: no menu is reachable from the start")


def prompt_seconds(prompts: PromptSource, language: str) -> PromptSeconds:
    """Clip lengths for the flow adapter: measured audio where built, else estimated from text."""

    def seconds(prompt_id: str | None) -> float:
        return prompts.clip(prompt_id, language).duration if prompt_id is not None else 0.0

    return seconds


def free_keys(bindings: m.KeyBindings, root_keys: set[str]) -> str:
    """Digits neither the root menu nor a global binding uses, in ascending order (6, 7, 8 next to
    a menu of 1-5 with 9 for the personal-menu key)."""
    taken = root_keys | bindings.first_keys().keys()
    return "".join(d for d in DIGITS if d not in taken)


# Steps a service takes before its answer: the digits it reads and the lookup they go to. Their
# answers ("your appointment is booked") belong to the service the caller chose in the menu.
_ASKING_KINDS = frozenset({"collect", "lookup"})


def served_at(flow: m.Flow, services: Mapping[str, float]) -> dict[str, str]:
    """Each service maps to itself, and so does every node behind it where a call can be served
    or a bookmark pressed: a condition's branches ("vaccination agent" is a queue in office hours
    and an announcement after), through routing steps, and the answers of a service that asks
    (a collect and its lookup), up to another service, which is its own."""
    owner = {service: service for service in services}
    for service in services:
        todo, seen = [service], set()
        while todo:
            node_id = todo.pop()
            node = flow.nodes.get(node_id)
            if node is None or node_id in seen or owner.get(node_id, service) != service:
                continue
            seen.add(node_id)
            owner[node_id] = service
            if (node.kind in m.ROUTING_KINDS and not isinstance(node, m.Menu)) or node.kind in _ASKING_KINDS:
                todo.extend(node.targets())
    return owner


def _seconds(prompts: PromptSource, prompt_id: str, flow: m.Flow, unheard: list[str]) -> float | None:
    """Seconds of a personal prompt in the flow's default language; None unless it has a text in
    every language of the flow, and audio where the language has built audio (else it is added to
    `unheard`). The personal root is chosen as the call starts, before the caller picks a
    language, and the runtime would play a missing one in the default language instead."""
    try:
        for language in flow.languages:
            prompts.clip(prompt_id, language)
        clip = prompts.clip(prompt_id, flow.default_language)
    except KeyError:
        return None
    if not all(prompts.heard(prompt_id, language) for language in flow.languages):
        unheard.append(prompt_id)
        return None
    return clip.duration
