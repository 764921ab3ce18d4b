"""Clearing old copies of deleted rows out of the database's files, after an erasure.

A database does not overwrite a row when it deletes it: it marks the space free, and the bytes
stay in the file until something else is written there.

SQLite: engage turns secure_delete on for every connection, so deleted rows are overwritten
with zeros, but a database written before that (or by another program) may hold older copies
in free space. VACUUM rewrites the file; a checkpoint then empties the write-ahead log (the
-wal file), which held the pages as they were.

PostgreSQL keeps each deleted row until VACUUM, and even then its bytes stay in the page's
free space, so each table is rewritten (VACUUM FULL, which locks that one table while it is
copied). A row is only left out of the copy once no transaction could still see it, so first
engage waits (up to WAIT_SECONDS) for transactions that began before the erasure to end. What
could not be done is reported, with the commands to finish it by hand.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from . import Store

WAIT_SECONDS = 30.0  # for transactions older than the erasure to end
LOCK_WAIT_SECONDS = 30.0  # for a table another session has locked
# Whether this user may VACUUM a table (by name, in the current schema): a member of the role
# that owns it, or a superuser. PostgreSQL only warns, and skips the table, for anyone else.
_MAY_VACUUM = sa.text(
    "SELECT pg_has_role(c.relowner, 'MEMBER') OR (SELECT rolsuper FROM pg_roles "
    "WHERE rolname = current_user) FROM pg_class c "
    "WHERE c.relname = :table AND c.relnamespace = current_schema()::regnamespace"
)
# Sessions whose snapshot is older than transaction :now, so may still see the deleted rows.
_OLDER = sa.text(
    "SELECT pid, usename FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type <> 'autovacuum worker' AND backend_xmin IS NOT NULL "
    "AND age(backend_xmin) >= age(CAST(:now AS xid)) ORDER BY xact_start"
)


def scrub(store: Store, tables: list[str]) -> str:
    if store.engine.dialect.name == "postgresql":
        return _postgresql(store, tables)
    return _sqlite(store)


def _sqlite(store: Store) -> str:
    raw = store.engine.raw_connection()  # no BEGIN: VACUUM cannot run inside a transaction
    try:
        cursor = raw.cursor()
        cursor.execute("VACUUM")
        busy, *_ = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    if not busy:
        return ""
    return (
        f"another program has the database {store.shown_place} open, so its log (the -wal "
        "file beside it) may still hold old copies of the erased records. SQLite clears it "
        "when the last program using the database closes it: stop engage serve or the web "
        "app for a moment."
    )


def _postgresql(store: Store, tables: list[str]) -> str:
    left: dict[str, str] = {}  # table → why old copies may still be in it
    with store.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        waiting = _wait_for_older(connection)
        if waiting:  # a copy now would keep the rows that transaction may see
            run = " ".join(f'VACUUM FULL "{table}";' for table in tables)
            return (
                f"PostgreSQL still keeps old copies of the erased records: {waiting} When it "
                f"has ended, run this in psql as the owner of the tables: {run}"
            )
        # Never wait long for a table another session has locked: say so instead.
        connection.exec_driver_sql(f"SET lock_timeout = '{int(LOCK_WAIT_SECONDS * 1000)}ms'")
        for table in tables:
            if not connection.execute(_MAY_VACUUM, {"table": table}).scalar():
                left[table] = "only the owner of the table can clear it"
                continue
            try:
                connection.exec_driver_sql(f'VACUUM FULL "{table}"')
            except sa.exc.DBAPIError as exc:
                left[table] = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        connection.exec_driver_sql("RESET lock_timeout")
    if not left:
        return ""
    why = ", ".join(f"{table} ({reason})" for table, reason in left.items())
    run = " ".join(f'VACUUM FULL "{table}";' for table in left)
    return (
        f"PostgreSQL may still hold old copies of the erased records in {why}. Run this in "
        f"psql as the owner of the tables: {run}"
    )


def _wait_for_older(connection: sa.Connection) -> str:
    """Wait for sessions that could still see the deleted rows; "" once there are none, else
    which one is still open."""
    now = connection.execute(sa.text("SELECT pg_current_xact_id()::text")).scalar_one()
    now = str(int(now) % 2**32)  # the xid, without its epoch
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        older = connection.execute(_OLDER, {"now": now}).first()
        if older is None:
            return ""
        if time.monotonic() >= deadline:
            return (
                "a transaction that began before the erasure is still open (process "
                f"{older.pid}, user {older.usename})."
            )
        time.sleep(0.2)
