"""Calls that reached a shared store long after they ended, with when they did, for the nodes
that catch up on what they did not hear (models.LateCall).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ivr_engine.stats.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_late_calls",
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("flow_id", sa.String(128), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_stats_late_calls"),
    )
    op.create_index("ix_stats_late_calls_flow_id_recorded_at", "stats_late_calls", ["flow_id", "recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_stats_late_calls_flow_id_recorded_at", table_name="stats_late_calls")
    op.drop_table("stats_late_calls")
