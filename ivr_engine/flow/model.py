"""The flow model: the typed, resolved tree every other part of the engine runs on.

A flow is a set of nodes keyed by a stable id, plus flow-wide settings. Nodes point at each other by
id (never by object), so a flow can be restructured, exported and diffed without chasing references,
and a node id can be used as the key of node-hit statistics across flow versions.

The YAML loader builds these objects; the validator checks them; the call runtime walks them; the
optimizer produces new ones. All are immutable: a flow in service is never mutated, it is replaced.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeAlias

DTMF_KEYS: frozenset[str] = frozenset("0123456789*#")

Tier: TypeAlias = str  # "vip", "major", "ordinary": free text, compared case-insensitively


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a node or value was written; errors name it as file:line:col (1-based)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """Fields common to every node kind.

    `title` is a short human label for diagrams, statistics and the optimizer's reports; it is not
    spoken. `loc` is None for nodes the optimizer generated.
    """

    kind: ClassVar[str]
    id: str
    title: str = ""
    loc: SourceLocation | None = field(default=None, compare=False)
    # Where each field's value was written ("prompt", "next", "options.2.target", ...), so
    # diagnostics can point at the value itself rather than at the node.
    field_locs: tuple[tuple[str, SourceLocation], ...] = field(default=(), compare=False, repr=False)

    def targets(self) -> tuple[str, ...]:
        """Ids of the nodes a call may go to from here, in a stable order."""
        return ()

    def loc_of(self, name: str) -> SourceLocation | None:
        """Location of field `name` as written, else of the node."""
        return dict(self.field_locs).get(name, self.loc)


# --- menus -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MenuOption:
    """One choice of a menu: `prompt` is the clip "for vaccination, press 2"."""

    key: str
    target: str
    prompt: str | None = None
    title: str = ""
    pinned: bool = False  # the optimizer must keep this key for this target
    loc: SourceLocation | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Menu(Node):
    """Plays `prompt` then each option's prompt in order; the caller may press a key at any time.

    On timeout or an invalid key the caller hears `timeout_prompt` / `invalid_prompt` and the menu
    repeats, `retries` times; then the call goes to `on_exhausted` (None means the flow's operator).
    `keep_together` and `fixed` are ops staff's constraints on the optimizer.
    """

    kind: ClassVar[str] = "menu"
    prompt: str | None = None
    options: tuple[MenuOption, ...] = ()
    timeout: float = 5.0
    retries: int = 2
    invalid_prompt: str | None = None
    timeout_prompt: str | None = None
    on_exhausted: str | None = None
    keep_together: bool = False
    fixed: bool = False
    changed_notice: str | None = None  # prompt played first after the optimizer changed this menu
    # the notice plays on calls before this day (the flow's time zone), so that it ends once callers
    # had time to learn the new menu; None: it plays for as long as the menu carries it
    changed_notice_until: dt.date | None = None

    def notice_on(self, day: dt.date) -> str | None:
        """The "this menu has changed" prompt calls hear on `day` (in the flow's time zone), if any."""
        if self.changed_notice is None or (self.changed_notice_until is not None and day >= self.changed_notice_until):
            return None
        return self.changed_notice

    def option_for(self, key: str) -> MenuOption | None:
        for option in self.options:
            if option.key == key:
                return option
        return None

    def targets(self) -> tuple[str, ...]:
        extra = (self.on_exhausted,) if self.on_exhausted else ()
        return tuple(o.target for o in self.options) + extra


# --- plain steps -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Announcement(Node):
    """Plays its prompts; then goes to `next`, or hangs up when `next` is None."""

    kind: ClassVar[str] = "announcement"
    prompts: tuple[str, ...] = ()
    next: str | None = None
    interruptible: bool = True

    def targets(self) -> tuple[str, ...]:
        return (self.next,) if self.next else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Collect(Node):
    """Reads digits into call variable `variable`; `pattern` is a full-match regular expression."""

    kind: ClassVar[str] = "collect"
    prompt: str | None = None
    variable: str = ""
    min_length: int = 1
    max_length: int = 20
    terminator: str = "#"
    pattern: str | None = None
    timeout: float = 6.0
    retries: int = 2
    invalid_prompt: str | None = None
    next: str | None = None
    on_failure: str | None = None

    def targets(self) -> tuple[str, ...]:
        return tuple(t for t in (self.next, self.on_failure) if t)


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup(Node):
    """Calls a Python hook (`module:function`) or an HTTP endpoint with call variables.

    The result (a string) is stored in `result_variable` and selects a branch; a result with no
    branch goes to `default`; an error or a timeout goes to `on_error`.
    """

    kind: ClassVar[str] = "lookup"
    hook: str | None = None
    url: str | None = None
    method: Literal["GET", "POST"] = "GET"
    params: tuple[tuple[str, str], ...] = ()  # (parameter name, call variable name)
    result_variable: str = "lookup_result"
    timeout: float = 3.0
    branches: tuple[tuple[str, str], ...] = ()  # (result value, target)
    default: str | None = None
    on_error: str | None = None

    def targets(self) -> tuple[str, ...]:
        tail = tuple(t for t in (self.default, self.on_error) if t)
        return tuple(target for _, target in self.branches) + tail


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeRange:
    start: dt.time
    end: dt.time  # exclusive; a range with end <= start wraps past midnight

    def contains(self, moment: dt.time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True, slots=True, kw_only=True)
class When:
    """A condition: every field that is set must hold (an empty When always holds)."""

    time: tuple[TimeRange, ...] = ()  # any of the ranges
    weekdays: tuple[int, ...] = ()  # 0 = Monday
    holiday: str | None = None  # name of a calendar in Flow.holidays: today is one of its days
    not_holiday: str | None = None
    tier: tuple[Tier, ...] = ()
    language: tuple[str, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()  # (call variable, full-match regular expression)
    loc: SourceLocation | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Branch:
    when: When
    target: str
    loc: SourceLocation | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition(Node):
    """Goes to the first branch whose condition holds, else to `default`."""

    kind: ClassVar[str] = "condition"
    branches: tuple[Branch, ...] = ()
    default: str | None = None

    def targets(self) -> tuple[str, ...]:
        tail = (self.default,) if self.default else ()
        return tuple(b.target for b in self.branches) + tail


@dataclass(frozen=True, slots=True, kw_only=True)
class Set(Node):
    """Sets call variables (values may reference others as `${name}`); they become channel variables."""

    kind: ClassVar[str] = "set"
    variables: tuple[tuple[str, str], ...] = ()
    next: str | None = None

    def targets(self) -> tuple[str, ...]:
        return (self.next,) if self.next else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Goto(Node):
    kind: ClassVar[str] = "goto"
    target: str = ""

    def targets(self) -> tuple[str, ...]:
        return (self.target,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Language(Node):
    """Switches the caller's language for the rest of the call."""

    kind: ClassVar[str] = "language"
    language: str = ""
    next: str | None = None

    def targets(self) -> tuple[str, ...]:
        return (self.next,) if self.next else ()


# --- leaves: where the caller's need is served -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Voicemail(Node):
    """Records a message (complaints); stored with caller, time and the path the caller took."""

    kind: ClassVar[str] = "voicemail"
    prompt: str | None = None
    mailbox: str = ""
    max_seconds: int = 120
    next: str | None = None

    def targets(self) -> tuple[str, ...]:
        return (self.next,) if self.next else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Queue(Node):
    """Hands the caller to the ACD; `next` is where the call goes if the queue gives up."""

    kind: ClassVar[str] = "queue"
    queue: str = ""
    prompt: str | None = None
    skills: tuple[str, ...] = ()
    priority: int = 0
    timeout: float | None = None
    announce_position: bool = True
    callback: bool = False
    next: str | None = None

    def targets(self) -> tuple[str, ...]:
        return (self.next,) if self.next else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(Node):
    """Dials an extension or an outside number; `next` is where the call goes if nobody answers."""

    kind: ClassVar[str] = "transfer"
    destination: str = ""
    prompt: str | None = None
    timeout: float = 30.0
    next: str | None = None

    def targets(self) -> tuple[str, ...]:
        return (self.next,) if self.next else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup(Node):
    kind: ClassVar[str] = "hangup"
    prompt: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Survey(Node):
    """Asks for a satisfaction score 1..`scale` into `variable`."""

    kind: ClassVar[str] = "survey"
    prompt: str | None = None
    variable: str = "satisfaction"
    scale: int = 5
    thanks_prompt: str | None = None
    next: str | None = None

    def targets(self) -> tuple[str, ...]:
        return (self.next,) if self.next else ()


NODE_KINDS: dict[str, type[Node]] = {
    cls.kind: cls
    for cls in (
        Menu,
        Announcement,
        Collect,
        Lookup,
        Condition,
        Set,
        Goto,
        Language,
        Voicemail,
        Queue,
        Transfer,
        Hangup,
        Survey,
    )
}

# Kinds that only steer the call; reaching any other kind from a menu means a service was reached.
ROUTING_KINDS: frozenset[str] = frozenset({"menu", "condition", "set", "goto", "language"})


# --- the flow ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyBindings:
    """Keys with a meaning in every menu; None disables one. A menu option may not reuse them."""

    operator: str | None = "0"
    back: str | None = "*"
    repeat: str | None = "#"
    bookmark: str | None = "**"  # pressed at a leaf: add this service to the caller's personal menu
    personal_menu: str | None = "9"  # in a personal root menu: go on to the canonical main menu

    def first_keys(self) -> dict[str, str]:
        """The first key of each binding in use -> its name: the keys a menu's own options must
        leave alone (a bookmark's first key too, or its second press would never come)."""
        names = ("operator", "back", "repeat", "personal_menu", "bookmark")
        return {key[0]: name for name in names if (key := getattr(self, name))}


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    id: str
    version: str
    start: str
    nodes: dict[str, Node]  # insertion order = order written
    languages: tuple[str, ...] = ("en",)
    default_language: str = "en"
    operator: str | None = None  # id of the node key 0 and exhausted menus go to (a queue)
    keys: KeyBindings = KeyBindings()
    holidays: dict[str, frozenset[dt.date]] = field(default_factory=dict)
    timezone: str = "UTC"
    max_depth: int | None = None  # optimizer constraint: no service deeper than this many menus
    title: str = ""
    files: tuple[str, ...] = ()  # the source files, main file first
    # The prompt catalog (a file or a directory of *.yaml), resolved by the loader; None if none.
    prompts: str | None = None
    # Where each flow-wide setting was written ("start", "operator", "keys.back", ...).
    field_locs: tuple[tuple[str, SourceLocation], ...] = field(default=(), compare=False, repr=False)

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def loc_of(self, name: str) -> SourceLocation | None:
        """Location of setting `name` as written, else the start of the main file, if known."""
        found = dict(self.field_locs).get(name)
        if found is None and self.files:
            return SourceLocation(self.files[0], 1, 1)
        return found

    def menus(self) -> list[Menu]:
        return [n for n in self.nodes.values() if isinstance(n, Menu)]
