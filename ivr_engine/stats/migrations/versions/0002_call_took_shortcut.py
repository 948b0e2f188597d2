"""Calls say whether they took a personal-menu shortcut, so reports need not look into visits.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_calls = sa.table("stats_calls", sa.column("call_id", sa.String), sa.column("took_shortcut", sa.Boolean))
_visits = sa.table("stats_visits", sa.column("call_id", sa.String), sa.column("via_shortcut", sa.Boolean))


def upgrade() -> None:
    op.add_column("stats_calls", sa.Column("took_shortcut", sa.Boolean(), nullable=False, server_default=sa.false()))
    took = sa.exists().where(_visits.c.call_id == _calls.c.call_id, _visits.c.via_shortcut.is_(True))
    op.execute(sa.update(_calls).where(took).values(took_shortcut=True))


def downgrade() -> None:
    op.drop_column("stats_calls", "took_shortcut")
