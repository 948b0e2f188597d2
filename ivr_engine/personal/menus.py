"""Personal menus: a repeat caller's own services, offered as shortcuts before the root menu.

`PersonalMenus` is the runtime's Personalizer (`root_for`, `bookmark`) and a CallObserver: every
call that ends at a service updates that caller's record in memory at once, so the next call
already sees it. Records live in one dict keyed by a digest of (flow, caller key); the caller's
number is hashed into the store's caller key on arrival and never kept.

Scores: each call to a service counts 1, halving every `half_life_days`. A service becomes a
candidate after `min_calls` calls (or when bookmarked). The probability that the next call is for
it is its share of the caller's decayed calls, shrunk towards the flow's overall popularity by
`prior_calls` pseudo-calls. Bookmarks are always offered; predictions only past break-even
(`selection`).

Bookmarks toggle: `**` at a service bookmarks it, `**` again at a bookmarked service removes it.

Several engine nodes on one PostgreSQL store (`shared=True`): the store announces every call it
records at a leaf and every bookmark change (`peer_events`), this node's own included, and `apply`
takes them in. Calls are counted once by id: those that ended here, those heard, and those the
load from the store already counted. A bookmark announcement sets a state, so hearing one's own
again changes nothing. What this node could not hear (before it listened, while disconnected) it
reads back from the store, `missed_since`.

A flow is served before its history is read when it becomes personal only on a reload (a new flow
id, or a version the personal menus can take after one they could not) or when the store could
not be read at start-up. Its calls and bookmark changes count from then on and are logged per
caller, and `load_missing_history` reads the history off the event loop and merges it in short
steps: each caller's record becomes the store's, with what the log holds that the store did not
(by call id) applied on top. Until a caller's record is merged, the bookmark key asks the store
whether the caller has that bookmark, so it still removes one set on an earlier call.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import structlog

from ivr_engine.caller_id import identifies
from ivr_engine.flow import model as m
from ivr_engine.optimizer import CostParams
from ivr_engine.personal import records
from ivr_engine.personal.history import BookmarkWriter, PersonalHistory, ServiceUse
from ivr_engine.personal.layout import RootLayout, personalizable, shortcut_prompt
from ivr_engine.personal.peer_events import CATCH_UP_MARGIN, PeerBookmark, PeerCall, PeerEvent
from ivr_engine.personal.selection import Candidate, Timing, choose
from ivr_engine.runtime.events import CallEnded, CallStarted, NodeEntered, NodeVisit
from ivr_engine.runtime.personal import NotBookmarkable, PersonalRoot, Shortcut
from ivr_engine.runtime.prompt_source import PromptSource

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PersonalParams:
    half_life_days: float = 30.0
    min_calls: int = 1  # calls to a service before it may be predicted (bookmarks need none)
    max_shortcuts: int = 3
    prior_calls: float = 1.0  # pseudo-calls of the flow's overall popularity mixed into q

    def __post_init__(self) -> None:
        if not self.half_life_days > 0 or self.min_calls < 1 or self.max_shortcuts < 0 or self.prior_calls < 0:
            raise ValueError(f"personal menu parameters out of range: {self}")

    @property
    def half_life(self) -> float:
        return self.half_life_days * records.DAY


# Layouts kept per flow: the version in service and the ones calls started before a reload may
# still be on (a bookmark pressed during such a call), so neither rebuilds the other's.
_VERSIONS_KEPT = 3
# Ids of the calls counted last, when shared: a call heard twice (announced, and read back by a
# catch-up) or announced back to the node it ended on counts once. A catch-up reads the calls since
# the last moment heard (less CATCH_UP_MARGIN), and a store that is down holds a node's own calls
# back (the recorder spools), so only an outage of more calls than this counts the oldest twice.
# About 10 MB of Asterisk unique ids.
_COUNTED_CALLS_KEPT = 100_000
# How long a bookmark change this node made is kept from a read-back until the store announces it:
# the recorder commits it within a moment, or replays it from its spool once the database is back
# (a catch-up may read the store before that replay). A change the store had already is never
# announced, so the hold ends.
_UNSETTLED_FOR = 3600.0
# Calls (or callers' bookmarks) applied per event-loop step of a catch-up, so that calls in
# progress wait for none longer than a few milliseconds (bench/personal_catch_up.py).
_CATCH_UP_STEP = 500


@dataclass(frozen=True, slots=True)
class _LoggedCall:
    service: int
    at: float
    call_id: str


@dataclass(frozen=True, slots=True)
class _LoggedBookmark:
    service: int
    on: bool
    at: float


@dataclass
class _PendingHistory:
    """A flow served before its history was read: what changed each caller's record meanwhile."""

    since: float  # when the flow began to be served without its history
    log: dict[bytes, list[_LoggedCall | _LoggedBookmark]] = field(default_factory=dict)
    # The history read, per record not merged yet; None until it is read whole.
    unmerged: dict[bytes, bytes] | None = None
    # False after a read failed: until one succeeds, the bookmark key asks the store no more.
    readable: bool = True

    def merged(self, key: bytes) -> bool:
        return self.unmerged is not None and key not in self.unmerged

    def note(self, key: bytes, change: _LoggedCall | _LoggedBookmark) -> None:
        if not self.merged(key):
            self.log.setdefault(key, []).append(change)

    def changed_here(self, key: bytes, service: int) -> bool:
        return any(isinstance(c, _LoggedBookmark) and c.service == service for c in self.log.get(key, ()))

    def earliest(self) -> float:
        """The earliest moment a logged call ended: the store's history counts any it holds."""
        return min([self.since, *(c.at for log in self.log.values() for c in log if isinstance(c, _LoggedCall))])


