"""INSERT ... ON CONFLICT for the store's two engines: one statement that both SQLite and
PostgreSQL run atomically, so two processes writing the same row at once never lose one
write or fail on the other's."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert(connection: sa.Connection, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` with on_conflict_do_nothing / on_conflict_do_update."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
