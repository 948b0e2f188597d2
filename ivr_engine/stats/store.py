"""The statistics database: open (and migrate) it, write batches idempotently, purge, and answer
what personal menus need (PersonalHistory).

Idempotence: visits are keyed (call_id, seq) and calls call_id, both inserted with ON CONFLICT DO
NOTHING. The caller-to-leaf counts are bumped in the same transaction only for call rows that this
insert actually created (RETURNING), so replaying a batch - after a crash, from the spool, or a
re-import - never counts a call twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from ivr_engine.personal.history import ServiceUse
from ivr_engine.stats.batch import Batch, CallRow, VisitRow
from ivr_engine.stats.models import Bookmark, Call, CallerLeaf, NodeHour, Visit
from ivr_engine.stats.privacy import CallerKeyer, CallerSecretError

SQLITE_BUSY_TIMEOUT = 5.0
_HOUR_KEYS = ("flow_id", "flow_version", "hour", "node_id", "key")
_HOUR_SUMS = ("hits", "calls", "timeouts", "invalid_keys", "via_shortcut", "seconds")
WRITER_LOCK = 0x1F5_7A75  # PostgreSQL advisory lock id of statistics writers
IDS_PER_QUERY = 500
# Calls per INSERT ... VALUES (...), (...) RETURNING: 13 columns x 1000 stays under SQLite's 32766
# bound parameters.
CALLS_PER_STATEMENT = 1000


class StatsStoreError(Exception):
    """The statistics database cannot be used as configured; the message names the URL."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    visits: int  # visits in the batch (committed, whether new or replayed)
    new_calls: int  # call rows this write created


@dataclass(frozen=True, slots=True)
class PurgeResult:
    calls: int
    visits: int
    caller_leaf: int


def _from_db_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _sqlite_pragmas(busy_timeout: float) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    return on_connect