class _RecentIds:
    """The last `size` call ids remembered, as a set. A deque keeps the order to forget them in: a
    dict used as an ordered set is slow at this, since finding its first key skips every slot
    deleted before it (evicting 300,000 ids that way took 5 s, this way 0.3 s)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._ids: set[str] = set()
        self._order: deque[str] = deque()

    def __contains__(self, call_id: str) -> bool:
        return call_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, call_ids: Iterable[str]) -> None:
        for call_id in call_ids:
            if call_id not in self._ids:
                self._ids.add(call_id)
                self._order.append(call_id)
                if len(self._order) > self._size:
                    self._ids.discard(self._order.popleft())


@dataclass
class _FlowState:
    prompts: PromptSource
    layout: RootLayout  # of the flow added last
    # id(flow) -> the flow (kept alive) and its layout, None for a version without personal menus
    versions: dict[int, tuple[m.Flow, RootLayout | None]]
    popularity: dict[str, float] = field(default_factory=dict)  # service -> calls
    total: float = 0.0
    pending: _PendingHistory | None = None  # served before its history was read

    def share(self, service: str) -> float:
        return self.popularity.get(service, 0.0) / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class Offer:
    root: PersonalRoot
    reasons: list[Candidate]  # per shortcut, in the same order: q, canonical seconds, clip seconds


_UseRow = tuple[str, str, int, float]  # a ServiceUse: caller key, leaf, calls, last call (unix s)


def _use_row(use: ServiceUse) -> _UseRow:
    return use.caller_key, use.leaf, use.calls, use.last_seen.timestamp()


def _compact(flow_id: str, caller_key: str) -> bytes:
    return hashlib.blake2b(f"{flow_id}\0{caller_key}".encode(), digest_size=16).digest()


class PersonalMenus:
    def __init__(
        self,
        *,
        key_of: Callable[[str], str],
        store: PersonalHistory | None = None,
        params: PersonalParams = PersonalParams(),
        cost: CostParams = CostParams(),
        clock: Callable[[], float] = time.time,
        layout_of: Callable[[m.Flow, PromptSource, CostParams], RootLayout] = RootLayout.for_flow,
        shared: bool = False,
        bookmarks_to: BookmarkWriter | None = None,
    ) -> None:
        self.key_of = key_of
        self.store = store
        # The store itself, or the statistics recorder, which spools what a database outage refuses.
        self.bookmarks_to = bookmarks_to if bookmarks_to is not None else store
        self.params = params
        self.cost = cost
        self.clock = clock
        self.layout_of = layout_of
        self._records: dict[bytes, bytes] = {}
        self._services: list[str] = []
        self._index: dict[str, int] = {}
        self._flows: dict[str, _FlowState] = {}
        self._calls: dict[str, tuple[bytes, str]] = {}  # open call id -> (record key, flow id)
        self._counted = _RecentIds(_COUNTED_CALLS_KEPT) if shared else None
        self._bookmarked: dict[str, set[bytes]] = {}  # flow id -> records that had a bookmark here
        # when shared: (flow id, record, service) -> when this node changed that bookmark, until announced
        self._unsettled: dict[tuple[str, bytes, int], float] = {}
        # when shared: the calls that ended since are counted by id; a catch-up starts here
        self.counted_since: float | None = None

    @classmethod
    def from_store(
        cls,
        store: PersonalHistory,
        flows: Iterable[tuple[m.Flow, PromptSource]],
        *,
        params: PersonalParams = PersonalParams(),
        cost: CostParams = CostParams(),
        clock: Callable[[], float] = time.time,
        shared: bool = False,
        bookmarks_to: BookmarkWriter | None = None,
        history: bool = True,
    ) -> PersonalMenus:
        """Personal menus for `flows`, loaded from the store's history and bookmarks (none with
        history=False: a store that cannot be read)."""
        menus = cls(key_of=store.caller_key, store=store, params=params, cost=cost, clock=clock, shared=shared,
                    bookmarks_to=bookmarks_to)  # fmt: skip
        since = None
        if shared:  # the calls ended since are read by id too, so a catch-up from then skips them
            menus.counted_since = clock() - CATCH_UP_MARGIN
            since = dt.datetime.fromtimestamp(menus.counted_since, dt.UTC)
        for flow, prompts in flows:
            if personalizable(flow):
                menus.add_flow(flow, prompts)
                if history:
                    with store.history(flow.id, since) as held:
                        menus.load(flow.id, held.uses, held.bookmarks)
                        menus._remember(held.counted)
        return menus

    # --- set-up -------------------------------------------------------------------------------

    def add_flow(self, flow: m.Flow, prompts: PromptSource) -> RootLayout:
        """Serve `flow` (a new flow, or a new version of one: its callers' history is kept). A new
        flow's history is read from the store by `load` or, while calls go on, `load_missing_history`."""
        layout = self.layout_of(flow, prompts, self.cost)
        state = self._flows.get(flow.id)
        if state is None:
            pending = _PendingHistory(self.clock()) if self.store is not None else None
            self._flows[flow.id] = _FlowState(prompts, layout, {id(flow): (flow, layout)}, pending=pending)
            return layout
        state.prompts, state.layout = prompts, layout
        self._keep_version(state, flow, layout)
        return layout

    @staticmethod
    def _keep_version(state: _FlowState, flow: m.Flow, layout: RootLayout | None) -> None:
        state.versions[id(flow)] = (flow, layout)
        while len(state.versions) > _VERSIONS_KEPT:
            del state.versions[next(iter(state.versions))]

    def load(self, flow_id: str, uses: Iterable[ServiceUse], bookmarks: Iterable[tuple[str, str]]) -> None:
        """History from the store, before the flow serves calls (at start-up)."""
        loaded: dict[bytes, bytes] = {}
        for _ in self._read(flow_id, map(_use_row, uses), bookmarks, loaded):
            pass
        self._records.update(loaded)
        self._flows[flow_id].pending = None

    def _read(
        self,
        flow_id: str,
        uses: Iterable[_UseRow],
        bookmarks: Iterable[tuple[str, str]],
        loaded: dict[bytes, bytes],
    ) -> Iterator[None]:
        """The store's history into `loaded` (record key -> record) and the flow's popularity,
        pausing after every _CATCH_UP_STEP rows. Only the last call's time of each (caller, leaf)
        is known, so all its calls are weighted as if made then: recent regulars rank as they
        should, and a caller who stopped calling fades the same as one call would.

        Each caller's record is packed as soon as its rows are read (the store returns them
        together): packed records are bytes, which the garbage collector never scans, where a
        million callers' entries kept unpacked would make its full passes stall the event loop."""
        state = self._flows[flow_id]
        now, half_life = self.clock(), self.params.half_life
        service_of = state.layout.service_of
        last_caller, key, entries = "", b"", dict[int, records.Entry]()

        def packed() -> None:
            if entries:
                loaded[key] = records.pack(list(entries.values()), now, half_life)

        for row, (caller_key, leaf, calls, last_seen) in enumerate(uses, 1):
            if row % _CATCH_UP_STEP == 0:
                yield
            service = service_of.get(leaf)
            if service is None:
                continue
            if caller_key != last_caller:
                packed()
                last_caller, key = caller_key, _compact(flow_id, caller_key)
                entries = {e.service: e for e in records.entries(loaded.get(key, b""))}
            at = min(last_seen, now)
            index = self._service_index(service)
            seen = entries.get(index)
            if seen is not None:  # two leaves behind one service (a condition's branches)
                score = seen.score_at(max(at, seen.last_seen), half_life)
                at = max(at, seen.last_seen)
                score += calls * records.decay(at - last_seen, half_life)
                entries[index] = records.Entry(index, seen.calls + calls, False, at, score)
            else:
                entries[index] = records.Entry(index, calls, False, at, float(calls))
            self._count(state, service, calls)
        packed()
        # Every bookmark, also of a service this version does not offer: a reload (or the next
        # node's) may offer it again, and it is offered only where the layout has it (`_choose`).
        for row, (caller_key, service) in enumerate(bookmarks, 1):
            if row % _CATCH_UP_STEP == 0:
                yield
            key = _compact(flow_id, caller_key)
            index = self._service_index(service)
            loaded[key] = records.with_bookmark(loaded.get(key, b""), index, True, now, half_life)
            self._bookmarked.setdefault(flow_id, set()).add(key)

    async def load_missing_history(self) -> None:
        """Read the history of each flow served without it and merge it in, a step at a time, so
        calls in progress wait for none longer than a few milliseconds. A flow whose read fails
        stays as it is, the others are read, and the first failure is raised at the end; a later
        call tries the flows not read again."""
        failed: Exception | None = None
        for flow_id, state in list(self._flows.items()):
            pending = state.pending
            if pending is None or self.store is None:
                continue
            started = time.perf_counter()
            since = pending.earliest()
            if self.counted_since is not None:
                # A catch-up may read back from as early as the menus were loaded: the calls the
                # history counts since then are remembered, or it would count them again.
                since = min(since, self.counted_since + CATCH_UP_MARGIN)
            try:
                uses, bookmarks, counted = await asyncio.to_thread(self._read_history, flow_id, since)
            except Exception as exc:
                pending.readable = False
                failed = failed or exc
                continue
            pending.readable = True
            self._remember(counted)  # announced calls the history counts are not counted again
            for change in (c for log in pending.log.values() for c in log):
                if isinstance(change, _LoggedCall) and change.call_id in counted:
                    self._count(state, self._services[change.service], -1)  # the history counts it
            loaded: dict[bytes, bytes] = {}
            for _ in self._read(flow_id, uses, bookmarks, loaded):
                await asyncio.sleep(0)
            pending.unmerged = loaded
            keys, changed = list(loaded), len(pending.log)
            for i in range(0, len(keys), _CATCH_UP_STEP):
                self._merge(pending, keys[i : i + _CATCH_UP_STEP], counted)
                await asyncio.sleep(0)
            state.pending = None
            logger.info(
                "personal.history_loaded",
                flow=flow_id,
                callers=len(keys),
                changed_meanwhile=changed,  # callers whose calls or bookmarks counted before the read
                seconds=round(time.perf_counter() - started, 3),
            )
        if failed is not None:
            raise failed

    def _read_history(self, flow_id: str, since: float) -> tuple[list[_UseRow], list[tuple[str, str]], set[str]]:
        assert self.store is not None
        with self.store.history(flow_id, dt.datetime.fromtimestamp(since - CATCH_UP_MARGIN, dt.UTC)) as held:
            # rows as tuples of strings and numbers, which the garbage collector stops scanning
            return [_use_row(use) for use in held.uses], list(held.bookmarks), set(held.counted)

    def _merge(self, pending: _PendingHistory, keys: list[bytes], counted: set[str]) -> None:
        """These records as the history has them, then what changed here since that the history
        does not hold: calls it did not count, and every bookmark change, in order."""
        assert pending.unmerged is not None
        half_life = self.params.half_life
        for key in keys:
            record = pending.unmerged.pop(key)
            for change in pending.log.pop(key, ()):
                if isinstance(change, _LoggedBookmark):
                    record = records.with_bookmark(record, change.service, change.on, change.at, half_life)
                elif change.call_id not in counted:
                    record = records.with_call(record, change.service, change.at, half_life)
            self._records[key] = record

    def _service_index(self, service: str) -> int:
        index = self._index.get(service)
        if index is None:
            index = self._index[service] = len(self._services)
            self._services.append(service)
        return index

    @staticmethod
    def _count(state: _FlowState, service: str, calls: float) -> None:
        state.popularity[service] = state.popularity.get(service, 0.0) + calls
        state.total += calls

    def _layout(self, flow: m.Flow) -> tuple[_FlowState, RootLayout] | None:
        """The flow's state and the layout of this very flow object; a version not seen before is
        laid out on first sight. It does not become the flow in service (`add_flow` does): it may
        as well be an old one a long call is still on, no longer kept after several reloads. A
        version reloaded into one the personal menus cannot take (`personalizable`) has none."""
        state = self._flows.get(flow.id)
        if state is None:
            return None
        known = state.versions.get(id(flow))
        if known is not None and known[0] is flow:
            layout = known[1]
        else:
            layout = self.layout_of(flow, state.prompts, self.cost) if personalizable(flow) else None
            self._keep_version(state, flow, layout)
        return (state, layout) if layout is not None else None

    def layout(self, flow: m.Flow) -> RootLayout:
        found = self._layout(flow)
        if found is None:
            raise KeyError(f"flow {flow.id!r} was not added to the personal menus")
        return found[1]

    def __len__(self) -> int:
        return len(self._records)

    def footprint(self) -> int:
        """Bytes held by the caller records: the dict, its keys and the packed records."""
        return sys.getsizeof(self._records) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in self._records.items())

    # --- the Personalizer ---------------------------------------------------------------------

    def root_for(self, caller: str | None, flow: m.Flow) -> PersonalRoot | None:
        offer = self.offer(caller, flow)
        return offer.root if offer is not None else None

    def offer(self, caller: str | None, flow: m.Flow) -> Offer | None:
        """The caller's personal root with the reasons for each shortcut; None for the canonical menu."""
        found = self._layout(flow)
        if not identifies(caller) or found is None:  # a withheld number is nobody's in particular
            return None
        record = self._records.get(_compact(flow.id, self.key_of(caller)))
        if not record:
            return None
        state, layout = found
        chosen = self._choose(state, layout, record, self.clock())
        if not chosen:
            return None
        shortcuts = tuple(
            Shortcut(key=key, target=c.service, prompt=shortcut_prompt(c.service, key))
            for key, c in zip(layout.free_keys, chosen)
        )
        return Offer(PersonalRoot(greeting=layout.greeting, shortcuts=shortcuts, before=layout.before), chosen)

    def _choose(self, state: _FlowState, layout: RootLayout, record: bytes, now: float) -> list[Candidate]:
        limit = min(self.params.max_shortcuts, len(layout.free_keys))
        if limit == 0:
            return []
        keys = layout.free_keys[:limit]
        items = list(records.entries(record))
        scores = [e.score_at(now, self.params.half_life) for e in items]
        prior = self.params.prior_calls
        total = sum(scores) + prior
        candidates = []
        for entry, score in zip(items, scores):
            service = self._services[entry.service]
            if not (entry.bookmarked or entry.calls >= self.params.min_calls) or service not in layout.canonical:
                continue
            clips = [layout.clips.get((service, key)) for key in keys]
            if None in clips:
                continue  # no prompt says this service on every key it could get
            # No calls that still weigh anything and no prior: nothing predicts (bookmarks still count).
            q = (score + prior * state.share(service)) / total if total > 0 else 0.0
            clip = max(c for c in clips if c is not None) + layout.gap
            candidates.append(Candidate(service, q, layout.canonical[service], clip, entry.bookmarked))
        return choose(candidates, Timing(layout.level, layout.greeting_seconds), limit)

    async def bookmark(self, caller: str, flow: m.Flow, leaf_id: str) -> None:
        """Toggle: bookmark the service the caller is at, or remove it if already bookmarked.

        Raises NotBookmarkable at a node no menu option leads to (a voicemail after a queue gave up),
        on a flow version without personal menus and for a withheld number: the runtime then
        confirms nothing, since nothing changed."""
        if not identifies(caller):
            raise NotBookmarkable(f"flow {flow.id}: a withheld number has no personal menu")
        found = self._layout(flow)
        service = found[1].service_of.get(leaf_id) if found is not None else None
        if service is None:
            raise NotBookmarkable(f"flow {flow.id}: {leaf_id!r} is not a service a menu option leads to")
        # Shielded: if the runtime stops waiting, the write still completes and memory follows it.
        await asyncio.shield(self._toggle(self.key_of(caller), flow.id, service))

    async def _toggle(self, caller_key: str, flow_id: str, service: str) -> None:
        key = _compact(flow_id, caller_key)
        index = self._service_index(service)
        on = not await self._is_bookmarked(flow_id, caller_key, key, index)
        if self.bookmarks_to is not None:  # kept first: a failed write changes nothing
            await asyncio.to_thread(self.bookmarks_to.set_bookmark, caller_key, flow_id, service, on=on)
        self._set_bookmark(flow_id, key, index, on)
        self._hold(flow_id, key, index)
        logger.info("bookmark added" if on else "bookmark removed", flow=flow_id, service=service)

    async def _is_bookmarked(self, flow_id: str, caller_key: str, key: bytes, index: int) -> bool:
        here = any(e.service == index and e.bookmarked for e in records.entries(self._records.get(key, b"")))
        pending = self._flows[flow_id].pending
        if (
            self.store is None
            or pending is None
            or pending.merged(key)
            or not pending.readable
            or pending.changed_here(key, index)  # the latest change is this node's or one it heard
        ):
            return here
        # The record does not hold the caller's history yet: the store knows of a bookmark set on
        # an earlier call. A read that fails leaves the toggle to what memory holds.
        try:
            return self._services[index] in await asyncio.to_thread(self.store.bookmarks_of, caller_key, flow_id)
        except Exception as exc:
            logger.warning("personal.bookmark_unread", flow=flow_id, error=str(exc) or type(exc).__name__)
            return here

    # --- the CallObserver ---------------------------------------------------------------------

    def call_started(self, event: CallStarted) -> None:
        # Also on a flow not served yet: a reload may make it personal before the call ends.
        if identifies(event.caller):
            self._calls[event.call_id] = (_compact(event.flow_id, self.key_of(event.caller)), event.flow_id)

    def node_entered(self, event: NodeEntered) -> None:
        """Only where a call ends counts."""

    def node_visited(self, event: NodeVisit) -> None:
        """Only where a call ends counts."""

    def call_ended(self, event: CallEnded) -> None:
        opened = self._calls.pop(event.call_id, None)
        if opened is None or event.leaf is None:
            return
        key, flow_id = opened
        state = self._flows.get(flow_id)
        if state is not None and self._add_call(key, state, event.leaf, event.ended_at.timestamp(), event.call_id):
            self._remember([event.call_id])

    def _remember(self, call_ids: Iterable[str]) -> None:
        if self._counted is not None:
            self._counted.add(call_ids)

    def _add_call(self, key: bytes, state: _FlowState, leaf: str, at: float, call_id: str) -> bool:
        """Count a call that ended at `leaf`; False if no menu option leads there."""
        service = state.layout.service_of.get(leaf)
        if service is None:
            return False
        index = self._service_index(service)
        self._records[key] = records.with_call(self._records.get(key, b""), index, at, self.params.half_life)
        self._count(state, service, 1)
        if state.pending is not None:
            state.pending.note(key, _LoggedCall(index, at, call_id))
        return True

    # --- other engine nodes -------------------------------------------------------------------

    def apply(self, events: Iterable[PeerEvent]) -> None:
        """Calls and bookmark changes the shared store announced, from any node (`peer_events`)."""
        for event in events:
            state = self._flows.get(event.flow_id)
            if state is None:
                continue
            key = _compact(event.flow_id, event.caller_key)
            if isinstance(event, PeerCall):
                if self._counted is None or event.call_id not in self._counted:
                    self._add_call(key, state, event.leaf, min(event.ended_at, self.clock()), event.call_id)
                    self._remember([event.call_id])
            else:  # kept as the store keeps it, as `load` does
                index = self._service_index(event.service)
                self._unsettled.pop((event.flow_id, key, index), None)
                self._set_bookmark(event.flow_id, key, index, event.on)

    def apply_unwritten(self, events: Iterable[PeerEvent]) -> None:
        """As `apply`, for what this node recorded that the store does not hold yet (the spool of
        its last run): its bookmark changes are held from read-backs until announced, as those
        made on calls are."""
        events = list(events)
        self.apply(events)
        for event in events:
            if isinstance(event, PeerBookmark) and event.flow_id in self._flows:
                self._hold(event.flow_id, _compact(event.flow_id, event.caller_key), self._service_index(event.service))

    def _hold(self, flow_id: str, key: bytes, index: int) -> None:
        """Keep this node's change of a bookmark from read-backs until the store announces it;
        only a shared store announces, and only shared menus read back."""
        if self._counted is not None:
            self._unsettled[(flow_id, key, index)] = self.clock()

    def _set_bookmark(self, flow_id: str, key: bytes, index: int, on: bool) -> None:
        now = self.clock()
        self._records[key] = records.with_bookmark(self._records.get(key, b""), index, on, now, self.params.half_life)
        if on:
            self._bookmarked.setdefault(flow_id, set()).add(key)
        pending = self._flows[flow_id].pending
        if pending is not None:
            pending.note(key, _LoggedBookmark(index, on, now))

    def missed_since(self, since: float) -> list[Callable[[], None]]:
        """What the store holds for this node's flows from `since` (unix time) on, read now (on
        any thread: it only reads the store), as steps to run in order on the event loop, each
        short: the calls at a leaf (those counted here already are skipped by id), then every
        bookmark as the store has it, which also undoes removals this node did not hear of."""
        if self.store is None:
            return []
        flow_ids = tuple(self._flows)
        calls = self.store.calls_since(flow_ids, dt.datetime.fromtimestamp(since, dt.UTC))
        step = _CATCH_UP_STEP
        steps: list[Callable[[], None]] = [
            functools.partial(self.apply, calls[i : i + step]) for i in range(0, len(calls), step)
        ]
        for flow_id in flow_ids:
            marked: dict[bytes, set[str]] = {}
            for caller_key, service in self.store.bookmarks(flow_id):
                marked.setdefault(_compact(flow_id, caller_key), set()).add(service)
            keys = list(marked)
            reconcile = functools.partial(self._bookmarks_are, flow_id, marked)
            steps += [functools.partial(reconcile, keys[i : i + step]) for i in range(0, len(keys), step)]
            steps.append(functools.partial(reconcile, None))
        logger.info("personal.peers.caught_up", since=since, calls=len(calls))
        return steps

    def _bookmarks_are(self, flow_id: str, marked: dict[bytes, set[str]], keys: list[bytes] | None) -> None:
        """The bookmarks of these records as `marked` (the store) has them; keys None: the records
        with bookmarks here of which the store has none."""
        state = self._flows.get(flow_id)
        if state is None:
            return
        settled_before = self.clock() - _UNSETTLED_FOR
        if keys is None:  # the last step: forget holds the store never announced an end to
            for old in [held for held, at in self._unsettled.items() if at <= settled_before]:
                del self._unsettled[old]
        for key in keys if keys is not None else self._bookmarked.get(flow_id, set()) - marked.keys():
            wanted = {self._service_index(s) for s in marked.get(key, ())}
            held = {e.service for e in records.entries(self._records.get(key, b"")) if e.bookmarked}
            for index in wanted ^ held:
                # a change of this node's the store has yet to take (the recorder writes it) stays
                if self._unsettled.get((flow_id, key, index), settled_before) > settled_before:
                    continue
                self._unsettled.pop((flow_id, key, index), None)
                self._set_bookmark(flow_id, key, index, index in wanted)
