"""The call runtime: walks a flow for one call over any Channel, node by node.

One engine serves the phone (AGI channel) and the simulator (console channel), so what ops staff try
in `ivr simulate` is what callers get. The engine owns the call's state (language, variables, the
menus walked, the leaf reached) and reports every node it enters to the observer, which is the raw
material of node-hit statistics and of the shallower menus built from them.

A call ends cleanly however it ends: the caller hanging up (CallerHangup from the channel), the flow
running out of nodes, or a failure on our side (outcome `error`, the dialplan's fallback takes over);
`call_ended` is always emitted and no exception escapes except cancellation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import re
from collections import ChainMap, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from ivr_engine.caller_id import identifies
from ivr_engine.flow import model as m
from ivr_engine.prompts.clip import Clip
from ivr_engine.runtime import conditions
from ivr_engine.runtime.channel import ALL_KEYS, CallerHangup, Channel, LineLost, QueueRequest
from ivr_engine.runtime.events import (
    CallEnded,
    CallObserver,
    CallStarted,
    NodeEntered,
    NodeVisit,
    Outcome,
)
from ivr_engine.runtime.keypad import Keypad, OptionClip
from ivr_engine.runtime.lookup import (
    HookResolver,
    LookupFailed,
    import_hook,
    run_lookup,
)
from ivr_engine.runtime.personal import NotBookmarkable, Personalizer, PersonalRoot, Shortcut
from ivr_engine.runtime.prompt_source import PromptSource
from ivr_engine.runtime.variables import channel_name, channel_value, substitute
from ivr_engine.runtime.voicemail import message_name, write_sidecar

if TYPE_CHECKING:
    from ivr_engine.config import Settings

T = TypeVar("T")

# What Channel.queue returns: Asterisk's QUEUESTATUS, or the channel's word for what Asterisk leaves
# unset. These mean the queue gave up on the caller (or said nothing), and the call goes on to the
# node's `next`; QUEUE_LEFT means the caller hung up while waiting; anything else (ANSWERED,
# CONTINUE after an agent with the `c` option, WITHDRAW for a callback) means the ACD took the caller.
QUEUE_GAVE_UP = frozenset({"TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL", "UNKNOWN"})
QUEUE_LEFT = "HANGUP"
DIAL_ANSWERED = "ANSWER"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    voicemail_dir: Path = Path("var/voicemail")
    inter_digit_timeout: float = 3.0  # collect: seconds allowed between two digits
    survey_timeout: float = 5.0
    survey_attempts: int = 2
    bookmark_gap: float = 1.5  # seconds the bookmark sequence's next key may follow the previous
    bookmark_prompt: str | None = "bookmark.added"  # played after a bookmark, if the catalog has it
    personalizer_timeout: float = 1.0
    max_steps: int = 1000  # nodes entered by one call; more means a loop without a caller in it
    clock: Callable[[], dt.datetime] = _utc_now  # wall clock at answer; conditions and timestamps

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RuntimeSettings:
        return cls(voicemail_dir=settings.path(settings.voicemail_dir), **overrides)


@dataclass(frozen=True, slots=True)
class CallResult:
    call_id: str
    outcome: Outcome
    final_node: str | None
    leaf: str | None
    seconds_to_leaf: float | None
    seconds: float  # answer to end, on the channel's clock
    visits: tuple[NodeVisit, ...]
    keys: tuple[str, ...]  # every key the channel delivered, in order
    variables: dict[str, str]
    language: str
    personalized: bool

    @property
    def path(self) -> list[str]:
        return [visit.node_id for visit in self.visits]


async def run_call(
    flow: m.Flow,
    channel: Channel,
    *,
    prompts: PromptSource,
    observer: CallObserver | None = None,
    personalizer: Personalizer | None = None,
    hooks: HookResolver = import_hook,
    settings: RuntimeSettings = RuntimeSettings(),
    channel_kind: str = "agi",
) -> CallResult:
    """Walk `flow` for the call on `channel` until it ends; never raises for a caller's hangup."""
    call = _Call(flow, channel, prompts, observer, personalizer, hooks, settings, channel_kind)
    return await call.run()


async def _settle(value: T | Awaitable[T]) -> T:
    return await value if inspect.isawaitable(value) else value


@dataclass
class _Visit:
    node: m.Node
    seq: int
    entered: float
    via_shortcut: bool
    key: str | None = None
    timeouts: int = 0
    invalid_keys: int = 0


