"""StatsRecorder: the runtime's CallObserver that puts node-hit statistics in the store.

On the call path it only appends the event to a deque (thread-safe, no lock, no I/O). A writer
thread drains the deque every `interval`, turns events into rows (hashing the caller there, not on
the call path) and commits them as one batch. If the database is down or locked, the batch goes to
the fsync'd spool instead, and so does every later batch until the spool has been replayed - so rows
reach the database in the order they were recorded. Replays are retried with exponential backoff.
If the spool cannot be written either (the disk is full), batches wait in memory and both are
tried again. A batch the database refuses (a value it cannot store: no retry would help) is
written in halves, down to the rows it refuses, which alone are set aside in the refused file, in
the spool's format: they neither block the batches behind them nor are lost, and they keep no
other call out of the database. Nothing that goes wrong stops the writer thread.

It is also the personal menus' BookmarkWriter: a caller's bookmark goes the same way, so a database
outage loses no bookmark, and `set_bookmark` returns once it is committed or spooled (the writer
wakes for it at once), so the caller is not told of a change a crash could still lose. What the last run left in the spool is not in the database yet when the
personal menus load from it: they take it from `spooled_events` before the recorder starts.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import sqlalchemy as sa
import structlog

from ivr_engine.metrics import StatsRecorderCounts
from ivr_engine.personal.peer_events import PeerCall, PeerEvent
from ivr_engine.runtime.events import CallEnded, CallStarted, NodeEntered, NodeVisit
from ivr_engine.stats.batch import Batch, BookmarkRow, CallValues, call_row, db_time, visit_values
from ivr_engine.stats.privacy import CallerKeyer
from ivr_engine.stats.spool import SPOOL_FILE, Spool
from ivr_engine.stats.store import StatsStore

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _BookmarkChange:
    row: BookmarkRow
    kept: threading.Event  # set once the batch holding it is committed, spooled or set aside


Event = CallStarted | NodeVisit | CallEnded | _BookmarkChange
UNKNOWN = "unknown"  # flow of a call whose CallStarted the recorder never saw
PURGE_EVERY = 3600.0  # seconds between retention purges
REFUSED_FILE = "stats-refused.jsonl"  # beside the spool; to stats-spool.jsonl, with the engine stopped, replays it
# How long set_bookmark waits for its change to be kept: the runtime gives a bookmark 1 s
# (RuntimeSettings.personalizer_timeout), and a database that hangs rather than fails must not cost
# the caller the confirmation of a change the writer still holds.
BOOKMARK_KEPT_WITHIN = 0.5
# Writes a refused batch may take to find the rows the database refuses: halving a batch of 20,000
# rows finds one in about 30, so a few bad rows keep no good one out of the database, while a batch
# of bad rows only is not written row by row.
SPLIT_ATTEMPTS = 200


@dataclass(slots=True)
class _OpenCall:
    started: CallStarted
    caller_key: str | None
    path: list[str] = field(default_factory=list)
    took_shortcut: bool = False


class StatsRecorder:
    def __init__(
        self,
        store: StatsStore,
        spool_dir: Path,
        *,
        keyer: CallerKeyer | None = None,
        interval: float = 0.1,
        max_batch: int = 20_000,  # events per transaction when behind: bigger batches commit less often
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        retention: dt.timedelta | None = None,
    ) -> None:
        keyer = keyer or store.keyer
        if keyer is None:
            raise ValueError("StatsRecorder needs a CallerKeyer (the store's or its own)")
        self.store = store
        self.keyer = keyer
        self.spool = Spool(Path(spool_dir))
        self.refused_batches = Spool(Path(spool_dir), REFUSED_FILE)
        self.interval = interval
        self.max_batch = max_batch
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.retention = retention  # purge older calls and visits hourly (Settings.stats.retention_days)
        self._purge_at = 0.0
        self.recorded = 0  # visits handed to node_visited
        self.written = 0  # visits committed to the database
        self.spooled = 0  # visits written to the spool
        self.refused = 0  # visits in batches the database refused (in refused_batches)
        self._events: collections.deque[Event] = collections.deque()
        # batches neither committed nor spooled yet, with the bookmark changes waiting for them
        self._unspooled: collections.deque[tuple[Batch, list[threading.Event]]] = collections.deque()
        self._spool_failing = False
        self._open: dict[str, _OpenCall] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()  # a bookmark waits: write now rather than at the next interval
        self._backoff = retry_initial
        self._retry_at = 0.0
        self._thread = threading.Thread(target=self._run, name="stats-writer", daemon=True)

    # --- CallObserver: the call path -----------------------------------------------------------

    def call_started(self, event: CallStarted) -> None:
        self._events.append(event)

    def node_entered(self, event: NodeEntered) -> None:
        """Statistics count a visit once it is complete (on leaving the node)."""

    def node_visited(self, event: NodeVisit) -> None:
        self.recorded += 1
        self._events.append(event)

    def call_ended(self, event: CallEnded) -> None:
        self._events.append(event)

    # --- BookmarkWriter ------------------------------------------------------------------------

    def set_bookmark(self, caller_key: str, flow_id: str, service: str, *, on: bool) -> None:
        """Returns once the change is committed or spooled; after BOOKMARK_KEPT_WITHIN with it
        still in hand (the database hangs, the disk takes no spool), logged, as it is still kept
        in order with the calls around it."""
        at = db_time(dt.datetime.now(dt.UTC))
        kept = threading.Event()
        self._events.append(_BookmarkChange(BookmarkRow(caller_key, flow_id, service, int(on), at), kept))
        if not self._thread.is_alive():
            return  # written when the writer starts, or at close
        self._wake.set()
        if not kept.wait(BOOKMARK_KEPT_WITHIN):
            logger.warning("stats.bookmark_not_kept_yet", within=BOOKMARK_KEPT_WITHIN, flow=flow_id, service=service)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> StatsRecorder:
        self._thread.start()
        return self

    def spooled_events(self, *, unless_stored: bool = True) -> list[PeerEvent]:
        """The calls and bookmark changes in the spool, for personal menus loaded from the store
        before the recorder starts (and so before it replays them); unless_stored: less the calls
        the store holds. A replay that stopped halfway (the database went again, the engine
        stopped) leaves batches in the spool that are in the store too."""
        events = [event for batch in self.spool.read() for event in batch.peer_events()]
        if not unless_stored:
            return events
        stored = self.store.recorded_calls([e.call_id for e in events if isinstance(e, PeerCall)])
        return [e for e in events if not (isinstance(e, PeerCall) and e.call_id in stored)]

    def close(self, timeout: float = 10.0) -> bool:
        """Stop the writer after it has written (or spooled) everything recorded so far.

        Returns False if it did not finish within `timeout`; what it had not written is then lost
        with the process unless the writer still finishes before exit.
        """
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            return not self._thread.is_alive()
        self._drain_all()
        return True

    def counts(self) -> StatsRecorderCounts:
        """For IvrMetrics.watch_stats_recorder."""
        return StatsRecorderCounts(
            recorded=self.recorded, spooled=self.spooled, written=self.written, refused=self.refused
        )

    @property
    def backlog(self) -> int:
        return len(self._events)

    @property
    def unspooled(self) -> int:
        """Visits neither committed nor spooled: held in memory while the disk takes no spool (not
        the batch a healthy write has in hand)."""
        return self._visits_in_hand() if self._spool_failing else 0

    def _visits_in_hand(self) -> int:
        return sum(len(batch.visits) for batch, _ in list(self._unspooled))  # list(): atomic, the writer appends

    # --- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        self._retry_at = time.monotonic() if self.spool.pending else 0.0
        while not self._stop.is_set():
            if len(self._events) < self.max_batch:
                self._wake.wait(self.interval)
                self._wake.clear()
            try:
                self._step()
            except Exception:
                # A bug of ours: the events of this step may be lost, but a dead writer would let
                # every later call pile up in memory unwritten.
                logger.exception("stats writer step failed")
                self._stop.wait(self.retry_initial)
        self._drain_all()

    def _drain_all(self) -> None:
        while self._events:
            self._step()
        if self.spool.pending:
            self._try_replay()
        self._flush()
        if self._unspooled:
            lost = self._visits_in_hand()
            logger.error("stats lost at exit: neither the database nor the spool took them", visits=lost)

    def _step(self) -> None:
        if self.spool.pending and time.monotonic() >= self._retry_at:
            self._try_replay()
        if self.retention is not None and time.monotonic() >= self._purge_at:
            self._purge(self.retention)
        batch, waiting = self._assemble()
        if batch:
            self._unspooled.append((batch, waiting))
        self._flush()

    def _assemble(self) -> tuple[Batch, list[threading.Event]]:
        """Turn up to max_batch events into rows, with the bookmark changes that wait for them. The
        loop runs once per event, so it keeps what it uses in locals."""
        batch, waiting = Batch(), []
        add_visit = batch.visits.append
        open_calls = self._open
        take = self._events.popleft
        for _ in range(min(len(self._events), self.max_batch)):
            e = take()
            if isinstance(e, NodeVisit):
                call = open_calls.get(e.call_id)
                node_id = e.node_id
                if call is None:
                    flow_id = version = UNKNOWN
                    first = True
                else:
                    started, path = call.started, call.path
                    flow_id, version = started.flow_id, started.flow_version
                    first = node_id not in path
                    path.append(node_id)
                    if e.via_shortcut:
                        call.took_shortcut = True
                add_visit(
                    visit_values(
                        e.call_id, e.seq, flow_id, version, node_id, e.node_kind, e.entered_at, e.left_at, e.key,
                        e.timeouts, e.invalid_keys, e.via_shortcut, first,
                    )
                )  # fmt: skip
            elif isinstance(e, CallStarted):
                open_calls[e.call_id] = _OpenCall(e, self.keyer.key_or_none(e.caller))
            elif isinstance(e, CallEnded):
                batch.calls.append(self._call_row(e))
            else:
                batch.bookmarks.append(e.row)
                waiting.append(e.kept)
        return batch, waiting

    def _call_row(self, e: CallEnded) -> CallValues:
        call = self._open.pop(e.call_id, None)
        # A call whose start the recorder never saw (it started before a restart) still counts.
        started = call.started if call else CallStarted(e.call_id, None, UNKNOWN, UNKNOWN, e.ended_at, UNKNOWN)
        row = call_row(
            call_id=e.call_id,
            caller_key=call.caller_key if call else None,
            flow_id=started.flow_id,
            flow_version=started.flow_version,
            started_at=started.started_at,
            ended_at=e.ended_at,
            outcome=e.outcome.value,
            leaf=e.leaf,
            seconds_to_leaf=e.seconds_to_leaf,
            final_node=e.final_node,
            path=call.path if call else [],
            personalized=started.personalized,
            channel=started.channel,
            took_shortcut=call.took_shortcut if call else False,
        )
        # the same values as a plain tuple: the garbage collector stops tracking it (see VisitValues)
        return cast(CallValues, tuple(row))

    def _flush(self) -> None:
        """Commit the batches in hand, or spool them. While older batches wait in the spool, newer
        ones queue behind them to keep the order; while the spool cannot be written, in memory."""
        while self._unspooled:
            batch, waiting = self._unspooled[0]
            left: Batch | None = batch
            if not (self.spool.pending or time.monotonic() < self._retry_at):
                left = self._write(batch)
            if left is not None and not self._spool(left):
                self._unspooled[0] = (left, waiting)
                return
            self._unspooled.popleft()
            for kept in waiting:
                kept.set()

    def _write(self, batch: Batch) -> Batch | None:
        """Commit the batch (`_commit`); what is left of it if the database is unavailable."""
        failed = self._commit(batch)
        if failed is None:
            return None
        error, left = failed
        logger.warning("stats database unavailable, spooling", error=_first_line(error))
        self._retry_at = time.monotonic() + self._backoff
        return left

    def _commit(self, batch: Batch) -> tuple[Exception, Batch] | None:
        """Commit the batch. The rows of one the database refuses are committed in halves, and
        those it refuses are set aside, together (after SPLIT_ATTEMPTS writes, each part it still
        refuses is set aside whole). If the database is unavailable (or a bug of ours fails the
        write, which must not lose the batch either): the error and the rows not committed, in
        order."""
        todo, refused, why = [batch], list[Batch](), None  # todo: a stack, the next part on top
        attempts = 0
        try:
            while todo:
                part = todo.pop()
                attempts += 1
                try:
                    self.store.write_batch(part)
                except (sa.exc.DataError, sa.exc.IntegrityError) as exc:
                    halves = part.halves() if attempts < SPLIT_ATTEMPTS else None
                    if halves is None:
                        refused.append(part)
                        why = why or exc
                    else:
                        todo += reversed(halves)
                    continue
                except Exception as exc:
                    return exc, Batch.joined([part, *reversed(todo)])
                self.written += len(part.visits)
            return None
        finally:
            if why is not None:
                self._set_aside(Batch.joined(refused), why)

    def _spool(self, batch: Batch) -> bool:
        try:
            self.spool.append(batch)
        except OSError as exc:
            if not self._spool_failing:
                logger.error("stats spool cannot be written, keeping batches in memory", error=str(exc))
            self._spool_failing = True
            self._retry_at = time.monotonic() + self._backoff
            return False
        if self._spool_failing:
            logger.info("stats spool written again", held=len(self._unspooled))
        self._spool_failing = False
        self.spooled += len(batch.visits)
        return True

    def _set_aside(self, batch: Batch, exc: Exception) -> None:
        try:
            self.refused_batches.append(batch)
        except OSError:
            logger.exception("stats batch refused and cannot be set aside: lost", visits=len(batch.visits))
            return
        self.refused += len(batch.visits)
        logger.error(
            "stats batch refused by the database, set aside",
            error=_first_line(exc),
            visits=len(batch.visits),
            calls=len(batch.calls),
            bookmarks=len(batch.bookmarks),
            kept_in=str(self.refused_batches.path),
            replay_by=f"moving it to {SPOOL_FILE} while the engine is stopped, once the cause is fixed",
        )

    def _purge(self, retention: dt.timedelta) -> None:
        self._purge_at = time.monotonic() + PURGE_EVERY
        try:
            result = self.store.purge(dt.datetime.now(dt.UTC) - retention)
        except sa.exc.SQLAlchemyError as exc:
            logger.warning("stats retention purge failed", error=str(exc).splitlines()[0])
            return
        if result.calls or result.visits:
            logger.info(
                "stats retention purge", calls=result.calls, visits=result.visits, before=result.cutoff.isoformat()
            )

    def _try_replay(self) -> None:
        try:
            self._replay()
        except Exception:  # reading the spool failed: what calls record now must still be taken
            self._backoff = min(self._backoff * 2, self.retry_max)
            self._retry_at = time.monotonic() + self._backoff
            logger.exception("stats spool replay failed", retry_in=self._backoff)

    def _replay(self) -> None:
        replayed = 0
        for batch, end in self.spool.entries():
            failed = self._commit(batch)
            if failed is not None:
                error, _ = failed  # the whole batch is replayed again: calls and visits are replay-safe
                self._backoff = min(self._backoff * 2, self.retry_max)
                self._retry_at = time.monotonic() + self._backoff
                logger.warning("stats spool replay failed", error=_first_line(error), retry_in=self._backoff)
                return
            if batch.bookmarks:
                # Calls and visits are replay-safe; a bookmark row written again would undo what
                # the caller has changed since, so the next attempt starts after it.
                self.spool.replayed_to(end)
            replayed += 1
        self.spool.clear()
        self._backoff = self.retry_initial
        logger.info("stats spool replayed", batches=replayed)


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