def create_stats_engine(url: str, *, busy_timeout: float = SQLITE_BUSY_TIMEOUT) -> Engine:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise StatsStoreError(f"{url!r} is not a database URL (e.g. sqlite:///var/stats.db)") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": busy_timeout})
        sa.event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
        return engine
    if backend == "postgresql":
        # pre_ping: after the server restarts, pooled connections are dead; find out before using one.
        return sa.create_engine(parsed, pool_pre_ping=True)
    raise StatsStoreError(f"{parsed.render_as_string()}: statistics support SQLite and PostgreSQL only")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("ivr_engine.stats") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class StatsStore:
    def __init__(self, engine: Engine, keyer: CallerKeyer | None = None) -> None:
        self.engine = engine
        self.keyer = keyer
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._visit_sql = f"{self._insert_sql(Visit.__tablename__, VisitRow._fields)} ON CONFLICT DO NOTHING"
        hours = NodeHour.__tablename__
        self._hours_sql = (
            f"{self._insert_sql(hours, (*_HOUR_KEYS, 'kind', *_HOUR_SUMS))} ON CONFLICT ({', '.join(_HOUR_KEYS)})"
            f" DO UPDATE SET {', '.join(f'{c} = {hours}.{c} + excluded.{c}' for c in _HOUR_SUMS)}"
        )

    def _placeholders(self, count: int) -> str:
        return ", ".join(self._mark for _ in range(count))

    def _insert_sql(self, table: str, columns: tuple[str, ...], rows: int = 1) -> str:
        one_row = f"({self._placeholders(len(columns))})"
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(one_row for _ in range(rows))}"

    @classmethod
    def open(
        cls,
        url: str,
        *,
        keyer: CallerKeyer | None = None,
        run_migrations: bool = True,
        busy_timeout: float = SQLITE_BUSY_TIMEOUT,
    ) -> StatsStore:
        engine = create_stats_engine(url, busy_timeout=busy_timeout)
        if run_migrations:
            try:
                migrate(engine)
            except sa.exc.OperationalError as exc:
                engine.dispose()
                raise StatsStoreError(f"{engine.url.render_as_string()}: cannot migrate: {exc.orig}") from None
        return cls(engine, keyer)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # --- writing -----------------------------------------------------------------------------

    def write_batch(self, batch: Batch) -> WriteResult:
        with self.engine.begin() as conn:
            self._lock_writers(conn)
            if batch.visits:
                new_visits = self._new_visits(conn, batch.visits)
                if new_visits:
                    self._insert_visits(conn, new_visits)
                    self._add_node_hours(conn, new_visits)
            new_calls = self._insert_calls(conn, batch.calls) if batch.calls else []
            self._count_leaves(conn, new_calls)
        return WriteResult(visits=len(batch.visits), new_calls=len(new_calls))

    def _lock_writers(self, conn: Connection) -> None:
        """One writer at a time, so that which visits are new (and so what the hourly figures add)
        cannot change between looking and inserting."""
        if self.dialect == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))

    def _new_visits(self, conn: Connection, visits: list[VisitRow]) -> list[VisitRow]:
        """The visits of the batch not in the table yet (a replay may repeat any of them)."""
        call_ids = sorted({v.call_id for v in visits})
        stored: set[tuple[str, int]] = set()
        for start in range(0, len(call_ids), IDS_PER_QUERY):
            chunk = call_ids[start : start + IDS_PER_QUERY]
            sql = f"SELECT call_id, seq FROM {Visit.__tablename__} WHERE call_id IN ({self._placeholders(len(chunk))})"
            stored.update((call_id, seq) for call_id, seq in conn.exec_driver_sql(sql, tuple(chunk)))
        fresh = {(v.call_id, v.seq): v for v in visits if (v.call_id, v.seq) not in stored}
        return list(fresh.values())

    def _add_node_hours(self, conn: Connection, visits: list[VisitRow]) -> None:
        sums: dict[tuple[str, str, str, str, str], list[Any]] = {}
        for v in visits:
            hour = v.entered_at[:13] + ":00:00.000000"  # db_time cut to the hour
            group = (v.flow_id, v.flow_version, hour, v.node_id, v.key or "")
            into = sums.get(group)
            if into is None:
                into = sums[group] = [v.kind, 0, 0, 0, 0, 0, 0.0]
            into[1] += 1
            into[2] += v.first_in_call
            into[3] += v.timeouts
            into[4] += v.invalid_keys
            into[5] += v.via_shortcut
            into[6] += v.seconds
        conn.exec_driver_sql(self._hours_sql, [(*k, *figures) for k, figures in sorted(sums.items())])

    def _insert_visits(self, conn: Connection, visits: list[VisitRow]) -> None:
        """Visits are most of the rows: sent straight to the driver (VisitRow is in column order, times
        preformatted), because SQLAlchemy's per-value type processing costs more than the insert."""
        conn.exec_driver_sql(self._visit_sql, visits)  # type: ignore[arg-type]

    def _insert_calls(self, conn: Connection, calls: list[CallRow]) -> list[CallRow]:
        """Insert the calls; returns those that were not in the table before."""
        created: set[str] = set()
        for start in range(0, len(calls), CALLS_PER_STATEMENT):
            chunk = calls[start : start + CALLS_PER_STATEMENT]
            sql = f"{self._insert_sql(Call.__tablename__, CallRow._fields, len(chunk))}"
            sql += " ON CONFLICT DO NOTHING RETURNING call_id"
            params = tuple(value for row in chunk for value in row)
            created.update(call_id for (call_id,) in conn.exec_driver_sql(sql, params))
        return [row for row in calls if row.call_id in created]

    def _count_leaves(self, conn: Connection, new_calls: list[CallRow]) -> None:
        counts: dict[tuple[str, str, str], tuple[int, str]] = {}
        for row in new_calls:
            if row.caller_key and row.leaf:
                k = (row.caller_key, row.flow_id, row.leaf)
                count, last = counts.get(k, (0, row.ended_at))
                counts[k] = (count + 1, max(last, row.ended_at))  # db_time strings sort as times
        if not counts:
            return
        rows = [
            {"caller_key": c, "flow_id": f, "leaf": leaf, "count": n, "last_seen": _from_db_time(last)}
            for (c, f, leaf), (n, last) in sorted(counts.items())
        ]
        stmt = self._insert(CallerLeaf)
        table = CallerLeaf.__table__.c
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.caller_key, table.flow_id, table.leaf],
            set_={
                "count": table.count + stmt.excluded.count,
                "last_seen": sa.case(
                    (stmt.excluded.last_seen > table.last_seen, stmt.excluded.last_seen),
                    else_=table.last_seen,
                ),
            },
        )
        conn.execute(stmt, rows)

    def purge(self, older_than: dt.datetime) -> PurgeResult:
        """Delete calls started, visits entered and caller counts last seen before `older_than`,
        rounded down to the hour so the hourly node figures keep matching the visits.

        Bookmarks stay: the caller made them on purpose and removes them with the bookmark key.
        """
        older_than = older_than.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        with self.engine.begin() as conn:
            conn.execute(sa.delete(NodeHour).where(NodeHour.hour < older_than))
            visits = conn.execute(sa.delete(Visit).where(Visit.entered_at < older_than)).rowcount
            calls = conn.execute(sa.delete(Call).where(Call.started_at < older_than)).rowcount
            leaves = conn.execute(sa.delete(CallerLeaf).where(CallerLeaf.last_seen < older_than)).rowcount
        return PurgeResult(calls=calls, visits=visits, caller_leaf=leaves)

    # --- PersonalHistory ---------------------------------------------------------------------

    def caller_key(self, number: str) -> str:
        if self.keyer is None:
            raise CallerSecretError("this statistics store was opened without a caller-hash secret")
        return self.keyer.key(number)

    def service_uses(self, flow_id: str) -> Iterator[ServiceUse]:
        query = sa.select(CallerLeaf).where(CallerLeaf.flow_id == flow_id)
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                yield ServiceUse(row["caller_key"], row["leaf"], row["count"], row["last_seen"])

    def bookmarks(self, flow_id: str) -> list[tuple[str, str]]:
        query = sa.select(Bookmark.caller_key, Bookmark.node_id).where(Bookmark.flow_id == flow_id)
        with self.engine.connect() as conn:
            return [(c, n) for c, n in conn.execute(query.order_by(Bookmark.created))]

    def add_bookmark(self, caller_key: str, flow_id: str, service: str) -> None:
        row = {"caller_key": caller_key, "flow_id": flow_id, "node_id": service, "created": dt.datetime.now(dt.UTC)}
        with self.engine.begin() as conn:
            conn.execute(self._insert(Bookmark).on_conflict_do_nothing(), [row])

    def remove_bookmark(self, caller_key: str, flow_id: str, service: str) -> None:
        key = (Bookmark.caller_key == caller_key) & (Bookmark.flow_id == flow_id) & (Bookmark.node_id == service)
        with self.engine.begin() as conn:
            conn.execute(sa.delete(Bookmark).where(key))

