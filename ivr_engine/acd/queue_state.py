"""Sans-I/O queue state: what app_queue reports, rebuilt from QueueStatus and moved by queue events.

No sockets and no clock of its own: the caller passes `now` (a monotonic reading) so the wait of
each caller can be computed at any later instant, and the tests feed captured AMI messages.

What app_queue (apps/app_queue.c, Asterisk 22) tells us and how we read it:

- ``QueueParams`` (a QueueStatus item): ``Calls`` (callers waiting), ``Holdtime``/``TalkTime``
  (app_queue's moving averages, seconds), ``Completed`` (answered calls that have *ended*: counted
  by update_queue() at AgentComplete), ``Abandoned``, ``ServiceLevel`` (the threshold, seconds) and
  ``ServicelevelPerf``: ``100 * completed-in-SL / completed``, printed ``%2.1f`` and 0.0 while no call
  has completed. A call is "in SL" when its hold time at the moment an agent answered was
  ``<= ServiceLevel``. ``ServicelevelPerf2`` also counts calls abandoned within the threshold as
  good, which is not a service level a supervisor means; we do not export it.
- ``QueueMember`` and every ``QueueMember*`` event carry the whole member: ``Status`` (a device
  state, enum ast_device_state), ``Paused``, ``InCall`` (1 from AgentConnect to the end of the
  call), ``CallsTaken``, ``Penalty``. The item names the interface ``Location``, the events
  ``Interface``.
- ``QueueEntry``: a waiting caller, ``Wait`` whole seconds since it joined. ``QueueCallerJoin`` and
  ``QueueCallerLeave`` (sent on every exit: answered, abandoned, timed out) move the list between
  polls; ``QueueCallerAbandon`` and ``AgentComplete`` change counters that only QueueStatus reports.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from ivr_engine.ami.protocol import AMIEvent
from ivr_engine.metrics import mask_caller


class DeviceState(enum.IntEnum):
    """enum ast_device_state (include/asterisk/devicestate.h), as app_queue prints ``Status``."""

    UNKNOWN = 0
    NOT_INUSE = 1
    INUSE = 2
    BUSY = 3
    INVALID = 4
    UNAVAILABLE = 5
    RINGING = 6
    RINGINUSE = 7
    ONHOLD = 8


class AgentState(enum.StrEnum):
    """One state per queue member, so the counts of a queue add up to its members."""

    AVAILABLE = "available"
    RINGING = "ringing"
    IN_CALL = "in_call"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"


_GONE = frozenset({DeviceState.INVALID, DeviceState.UNAVAILABLE})
# A device busy with any call (this queue's, another queue's, a direct one) cannot take this one.
_BUSY = frozenset({DeviceState.INUSE, DeviceState.BUSY, DeviceState.RINGINUSE, DeviceState.ONHOLD})


def agent_state(status: DeviceState, *, paused: bool, in_call: bool) -> AgentState:
    # An unreachable phone is the first thing a supervisor must see; a paused agent who is still
    # on a call is on a call (the pause takes effect for the next one).
    if status in _GONE:
        return AgentState.UNAVAILABLE
    if in_call or status in _BUSY:
        return AgentState.IN_CALL
    if paused:
        return AgentState.PAUSED
    if status is DeviceState.RINGING:
        return AgentState.RINGING
    return AgentState.AVAILABLE  # NOT_INUSE, or UNKNOWN, which app_queue rings too


class Reaction(enum.Enum):
    IGNORED = "ignored"  # not a queue event, or a queue we do not watch
    UPDATED = "updated"  # the board moved
    STALE = "stale"  # Asterisk's counters (or queues) changed: ask QueueStatus again


def _int(event: AMIEvent, key: str, default: int = 0) -> int:
    try:
        return int(event.get(key) or default)
    except ValueError:
        return default


def _float(event: AMIEvent, key: str) -> float:
    try:
        value = float(event.get(key) or 0.0)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0


def _status(event: AMIEvent) -> DeviceState:
    try:
        return DeviceState(_int(event, "Status"))
    except ValueError:
        return DeviceState.UNKNOWN


@dataclass(frozen=True, slots=True)
class MemberView:
    interface: str
    name: str
    state: AgentState
    device: DeviceState
    paused: bool
    paused_reason: str
    in_call: bool
    penalty: int
    calls_taken: int
    dynamic: bool

    @classmethod
    def from_event(cls, event: AMIEvent) -> MemberView:
        """From a QueueMember list item or a QueueMember* event."""
        status, paused, in_call = (
            _status(event),
            _int(event, "Paused") != 0,
            _int(event, "InCall") != 0,
        )
        return cls(
            interface=event.get("Interface") or event.get("Location") or "",
            name=event.get("MemberName") or event.get("Name") or "",
            state=agent_state(status, paused=paused, in_call=in_call),
            device=status,
            paused=paused,
            paused_reason=event.get("PausedReason") or "",
            in_call=in_call,
            penalty=_int(event, "Penalty"),
            calls_taken=_int(event, "CallsTaken"),
            dynamic=(event.get("Membership") or "").lower() == "dynamic",
        )

    def with_call(self, in_call: bool) -> MemberView:
        state = agent_state(self.device, paused=self.paused, in_call=in_call)
        return MemberView(
            self.interface, self.name, state, self.device, self.paused, self.paused_reason,
            in_call, self.penalty, self.calls_taken, self.dynamic,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class CallerView:
    uniqueid: str
    caller: str  # masked (ivr_engine.metrics.mask_caller): supervisors never see the whole number
    joined_at: float  # the monotonic clock of the board's `now`
    priority: int


@dataclass(frozen=True, slots=True)
class QueueCounters:
    """app_queue's own statistics for a queue (since Asterisk started or `queue reset stats`)."""

    strategy: str = ""
    service_level_seconds: int = 0
    completed: int = 0
    abandoned: int = 0
    average_hold_seconds: int = 0
    average_talk_seconds: int = 0
    service_level_percent: float = 0.0  # ServicelevelPerf

    @classmethod
    def from_params(cls, event: AMIEvent) -> QueueCounters:
        return cls(
            strategy=event.get("Strategy") or "",
            service_level_seconds=_int(event, "ServiceLevel"),
            completed=_int(event, "Completed"),
            abandoned=_int(event, "Abandoned"),
            average_hold_seconds=_int(event, "Holdtime"),
            average_talk_seconds=_int(event, "TalkTime"),
            service_level_percent=_float(event, "ServicelevelPerf"),
        )

    @property
    def service_level_ratio(self) -> float:
        """Completed calls answered within the threshold / completed calls; NaN before the first.

        app_queue prints 0.0 when nothing completed yet; a ratio of 0 would page a supervisor for
        a queue that has simply not served anybody, so that case is "no value" instead.
        """
        if self.completed == 0:
            return math.nan
        return min(max(self.service_level_percent / 100.0, 0.0), 1.0)


