"""The statistics database: open (and migrate) it, write batches idempotently, purge, and answer
what personal menus need (PersonalHistory).

Idempotence: visits are keyed (call_id, seq) and calls call_id, both inserted with ON CONFLICT DO
NOTHING, so the insert itself says which rows are new: by its count when all are (the usual case),
otherwise the batch is rolled back and written again RETURNING the keys of the rows it created.
The hourly node figures and the caller-to-leaf counts are added in the same transaction from those
rows only, so replaying a batch - after a crash, from the spool, or a re-import - never counts a
visit or a call twice.

Several engine nodes on one PostgreSQL store: in the transaction that records them, new calls at
a leaf and bookmark changes are announced with NOTIFY (`ivr_engine/personal/peer_events.py`), so
every node's personal menus hear of them at commit, and a replay announces nothing new. A new call
that ended more than CATCH_UP_MARGIN before it is written is also noted as late (`LateCall`), for
the nodes that were not listening when it was announced.

Ingest speed: the writer goes through the DB-API cursor with rows as tuples in column order, many
rows per INSERT statement; the figures are summed in Python per batch, one upsert row per group.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from ivr_engine.personal.history import FlowHistory, ServiceUse
from ivr_engine.personal.peer_events import CATCH_UP_MARGIN, CHANNEL, PeerBookmark, PeerCall, PeerEvent, encode
from ivr_engine.stats.batch import (
    Batch,
    BookmarkRow,
    CallRow,
    CallValues,
    VisitRow,
    VisitValues,
    db_time,
    db_time_seconds,
)
from ivr_engine.stats.models import VERSION_TABLE, Base, Bookmark, Call, CallerLeaf, LateCall, NodeHour, Visit
from ivr_engine.stats.privacy import CallerKeyer, CallerSecretError

SQLITE_BUSY_TIMEOUT = 5.0
PG_CONNECT_TIMEOUT = 5  # seconds; libpq takes whole seconds
_HOUR_KEYS = ("flow_id", "flow_version", "hour", "node_id", "key")
_HOUR_SUMS = ("hits", "calls", "timeouts", "invalid_keys", "via_shortcut", "seconds")
_LEAF_KEYS = ("caller_key", "flow_id", "leaf")
WRITER_LOCK = 0x1F5_7A75  # PostgreSQL advisory lock id of statistics writers
# Rows go to the database as INSERT ... VALUES (...), (...) of up to this many rows, upserts too:
# fewer statements than rows is most of the gain over executemany. Longer statements gain nothing
# more and cost more to compile, since each batch ends with a shorter one seen for the first time
# (2,340-row statements, SQLite's limit, took a fifth more instructions to write a batch than 200).
# 200 x 14 columns is far under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
ROWS_PER_STATEMENT = 200
# Calls are looked up by when they ended through the (flow_id, started_at) index, so a call is
# taken to end within this long of its start; Asterisk and the queues hang up far sooner.
LONGEST_CALL = dt.timedelta(days=1)

Row = TypeVar("Row", bound=tuple[Any, ...])  # a visit or a call row


class StatsStoreError(Exception):
    """The statistics database cannot be used as configured; the message names the URL."""


def database_url(value: str) -> str:
    """What commands take for a statistics database: a SQLAlchemy URL, or the path of a SQLite file."""
    return value if "://" in value else f"sqlite:///{value}"


def database_reason(exc: sa.exc.SQLAlchemyError) -> str:
    """The driver's own first line ("no such table: stats_calls"), without the SQL statement."""
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]


@dataclass(frozen=True, slots=True)
class WriteResult:
    visits: int  # visits in the batch (committed, whether new or replayed)
    new_calls: int  # call rows this write created


@dataclass(frozen=True, slots=True)
class PurgeResult:
    calls: int
    visits: int
    caller_leaf: int
    cutoff: dt.datetime  # what was purged is before this: the time asked for, rounded down to the hour


