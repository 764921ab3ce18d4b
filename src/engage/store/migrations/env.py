"""Alembic's entry point. engage always passes an open connection in
`config.attributes["connection"]`; migrations never open their own."""

from __future__ import annotations

from alembic import context

from engage.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite can only change a table by rebuilding it
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