@dataclass(slots=True)
class _Queue:
    counters: QueueCounters = QueueCounters()
    members: dict[str, MemberView] = field(default_factory=dict)
    callers: dict[str, CallerView] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueView:
    name: str
    counters: QueueCounters
    members: tuple[MemberView, ...]
    callers: tuple[CallerView, ...]  # in app_queue's order: priority first, then arrival

    @property
    def oldest_join(self) -> float | None:
        return min((c.joined_at for c in self.callers), default=None)

    def longest_wait(self, now: float) -> float:
        oldest = self.oldest_join
        return 0.0 if oldest is None else max(now - oldest, 0.0)

    def agents(self) -> dict[AgentState, int]:
        counts = dict.fromkeys(AgentState, 0)
        for member in self.members:
            counts[member.state] += 1
        return counts


_MEMBER_UPSERT = frozenset(
    {"queuememberstatus", "queuememberpause", "queuememberadded", "queuememberpenalty",
     "queuememberringinuse"}
)  # fmt: skip
_COUNTERS_MOVED = frozenset({"queuecallerabandon", "agentcomplete"})
EVENT_NAMES: tuple[str, ...] = (
    "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentConnect", "AgentComplete",
    "QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded", "QueueMemberRemoved",
    "QueueMemberPenalty", "QueueMemberRinginuse",
)  # fmt: skip


