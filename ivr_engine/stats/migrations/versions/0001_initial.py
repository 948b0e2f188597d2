"""Calls, node visits, caller-to-leaf counts and bookmarks.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ivr_engine.stats.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_calls",
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("caller_key", sa.String(64), nullable=True),
        sa.Column("flow_id", sa.String(128), nullable=False),
        sa.Column("flow_version", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("leaf", sa.String(128), nullable=True),
        sa.Column("seconds_to_leaf", sa.Float(), nullable=True),
        sa.Column("final_node", sa.String(128), nullable=True),
        sa.Column("personalized", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_stats_calls"),
    )
    op.create_index("ix_stats_calls_flow_id_started_at", "stats_calls", ["flow_id", "started_at"])
    op.create_table(
        "stats_visits",
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.String(128), nullable=False),
        sa.Column("flow_version", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("entered_at", UTCDateTime(), nullable=False),
        sa.Column("left_at", UTCDateTime(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("key", sa.String(8), nullable=True),
        sa.Column("timeouts", sa.Integer(), nullable=False),
        sa.Column("invalid_keys", sa.Integer(), nullable=False),
        sa.Column("via_shortcut", sa.Boolean(), nullable=False),
        sa.Column("first_in_call", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", "seq", name="pk_stats_visits"),
    )
    op.create_index("ix_stats_visits_flow_id_entered_at", "stats_visits", ["flow_id", "entered_at"])
    op.create_table(
        "stats_node_hours",
        sa.Column("flow_id", sa.String(128), nullable=False),
        sa.Column("flow_version", sa.String(64), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("key", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("timeouts", sa.Integer(), nullable=False),
        sa.Column("invalid_keys", sa.Integer(), nullable=False),
        sa.Column("via_shortcut", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "flow_version", "hour", "node_id", "key", name="pk_stats_node_hours"),
    )
    op.create_table(
        "stats_caller_leaf",
        sa.Column("caller_key", sa.String(64), nullable=False),
        sa.Column("flow_id", sa.String(128), nullable=False),
        sa.Column("leaf", sa.String(128), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("caller_key", "flow_id", "leaf", name="pk_stats_caller_leaf"),
    )
    op.create_table(
        "stats_bookmarks",
        sa.Column("caller_key", sa.String(64), nullable=False),
        sa.Column("flow_id", sa.String(128), nullable=False),
        sa.Column("node_id", sa.String(128), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("caller_key", "flow_id", "node_id", name="pk_stats_bookmarks"),
    )


def downgrade() -> None:
    op.drop_table("stats_bookmarks")
    op.drop_table("stats_caller_leaf")
    op.drop_table("stats_node_hours")
    op.drop_index("ix_stats_visits_flow_id_entered_at", table_name="stats_visits")
    op.drop_table("stats_visits")
    op.drop_index("ix_stats_calls_flow_id_started_at", table_name="stats_calls")
    op.drop_table("stats_calls")