# The sqlite3 module binds only exact int, float, str and bytearray directly; a bool or None first
# goes through its adapter protocol, which, with no adapter registered, looks for __adapt__ and
# __conform__ and builds the errors of both lookups: that took nearly half the time of binding a
# batch. These adapters bind what it would bind anyway (1/0, NULL), from its adapter registry. (The
# recorder's rows carry their flags as 0/1 and skip even that.)
sqlite3.register_adapter(bool, int)
sqlite3.register_adapter(type(None), lambda _: None)


def _sqlite_pragmas(busy_timeout: float) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives a crash of
        # the process; a power cut or OS crash can lose the commits since the last checkpoint, never
        # the database's integrity. Statistics can take that; FULL, an fsync of the WAL per commit,
        # made the writer half as slow again under bench/stats_ingest.py's load.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    return on_connect


def create_stats_engine(url: str, *, busy_timeout: float = SQLITE_BUSY_TIMEOUT, create: bool = True) -> Engine:
    """The engine for `url`. `create=False` refuses a SQLite file that does not exist, which SQLite
    would otherwise create (with its folders, made here), so that a mistyped path is an error."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise StatsStoreError(f"{url!r} is not a database URL (e.g. sqlite:///var/stats.db)") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            if not create and not Path(parsed.database).is_file():
                raise StatsStoreError(f"{parsed.render_as_string()}: no such database")
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": busy_timeout})
        sa.event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
        return engine
    if backend == "postgresql":
        # pre_ping: after the server restarts, pooled connections are dead; find out before using one.
        # libpq waits for a connection without end by default: a server host gone silent would hold
        # the writer and the health check; a connect_timeout in the URL still wins.
        timeout = {} if "connect_timeout" in parsed.query else {"connect_timeout": PG_CONNECT_TIMEOUT}
        return sa.create_engine(parsed, pool_pre_ping=True, connect_args=timeout)
    raise StatsStoreError(f"{parsed.render_as_string()}: statistics support SQLite and PostgreSQL only")


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`, the newest by default (a no-op when it is there already)."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("ivr_engine.stats") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


class _SeenBefore(Exception):
    """Some rows of the batch are stored already (or in it twice): a replay."""


class _Values:
    """INSERT rows (tuples in column order) `clause`, ROWS_PER_STATEMENT rows per statement."""

    def __init__(self, store: StatsStore, table: str, columns: tuple[str, ...], clause: str) -> None:
        self.store = store
        self.table = table
        self.columns = columns
        self.clause = clause
        self.full = self.sql(ROWS_PER_STATEMENT)

    def sql(self, rows: int) -> str:
        return f"{self.store.insert_sql(self.table, self.columns, rows)} {self.clause}"

    def statements(self, rows: Sequence[Row]) -> Iterator[tuple[str, list[Any], Sequence[Row]]]:
        """(SQL, parameters, rows) of each statement."""
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            sql = self.full if len(chunk) == ROWS_PER_STATEMENT else self.sql(len(chunk))
            yield sql, [*chain.from_iterable(chunk)], chunk

    def __call__(self, cursor: Any, rows: Sequence[Row]) -> None:
        for sql, parameters, _ in self.statements(rows):
            cursor.execute(sql, parameters)


class _NewRows(_Values):
    """Insert rows (key columns first) with ON CONFLICT DO NOTHING and return the rows this insert
    created, each once.

    A fresh batch, the usual case, is checked by the count of rows inserted; learning which rows
    are new (RETURNING their keys) costs SQLite about a fifth more, so only a replay does it.
    """

    def __init__(self, store: StatsStore, table: str, columns: tuple[str, ...], key_columns: int) -> None:
        super().__init__(store, table, columns, "ON CONFLICT DO NOTHING")
        self.key_columns = key_columns
        self.returning = f" RETURNING {', '.join(columns[:key_columns])}"

    def new(self, cursor: Any, rows: Sequence[Row], *, replay: bool) -> Sequence[Row]:
        """Raises _SeenBefore unless `replay` or every row is new."""
        if not replay:
            for sql, parameters, chunk in self.statements(rows):
                cursor.execute(sql, parameters)
                if cursor.rowcount != len(chunk):
                    raise _SeenBefore
            return rows
        created: list[Row] = []
        for sql, parameters, chunk in self.statements(rows):
            cursor.execute(sql + self.returning, parameters)
            fresh = {tuple(key) for key in cursor.fetchall()}
            for row in chunk:
                key = tuple(row[: self.key_columns])
                if key in fresh:  # a key twice in one batch was inserted (and counts) once
                    fresh.remove(key)
                    created.append(row)
        return created


class StatsStore:
    def __init__(self, engine: Engine, keyer: CallerKeyer | None = None, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.keyer = keyer
        self.clock = clock  # unix time; what makes a call written late (LateCall), when a bookmark was set
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        # The recorder's rows carry flags as 0/1 (see batch.VisitValues); PostgreSQL takes an integer
        # into a boolean column only cast, and from int4 only (psycopg sends a small int as int2).
        flag = mark if self.dialect == "sqlite" else f"{mark}::int::boolean"
        self._marks = {
            (t.name, c.name): flag if isinstance(c.type, sa.Boolean) else mark
            for t in Base.metadata.tables.values()
            for c in t.columns
        }
        self._new_visits = _NewRows(self, Visit.__tablename__, VisitRow._fields, key_columns=2)
        self._new_calls = _NewRows(self, Call.__tablename__, CallRow._fields, key_columns=1)
        self._add_hours = self._upsert(NodeHour.__tablename__, _HOUR_KEYS, ("kind",), _HOUR_SUMS)
        self._add_late = _Values(self, LateCall.__tablename__, ("call_id", "flow_id", "recorded_at"), "")
        leaves = CallerLeaf.__tablename__
        self._add_leaves = self._upsert(
            leaves, _LEAF_KEYS, ("last_seen",), ("count",),
            f", last_seen = CASE WHEN excluded.last_seen > {leaves}.last_seen THEN excluded.last_seen"
            f" ELSE {leaves}.last_seen END",
        )  # fmt: skip

    def insert_sql(self, table: str, columns: tuple[str, ...], rows: int = 1) -> str:
        one_row = f"({', '.join(self._marks[table, c] for c in columns)})"
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(one_row for _ in range(rows))}"

    def _upsert(
        self, table: str, keys: tuple[str, ...], kept: tuple[str, ...], sums: tuple[str, ...], more: str = ""
    ) -> _Values:
        """Insert, or add `sums` to the row with the same `keys` (`kept` columns as first written).
        The rows of one call must have distinct keys (PostgreSQL updates a row once per statement)."""
        added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in sums)
        return _Values(
            self, table, (*keys, *kept, *sums), f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}{more}"
        )

    @classmethod
    def open(
        cls,
        url: str,
        *,
        keyer: CallerKeyer | None = None,
        run_migrations: bool = True,
        busy_timeout: float = SQLITE_BUSY_TIMEOUT,
        create: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> StatsStore:
        """The store at `url`, its schema brought up to date. `create=False` (for what only reads):
        a database that does not exist, or holds no statistics schema, is a StatsStoreError rather
        than made empty; an existing schema is still upgraded."""
        engine = create_stats_engine(url, busy_timeout=busy_timeout, create=create)
        if not create:
            try:
                found = sa.inspect(engine).has_table(VERSION_TABLE)
            except sa.exc.OperationalError as exc:
                engine.dispose()
                raise StatsStoreError(f"{engine.url.render_as_string()}: {database_reason(exc)}") from None
            if not found:
                engine.dispose()
                raise StatsStoreError(
                    f"{engine.url.render_as_string()}: no such database: it holds no statistics"
                    " (`ivr stats migrate` or `ivr stats import` creates them)"
                )
        if run_migrations:
            try:
                migrate(engine)
            except sa.exc.OperationalError as exc:
                engine.dispose()
                raise StatsStoreError(f"{engine.url.render_as_string()}: cannot migrate: {exc.orig}") from None
        return cls(engine, keyer, clock)

    def close(self) -> None:
        self.engine.dispose()

    def check(self, timeout: float = 2.0) -> None:
        """Raise SQLAlchemyError unless every statistics table can be read. Cheap enough for a health
        check polled every few seconds: LIMIT 0 reads no row, yet the table must be there."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":  # LOCAL: for this transaction, not the pooled connection
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
            for table in Base.metadata.sorted_tables:
                conn.execute(sa.select(sa.literal(1)).select_from(table).limit(0))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def announces(self) -> bool:
        """Whether what this store records is announced to other engine nodes (PostgreSQL: the
        shared store of several nodes; SQLite serves one)."""
        return self.dialect == "postgresql"

    # --- writing -----------------------------------------------------------------------------

    def write_batch(self, batch: Batch) -> WriteResult:
        try:
            return self._write(batch, replay=False)
        except _SeenBefore:  # rolled back; write it again, this time learning which rows are new
            return self._write(batch, replay=True)

    def _write(self, batch: Batch, *, replay: bool) -> WriteResult:
        with self.engine.begin() as conn:
            self._lock_writers(conn)
            cursor = conn.connection.cursor()
            try:
                self._add_node_hours(cursor, self._new_visits.new(cursor, batch.visits, replay=replay))
                new_calls = self._new_calls.new(cursor, batch.calls, replay=replay)
                self._count_leaves(cursor, new_calls)
            except self.engine.dialect.loaded_dbapi.Error as exc:
                # The raw cursor raises the driver's own errors; callers (the recorder) tell an
                # unavailable database from a refused batch by SQLAlchemy's classes, as elsewhere.
                raise sa.exc.DBAPIError.instance(
                    "stats batch", None, exc, self.engine.dialect.loaded_dbapi.Error, dialect=self.engine.dialect
                ) from exc
            finally:
                cursor.close()
            self._set_bookmarks(conn, batch.bookmarks)
        return WriteResult(visits=len(batch.visits), new_calls=len(new_calls))

    def _lock_writers(self, conn: Connection) -> None:
        """One writer at a time, so that the hourly figures and caller counts, read-modify-write
        upserts, add up whatever the isolation level."""
        if self.dialect == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))

    def _add_node_hours(self, cursor: Any, visits: Sequence[VisitValues]) -> None:
        sums: dict[tuple[str, str, str, str, str], list[Any]] = {}
        for (
            _, _, flow_id, version, node_id, kind, entered_at, _, seconds, key, timeouts, invalid, via, first,
        ) in visits:  # fmt: skip
            group = (flow_id, version, entered_at[:13], node_id, key or "")
            into = sums.get(group)
            if into is None:
                into = sums[group] = [kind, 0, 0, 0, 0, 0, 0.0]
            into[1] += 1
            into[2] += first
            into[3] += timeouts
            into[4] += invalid
            into[5] += via
            into[6] += seconds
        if sums:
            rows = [(f, v, f"{hour}:00:00.000000", n, k, *figures) for (f, v, hour, n, k), figures in sums.items()]
            self._add_hours(cursor, sorted(rows))  # hour: db_time cut to the hour

    def _count_leaves(self, cursor: Any, new_calls: Sequence[CallValues]) -> None:
        counts: dict[tuple[str, str, str], list[Any]] = {}
        announced: list[PeerEvent] = []
        late: list[tuple[str, str, str]] = []
        announce = self.announces  # once per batch: this loop is the writer's
        now = self.clock()
        recorded = db_time(dt.datetime.fromtimestamp(now, dt.UTC))
        late_before = db_time(dt.datetime.fromtimestamp(now - CATCH_UP_MARGIN, dt.UTC))
        for call_id, caller_key, flow_id, _, _, ended_at, _, leaf, *_ in new_calls:
            if caller_key and leaf:
                into = counts.setdefault((caller_key, flow_id, leaf), [0, ended_at])
                into[0] += 1
                into[1] = max(into[1], ended_at)  # db_time strings sort as times
                if announce:
                    announced.append(PeerCall(call_id, caller_key, flow_id, leaf, db_time_seconds(ended_at)))
                    if ended_at < late_before:
                        late.append((call_id, flow_id, recorded))
        if counts:
            self._add_leaves(cursor, [(*k, last, n) for k, (n, last) in sorted(counts.items())])
        self._add_late(cursor, late)
        self._announce(cursor, announced)

    def _announce(self, cursor: Any, events: Sequence[PeerEvent]) -> None:
        for payload in encode(events):
            cursor.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    def purge(self, older_than: dt.datetime) -> PurgeResult:
        """Delete calls started, visits entered and caller counts last seen before `older_than`,
        rounded down to the hour so the hourly node figures keep matching the visits.

        Bookmarks stay: the caller made them on purpose and removes them with the bookmark key.
        """
        older_than = older_than.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        with self.engine.begin() as conn:
            conn.execute(sa.delete(NodeHour).where(NodeHour.hour < older_than))
            visits = conn.execute(sa.delete(Visit).where(Visit.entered_at < older_than)).rowcount
            # from the few late rows, each a key lookup of its call
            purged = sa.exists().where(Call.call_id == LateCall.call_id, Call.started_at < older_than)
            conn.execute(sa.delete(LateCall).where(purged))
            calls = conn.execute(sa.delete(Call).where(Call.started_at < older_than)).rowcount
            leaves = conn.execute(sa.delete(CallerLeaf).where(CallerLeaf.last_seen < older_than)).rowcount
        return PurgeResult(calls=calls, visits=visits, caller_leaf=leaves, cutoff=older_than)

    # --- PersonalHistory ---------------------------------------------------------------------

    def caller_key(self, number: str) -> str:
        if self.keyer is None:
            raise CallerSecretError("this statistics store was opened without a caller-hash secret")
        return self.keyer.key(number)

    def service_uses(self, flow_id: str) -> Iterator[ServiceUse]:
        with self.engine.connect() as conn:
            yield from self._service_uses(conn, flow_id)

    @staticmethod
    def _service_uses(conn: Connection, flow_id: str) -> Iterator[ServiceUse]:
        for row in conn.execute(sa.select(CallerLeaf).where(CallerLeaf.flow_id == flow_id)).mappings():
            yield ServiceUse(row["caller_key"], row["leaf"], row["count"], row["last_seen"])

    def bookmarks(self, flow_id: str) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return self._bookmarks(conn, flow_id)

    def bookmarks_of(self, caller_key: str, flow_id: str) -> set[str]:
        query = sa.select(Bookmark.node_id).where(Bookmark.caller_key == caller_key, Bookmark.flow_id == flow_id)
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    @staticmethod
    def _bookmarks(conn: Connection, flow_id: str) -> list[tuple[str, str]]:
        query = sa.select(Bookmark.caller_key, Bookmark.node_id).where(Bookmark.flow_id == flow_id)
        return [(c, n) for c, n in conn.execute(query.order_by(Bookmark.created))]

    @contextlib.contextmanager
    def history(self, flow_id: str, counted_since: dt.datetime | None = None) -> Iterator[FlowHistory]:
        # One snapshot, so that the calls `counted` names are exactly those of its period the counts
        # include, while the recorder and other nodes go on writing: a REPEATABLE READ transaction
        # on PostgreSQL; on SQLite an explicit BEGIN, as pysqlite begins none before a SELECT and
        # each read would see the database as it is then (in WAL mode the writer is not held up).
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                if self.dialect == "sqlite":
                    conn.exec_driver_sql("BEGIN")
                counted: list[str] = []
                if counted_since is not None:
                    ended = sa.select(Call.call_id).where(*self._ended_since([flow_id], counted_since))
                    counted = list(conn.execute(sa.union(ended, self._late_since([flow_id], counted_since))).scalars())
                yield FlowHistory(self._service_uses(conn, flow_id), self._bookmarks(conn, flow_id), counted)

    def calls_since(self, flow_ids: Sequence[str], since: dt.datetime) -> list[PeerCall]:
        """The calls that ended since, and those that ended earlier but were written since (late):
        a node away while either was announced counts it now."""
        query = sa.select(Call.call_id, Call.caller_key, Call.flow_id, Call.leaf, Call.ended_at)
        ended = query.where(*self._ended_since(flow_ids, since))
        # two indexed reads that never meet (a UNION ALL), where an OR across the tables would scan every call
        late = query.where(Call.call_id.in_(self._late_since(flow_ids, since)), Call.ended_at < since)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.union_all(ended, late).order_by("ended_at"))
            return [PeerCall(c, k, f, leaf, ended.timestamp()) for c, k, f, leaf, ended in rows]

    def recorded_calls(self, call_ids: Sequence[str]) -> set[str]:
        """Those of these calls the store holds."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(call_ids), ROWS_PER_STATEMENT):
                chunk = call_ids[i : i + ROWS_PER_STATEMENT]
                found.update(conn.execute(sa.select(Call.call_id).where(Call.call_id.in_(chunk))).scalars())
        return found

    @staticmethod
    def _late_since(flow_ids: Sequence[str], since: dt.datetime) -> sa.Select[tuple[str]]:
        """Ids of the calls written late (`LateCall`) since `since`: counted calls, all of them."""
        return sa.select(LateCall.call_id).where(LateCall.flow_id.in_(flow_ids), LateCall.recorded_at >= since)

    @staticmethod
    def _ended_since(flow_ids: Sequence[str], since: dt.datetime) -> list[sa.ColumnElement[bool]]:
        """Calls that count for a caller (`_count_leaves`) and ended at or after `since`."""
        return [
            Call.flow_id.in_(flow_ids),
            Call.started_at >= since - LONGEST_CALL,
            Call.ended_at >= since,
            Call.caller_key.is_not(None),
            Call.leaf.is_not(None),
        ]

    def add_bookmark(self, caller_key: str, flow_id: str, service: str) -> None:
        self.set_bookmark(caller_key, flow_id, service, on=True)

    def remove_bookmark(self, caller_key: str, flow_id: str, service: str) -> None:
        self.set_bookmark(caller_key, flow_id, service, on=False)

    def set_bookmark(self, caller_key: str, flow_id: str, service: str, *, on: bool) -> None:
        """Now, in the database (a BookmarkWriter that fails while the database is down)."""
        row = BookmarkRow(caller_key, flow_id, service, int(on), db_time(dt.datetime.fromtimestamp(self.clock(), dt.UTC)))
        with self.engine.begin() as conn:
            self._set_bookmarks(conn, [row])

    def _set_bookmarks(self, conn: Connection, rows: Sequence[BookmarkRow]) -> None:
        """In order. Each sets a state rather than toggling one, and only a change is announced: a
        replay changes and announces nothing, unless a later batch changed the same bookmark again
        (it is set back, then forward, as announced)."""
        for caller_key, flow_id, service, on, at in rows:
            if on:
                created = dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC)
                row = {"caller_key": caller_key, "flow_id": flow_id, "node_id": service, "created": created}
                change = self._insert(Bookmark).values(row).on_conflict_do_nothing()
            else:
                key = (Bookmark.caller_key == caller_key) & (Bookmark.flow_id == flow_id)
                change = sa.delete(Bookmark).where(key, Bookmark.node_id == service)
            # RETURNING, since an INSERT's rowcount through SQLAlchemy on psycopg is -1
            if conn.execute(change.returning(Bookmark.node_id)).first() is not None:
                self._announce_bookmark(conn, PeerBookmark(caller_key, flow_id, service, on=bool(on)))

    def _announce_bookmark(self, conn: Connection, event: PeerBookmark) -> None:
        if self.announces:
            cursor = conn.connection.cursor()
            try:
                self._announce(cursor, [event])
            finally:
                cursor.close()