class QueueBoard:
    """The queues being watched (all of Asterisk's when `queues` is None)."""

    def __init__(self, queues: Collection[str] | None = None) -> None:
        self.watched = frozenset(queues) if queues is not None else None
        self._queues: dict[str, _Queue] = {}

    def _wants(self, name: str) -> bool:
        return bool(name) and (self.watched is None or name in self.watched)

    def load(self, items: Iterable[AMIEvent], now: float) -> None:
        """Replace everything with a QueueStatus answer (its list items)."""
        fresh: dict[str, _Queue] = {}
        for item in items:
            name = item.get("Queue") or ""
            if not self._wants(name):
                continue
            if item.name == "QueueParams":
                fresh.setdefault(name, _Queue()).counters = QueueCounters.from_params(item)
            elif item.name == "QueueMember":
                member = MemberView.from_event(item)
                fresh.setdefault(name, _Queue()).members[member.interface] = member
            elif item.name == "QueueEntry":
                uniqueid = item.get("Uniqueid") or ""
                known = self._queues.get(name, _Queue()).callers.get(uniqueid)
                # Wait is whole seconds; a join we saw as an event is the more precise start.
                joined = known.joined_at if known else now - _int(item, "Wait")
                fresh.setdefault(name, _Queue()).callers[uniqueid] = CallerView(
                    uniqueid, mask_caller(_caller(item)), joined, _int(item, "Priority")
                )
        self._queues = fresh

    def apply(self, event: AMIEvent, now: float) -> Reaction:
        """Move the board by one event. Replaying an event already reflected changes nothing."""
        name = event.get("Queue") or ""
        kind = event.name.lower()
        if not self._wants(name) or kind not in _KNOWN:
            return Reaction.IGNORED
        queue = self._queues.get(name)
        if queue is None:
            return Reaction.STALE  # a queue created by a reload: QueueStatus describes it
        if kind == "queuecallerjoin":
            uniqueid = event.get("Uniqueid") or ""
            if uniqueid not in queue.callers:
                queue.callers[uniqueid] = CallerView(uniqueid, mask_caller(_caller(event)), now, 0)
        elif kind == "queuecallerleave":
            queue.callers.pop(event.get("Uniqueid") or "", None)
        elif kind in _MEMBER_UPSERT:
            member = MemberView.from_event(event)
            queue.members[member.interface] = member
        elif kind == "queuememberremoved":
            queue.members.pop(event.get("Interface") or "", None)
        elif kind in ("agentconnect", "agentcomplete"):
            answering = queue.members.get(event.get("Interface") or "")
            if answering is not None:
                queue.members[answering.interface] = answering.with_call(kind == "agentconnect")
        return Reaction.STALE if kind in _COUNTERS_MOVED else Reaction.UPDATED

    def views(self) -> dict[str, QueueView]:
        return {
            name: QueueView(
                name,
                queue.counters,
                tuple(sorted(queue.members.values(), key=lambda m: m.interface)),
                tuple(sorted(queue.callers.values(), key=lambda c: (-c.priority, c.joined_at))),
            )
            for name, queue in sorted(self._queues.items())
        }


_KNOWN = frozenset(name.lower() for name in EVENT_NAMES)


def _caller(event: AMIEvent) -> str | None:
    number = event.get("CallerIDNum")
    return None if number in (None, "", "unknown", "<unknown>") else number
