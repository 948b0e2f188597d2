"""Alembic environment of the statistics schema; run by ivr_engine.stats.store.migrate with an open
connection (never from an alembic.ini), so the same code migrates SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context

from ivr_engine.stats.models import VERSION_TABLE, Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