@dataclass
class _MenuChoice:
    target: str | None = None  # None with `replay` False: invalid key
    replay: bool = False
    canonical_only: bool = False
    via_shortcut: bool = False


@dataclass
class _Call:
    flow: m.Flow
    channel: Channel
    prompts: PromptSource
    observer: CallObserver | None
    personalizer: Personalizer | None
    hooks: HookResolver
    settings: RuntimeSettings
    channel_kind: str
    keypad: Keypad = field(init=False)
    variables: dict[str, str] = field(default_factory=dict)
    visits: list[NodeVisit] = field(default_factory=list)
    trail: list[str] = field(default_factory=list)  # menus on the way here, for the back key
    backing: bool = False
    noticed: set[str] = field(default_factory=set)  # menus whose "menu has changed" notice played
    menu_seen: bool = False
    zeroed: bool = False
    in_queue: bool = False
    handed_over: Outcome | None = None  # queued or transferred
    leaf: str | None = None
    seconds_to_leaf: float | None = None
    personal: PersonalRoot | None = None
    next_via_shortcut: bool = False
    final_node: str | None = None

    def __post_init__(self) -> None:
        self.keypad = Keypad(self.channel)
        info = self.channel.info
        self.language = info.language if info.language in self.flow.languages else self.flow.default_language
        self.t0 = self.channel.now()
        self.started_at = self.settings.clock()
        self.base_log = structlog.get_logger("ivr_engine.runtime").bind(
            call_id=info.call_id, caller=info.caller, flow=self.flow.id
        )
        self.log = self.base_log.bind(node=None)

    # --- the call -----------------------------------------------------------------------------

    async def run(self) -> CallResult:
        self.personal = await self.personal_root()
        self.emit(
            "call_started",
            CallStarted(
                call_id=self.channel.info.call_id,
                caller=self.channel.info.caller,
                flow_id=self.flow.id,
                flow_version=self.flow.version,
                started_at=self.started_at,
                channel=self.channel_kind,
                personalized=self.personal is not None,
            ),
        )
        self.log.info("call started", personalized=self.personal is not None, language=self.language)
        personalized = self.personal is not None
        try:
            await self.walk()
            outcome = self.outcome_when_finished()
            await self.hang_up()
        except LineLost:
            outcome = Outcome.ERROR
            self.log.warning("connection to the PBX lost: its fallback takes a caller still on the line")
        except CallerHangup:
            outcome = self.outcome_when_caller_left()
            self.log.info("caller hung up")
        except asyncio.CancelledError:
            self.end(Outcome.ERROR)
            raise
        except Exception:
            self.log.exception("call failed")
            outcome = Outcome.ERROR
        self.end(outcome)
        return CallResult(
            call_id=self.channel.info.call_id,
            outcome=outcome,
            final_node=self.final_node,
            leaf=self.leaf,
            seconds_to_leaf=self.seconds_to_leaf,
            seconds=self.elapsed(),
            visits=tuple(self.visits),
            keys=tuple(self.keypad.received),
            variables=dict(self.variables),
            language=self.language,
            personalized=personalized,
        )

    async def walk(self) -> None:
        node_id: str | None = self.flow.start
        for _ in range(self.settings.max_steps):
            if node_id is None:
                return
            node_id = await self.enter(node_id)
        raise RuntimeError(f"more than {self.settings.max_steps} nodes entered: the flow loops")

    async def enter(self, node_id: str) -> str | None:
        node = self.flow.nodes.get(node_id)
        if node is None:
            raise RuntimeError(f"node {node_id!r} does not exist in flow {self.flow.id}")
        self.log = self.base_log.bind(node=node_id)
        self.final_node = node_id
        visit = _Visit(node, len(self.visits), self.elapsed(), self.next_via_shortcut)
        self.next_via_shortcut = False
        if node.kind == "menu":
            self.menu_seen = True
        elif node.kind not in m.ROUTING_KINDS and self.leaf is None and self.menu_seen and not self.zeroed:
            self.leaf = node_id
            self.seconds_to_leaf = round(visit.entered, 3)
        self.log.debug("node entered", kind=node.kind, via_shortcut=visit.via_shortcut)
        self.emit(
            "node_entered",
            NodeEntered(self.channel.info.call_id, visit.seq, node_id, node.kind, self.wall(visit.entered)),
        )
        try:
            return await self.step(node, visit)
        finally:
            self.close(visit)

    def step(self, node: m.Node, visit: _Visit) -> Awaitable[str | None]:
        handler: Callable[[Any, _Visit], Awaitable[str | None]] = getattr(self, f"do_{node.kind}")
        return handler(node, visit)

    def close(self, visit: _Visit) -> None:
        event = NodeVisit(
            call_id=self.channel.info.call_id,
            seq=visit.seq,
            node_id=visit.node.id,
            node_kind=visit.node.kind,
            entered_at=self.wall(visit.entered),
            left_at=self.wall(self.elapsed()),
            key=visit.key,
            timeouts=visit.timeouts,
            invalid_keys=visit.invalid_keys,
            via_shortcut=visit.via_shortcut,
        )
        self.visits.append(event)
        self.emit("node_visited", event)

    def end(self, outcome: Outcome) -> None:
        self.log.info("call ended", outcome=outcome.value, leaf=self.leaf, seconds=round(self.elapsed(), 3))
        self.emit(
            "call_ended",
            CallEnded(
                call_id=self.channel.info.call_id,
                ended_at=self.wall(self.elapsed()),
                outcome=outcome,
                final_node=self.final_node,
                leaf=self.leaf,
                seconds_to_leaf=self.seconds_to_leaf,
            ),
        )

    def emit(self, method: str, event: object) -> None:
        """Statistics must never cost a caller the call: an observer failure is only logged."""
        if self.observer is None:
            return
        try:
            getattr(self.observer, method)(event)
        except Exception:
            self.log.exception("observer failed", callback=method)

    async def hang_up(self) -> None:
        """The flow is done; the outcome is decided, so a line already gone changes nothing."""
        # Without the HANGUP that tells the dialplan the call is done, a caller still on the line
        # is taken to the operators (asterisk_conf/extensions.conf).
        try:
            await self.channel.hangup()
        except LineLost:
            self.log.warning("hangup failed: a caller still on the line goes to the operators")
        except CallerHangup:
            pass  # after a transfer or an agent, the other side usually ends the call
        except Exception:
            self.log.warning("hangup failed: a caller still on the line goes to the operators", exc_info=True)

    def outcome_when_finished(self) -> Outcome:
        if self.zeroed:
            return Outcome.ZEROED_OUT
        if self.handed_over is not None:
            return self.handed_over
        # A flow without a menu on the call's path (a closed-hours message) served what it had.
        return Outcome.SERVED if self.leaf is not None or not self.menu_seen else Outcome.ABANDONED

    def outcome_when_caller_left(self) -> Outcome:
        if self.in_queue:
            return Outcome.QUEUE_HANGUP
        if self.zeroed:
            return Outcome.ZEROED_OUT
        return Outcome.SERVED if self.leaf is not None else Outcome.ABANDONED

    # --- helpers ------------------------------------------------------------------------------

    def elapsed(self) -> float:
        return self.channel.now() - self.t0

    def wall(self, seconds: float) -> dt.datetime:
        return self.started_at + dt.timedelta(seconds=seconds)

    def view(self) -> Mapping[str, str]:
        """Call variables, then what the dialplan handed over (agi_arg_*, tier, ...)."""
        return ChainMap(self.variables, self.channel.info.variables)

    async def assign(self, name: str, value: str) -> None:
        self.variables[name] = value
        await self.channel.set_variable(channel_name(name), channel_value(value))

    def clip(self, prompt_id: str, *, quiet: bool = False) -> Clip | None:
        for language in dict.fromkeys((self.language, self.flow.default_language)):
            try:
                return self.prompts.clip(prompt_id, language)
            except KeyError:
                continue
        if not quiet:
            self.log.warning("prompt cannot be played", prompt=prompt_id, language=self.language)
        return None

    def clips(self, prompt_ids: Iterable[str | None]) -> list[Clip]:
        return [c for p in prompt_ids if p is not None and (c := self.clip(p)) is not None]

    def offer(self, prompt_id: str | None, key: str) -> list[Clip]:
        clip = self.clip(prompt_id) if prompt_id is not None else None
        if clip is None:
            return []
        return [OptionClip.of(clip, key)]

    async def personal_root(self) -> PersonalRoot | None:
        if self.personalizer is None:
            return None
        try:
            root = await asyncio.wait_for(
                _settle(self.personalizer.root_for(self.channel.info.caller, self.flow)),
                self.settings.personalizer_timeout,
            )
        except Exception:
            self.log.warning("personal menu unavailable", exc_info=True)
            return None
        if root is None:
            return None
        menu = self.flow.nodes.get(root.before) if root.before is not None else self.first_menu()
        if not isinstance(menu, m.Menu):
            self.log.warning("personal menu has no canonical menu to precede", before=root.before)
            return None
        shortcuts = tuple(s for s in root.shortcuts if self.usable_shortcut(s, menu))
        if root.greeting is None and not shortcuts:
            return None
        return PersonalRoot(greeting=root.greeting, shortcuts=shortcuts, before=menu.id)

    def usable_shortcut(self, shortcut: Shortcut, menu: m.Menu) -> bool:
        keys = self.flow.keys
        reserved = {keys.operator, keys.back, keys.repeat, keys.personal_menu} | {o.key for o in menu.options}
        usable = (
            len(shortcut.key) == 1
            and shortcut.key in ALL_KEYS
            and shortcut.key not in reserved
            and shortcut.target in self.flow.nodes
        )
        if not usable:
            self.log.warning("personal shortcut ignored", key=shortcut.key, target=shortcut.target)
        return usable

    def first_menu(self) -> m.Menu | None:
        """The menu nearest the start (breadth first, branches in the order written)."""
        queue, seen = deque([self.flow.start]), {self.flow.start}
        while queue:
            node = self.flow.nodes.get(queue.popleft())
            if isinstance(node, m.Menu):
                return node
            for target in node.targets() if node is not None else ():
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        return None

    # --- menus --------------------------------------------------------------------------------

    async def do_menu(self, node: m.Menu, visit: _Visit) -> str | None:
        personal = None
        if self.personal is not None and self.personal.before == node.id:
            personal, self.personal = self.personal, None  # played once, on the call's way in
        self.follow_trail(node.id)
        lead: list[str | None] = []
        notice = node.notice_on(conditions.local_time(self.flow, self.wall(self.elapsed())).date())
        if notice and node.id not in self.noticed:
            self.noticed.add(node.id)
            lead.append(notice)
        failures = 0
        while True:
            clips = self.clips(lead) + self.personal_clips(personal) + self.menu_clips(node)
            key = await self.keypad.play(clips, ALL_KEYS, node.timeout)
            if key is None:
                visit.timeouts += 1
                failures += 1
                lead = [node.timeout_prompt]
            else:
                choice = self.choose(node, key, personal)
                if choice.target is not None:
                    if personal is not None and self.backing:
                        # back from the personal main menu itself (to the language menu, to hear
                        # it in another language): the shortcuts are offered again on the way in
                        self.personal = personal
                    visit.key = key
                    self.next_via_shortcut = choice.via_shortcut
                    self.log.info("menu choice", key=key, target=choice.target)
                    return choice.target
                if choice.canonical_only:
                    personal = None
                if choice.replay:
                    lead = []
                    continue
                visit.invalid_keys += 1
                failures += 1
                lead = [node.invalid_prompt]
            if failures > node.retries:
                return self.exhausted(node)

    def personal_clips(self, personal: PersonalRoot | None) -> list[Clip]:
        if personal is None:
            return []
        clips = self.clips([personal.greeting])
        for shortcut in personal.shortcuts:
            clips += self.offer(shortcut.prompt, shortcut.key)
        return clips

    def menu_clips(self, node: m.Menu) -> list[Clip]:
        clips = self.clips([node.prompt])
        for option in node.options:
            clips += self.offer(option.prompt, option.key)
        return clips

    def choose(self, node: m.Menu, key: str, personal: PersonalRoot | None) -> _MenuChoice:
        keys = self.flow.keys
        option = node.option_for(key)
        if option is not None:
            return _MenuChoice(target=option.target)
        shortcut = next((s for s in personal.shortcuts if s.key == key), None) if personal else None
        if shortcut is not None:
            return _MenuChoice(target=shortcut.target, via_shortcut=True)
        if key == keys.operator and self.flow.operator is not None:
            self.zeroed = True
            return _MenuChoice(target=self.flow.operator)
        if key == keys.back and len(self.trail) > 1:
            self.trail.pop()
            self.backing = True
            return _MenuChoice(target=self.trail[-1])
        if key in (keys.back, keys.repeat):
            return _MenuChoice(replay=True)
        if personal is not None and key == keys.personal_menu:
            return _MenuChoice(replay=True, canonical_only=True)
        return _MenuChoice()

    def follow_trail(self, menu_id: str) -> None:
        if self.backing:
            self.backing = False
        elif not self.trail or self.trail[-1] != menu_id:
            self.trail.append(menu_id)

    def exhausted(self, node: m.Menu) -> str | None:
        self.log.info("menu retries exhausted", retries=node.retries)
        if node.on_exhausted is not None:
            return node.on_exhausted
        if self.flow.operator is not None:
            self.zeroed = True
        return self.flow.operator

    # --- leaves and steps ---------------------------------------------------------------------

    def bookmark_keys(self, node: m.Node) -> str | None:
        """The bookmark sequence, where a caller may add this service to their personal menu."""
        keys = self.flow.keys.bookmark
        if (
            not keys
            or self.personalizer is None
            or not identifies(self.channel.info.caller)
            or node.kind in m.ROUTING_KINDS
            or not self.menu_seen
            or self.zeroed
        ):
            return None
        return keys

    async def play_leaf(self, node: m.Node, prompt_ids: Iterable[str | None], escape: str) -> None:
        """A service's prompts; a key that interrupts them is left for the next node, unless it
        starts the bookmark sequence, which bookmarks this node and plays the prompts again, as
        the first time: the sequence again toggles the bookmark back (a caller undoing a slip)."""
        prompt_ids = list(prompt_ids)
        bookmark = self.bookmark_keys(node)
        while True:
            clips = self.clips(prompt_ids)
            if bookmark and clips:
                clips[-1] = OptionClip.of(clips[-1], bookmark[0])
                escape = escape if bookmark[0] in escape else escape + bookmark[0]
            key = await self.keypad.play(clips, escape)
            if key is None:
                return
            if not bookmark or key != bookmark[0]:
                self.keypad.push_back(key)
                return
            typed = key
            while len(typed) < len(bookmark) and bookmark.startswith(typed):
                more = await self.keypad.wait_digit(self.settings.bookmark_gap)
                if more is None:
                    break
                typed += more
            if typed != bookmark:
                self.keypad.push_back(*typed)
                return
            await self.add_bookmark(node)

    async def add_bookmark(self, node: m.Node) -> None:
        assert self.personalizer is not None and self.channel.info.caller is not None
        try:
            await asyncio.wait_for(
                _settle(self.personalizer.bookmark(self.channel.info.caller, self.flow, node.id)),
                self.settings.personalizer_timeout,
            )
        except NotBookmarkable as exc:
            self.log.info("bookmark refused", reason=str(exc))
            return
        except Exception:
            self.log.warning("bookmark failed", exc_info=True)
            return
        self.log.info("bookmark added", leaf=node.id)
        confirmation = self.settings.bookmark_prompt
        clip = self.clip(confirmation, quiet=True) if confirmation else None
        if clip is not None:
            await self.keypad.play([clip], "")

    async def do_announcement(self, node: m.Announcement, visit: _Visit) -> str | None:
        await self.play_leaf(node, node.prompts, ALL_KEYS if node.interruptible else "")
        return node.next

    async def do_collect(self, node: m.Collect, visit: _Visit) -> str | None:
        lead: list[str | None] = []
        for _ in range(node.retries + 1):
            digits, ended_by = await self.read_digits(node, self.clips([*lead, node.prompt]))
            length_ok = node.min_length <= len(digits) <= node.max_length
            if length_ok and (node.pattern is None or re.fullmatch(node.pattern, digits)):
                await self.assign(node.variable, digits)
                return node.next
            if digits or ended_by == "terminator":
                visit.invalid_keys += 1
            else:
                visit.timeouts += 1
            self.log.info("collect rejected", length=len(digits), ended_by=ended_by)
            lead = [node.invalid_prompt]
        return node.on_failure

    async def read_digits(self, node: m.Collect, clips: list[Clip]) -> tuple[str, str]:
        """Keys one by one (not GET DATA), so keys typed ahead during earlier prompts count."""
        key = await self.keypad.play(clips, ALL_KEYS, node.timeout)
        digits = ""
        while key is not None:
            if node.terminator and key == node.terminator:
                return digits, "terminator"
            digits += key
            if len(digits) >= node.max_length:
                return digits, "full"
            key = await self.keypad.wait_digit(self.settings.inter_digit_timeout)
        return digits, "timeout"

    async def do_lookup(self, node: m.Lookup, visit: _Visit) -> str | None:
        view = self.view()
        params = {name: view.get(variable, "") for name, variable in node.params}
        try:
            result = await run_lookup(
                hook=node.hook,
                url=node.url,
                method=node.method,
                params=params,
                timeout=node.timeout,
                resolve=self.hooks,
            )
        except LookupFailed as exc:
            self.log.warning("lookup failed", reason=str(exc))
            return node.on_error
        except Exception:
            self.log.exception("lookup hook raised")
            return node.on_error
        await self.assign(node.result_variable, result)
        return dict(node.branches).get(result, node.default)

    async def do_condition(self, node: m.Condition, visit: _Visit) -> str | None:
        view = self.view()
        facts = conditions.Facts(
            local=conditions.local_time(self.flow, self.wall(self.elapsed())),
            tier=view.get("tier"),
            language=self.language,
            variables=view,
        )
        for branch in node.branches:
            if conditions.holds(branch.when, facts, self.flow.holidays):
                return branch.target
        return node.default

    async def do_set(self, node: m.Set, visit: _Visit) -> str | None:
        for name, template in node.variables:
            await self.assign(name, substitute(template, self.view()))
        return node.next

    async def do_goto(self, node: m.Goto, visit: _Visit) -> str | None:
        return node.target

    async def do_language(self, node: m.Language, visit: _Visit) -> str | None:
        self.language = node.language
        await self.channel.set_language(node.language)
        return node.next

    async def do_voicemail(self, node: m.Voicemail, visit: _Visit) -> str | None:
        await self.play_leaf(node, [node.prompt], "")
        info = self.channel.info
        at = self.wall(self.elapsed())
        name = message_name(node.mailbox or node.id, info.caller, at, info.call_id)
        recording = await self.channel.record(str(name), node.max_seconds)
        sidecar = write_sidecar(
            self.settings.voicemail_dir,
            name,
            recording=recording,
            caller=info.caller,
            call_id=info.call_id,
            mailbox=node.mailbox,
            at=at,
            flow_id=self.flow.id,
            flow_version=self.flow.version,
            path=[*(v.node_id for v in self.visits), node.id],
        )
        self.log.info("voice message stored", path=recording.path, sidecar=str(sidecar), seconds=recording.seconds)
        if recording.ended_by == "hangup":
            raise CallerHangup()
        return node.next

    async def do_queue(self, node: m.Queue, visit: _Visit) -> str | None:
        await self.play_leaf(node, [node.prompt], "")
        request = QueueRequest(
            queue=node.queue,
            priority=node.priority,
            timeout=node.timeout,
            skills=node.skills,
            announce_position=node.announce_position,
        )
        self.in_queue = True
        status = await self.channel.queue(request)
        self.log.info("queue returned", queue=node.queue, status=status)
        if status.upper() == QUEUE_LEFT:
            raise CallerHangup()
        self.in_queue = False
        if status.upper() in QUEUE_GAVE_UP:
            return node.next
        self.handed_over = Outcome.QUEUED
        return None

    async def do_transfer(self, node: m.Transfer, visit: _Visit) -> str | None:
        await self.play_leaf(node, [node.prompt], "")
        status = await self.channel.dial(node.destination, node.timeout)
        self.log.info("dial returned", destination=node.destination, status=status)
        if status.upper() != DIAL_ANSWERED:
            return node.next
        self.handed_over = Outcome.TRANSFERRED
        return None

    async def do_hangup(self, node: m.Hangup, visit: _Visit) -> str | None:
        await self.keypad.play(self.clips([node.prompt]), "")
        return None

    async def do_survey(self, node: m.Survey, visit: _Visit) -> str | None:
        for _ in range(self.settings.survey_attempts):
            key = await self.keypad.play(self.clips([node.prompt]), ALL_KEYS, self.settings.survey_timeout)
            if key is None:
                visit.timeouts += 1
            elif key.isdigit() and 1 <= int(key) <= node.scale:
                visit.key = key
                await self.assign(node.variable, key)
                await self.keypad.play(self.clips([node.thanks_prompt]), "")
                return node.next
            else:
                visit.invalid_keys += 1
        return node.next
