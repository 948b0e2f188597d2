"""The statistics schema: calls, node visits, per-caller service counts and bookmarks.

Visits carry their call's flow id and version (copied when written) so that every per-node report is
one indexed scan of one table, without a join against calls. A call row carries its path (node ids
joined by ">") for the same reason: the most common paths and the edge counts of the heat map are a
GROUP BY over calls, not a walk over visits.

Callers appear only as `caller_key`, an HMAC of the number (see privacy.py).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, Index, Integer, MetaData, String, Text, false
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

PATH_SEPARATOR = ">"
VERSION_TABLE = "stats_alembic_version"  # the statistics schema may share a database with others


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stored as naive UTC (SQLite has no time zones), returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: statistics times must be timezone-aware")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Call(Base):
    __tablename__ = "stats_calls"

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    caller_key: Mapped[str | None] = mapped_column(String(64))
    flow_id: Mapped[str] = mapped_column(String(128))
    flow_version: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(32))
    leaf: Mapped[str | None] = mapped_column(String(128))
    seconds_to_leaf: Mapped[float | None] = mapped_column(Float)
    final_node: Mapped[str | None] = mapped_column(String(128))
    personalized: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(16), default="agi")
    path: Mapped[str] = mapped_column(Text, default="")
    # a visit of the call was reached through a personal-menu shortcut (migration 0002), so reports
    # on personal menus filter calls without looking into their visits
    took_shortcut: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (Index(None, "flow_id", "started_at"),)


class LateCall(Base):
    """A call at a leaf that reached a shared store more than CATCH_UP_MARGIN after it ended
    (another node's spool replayed after an outage), and when it did (migration 0003). A node that
    was not listening then finds it by that time; reading back by the time calls ended would pass
    it by (docs/menus.md, "Several engine nodes")."""

    __tablename__ = "stats_late_calls"

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "flow_id", "recorded_at"),)


class Visit(Base):
    __tablename__ = "stats_visits"

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(128))
    flow_version: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    seconds: Mapped[float] = mapped_column(Float)
    key: Mapped[str | None] = mapped_column(String(8))
    timeouts: Mapped[int] = mapped_column(Integer, default=0)
    invalid_keys: Mapped[int] = mapped_column(Integer, default=0)
    via_shortcut: Mapped[bool] = mapped_column(Boolean, default=False)
    # The call's first visit to this node: summing it counts distinct calls per node without a
    # COUNT(DISTINCT call_id), which would sort a million rows.
    first_in_call: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (Index(None, "flow_id", "entered_at"),)


class NodeHour(Base):
    """Per-node figures of the visits entered in one UTC hour, kept up to date as visits are written.

    Reports read whole hours of a window from here and only the partial hours at its edges from
    stats_visits, so a report over millions of visits reads thousands of rows.
    """

    __tablename__ = "stats_node_hours"

    flow_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    flow_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(8), primary_key=True)  # "" when no key took the call out
    kind: Mapped[str] = mapped_column(String(32))
    hits: Mapped[int] = mapped_column(Integer)
    calls: Mapped[int] = mapped_column(Integer)  # first visits of a call to the node
    timeouts: Mapped[int] = mapped_column(Integer)
    invalid_keys: Mapped[int] = mapped_column(Integer)
    via_shortcut: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)


class CallerLeaf(Base):
    """How often a caller was served at a leaf: what personal menus predict from."""

    __tablename__ = "stats_caller_leaf"

    caller_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    leaf: Mapped[str] = mapped_column(String(128), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Bookmark(Base):
    __tablename__ = "stats_bookmarks"

    caller_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime())
