"""Named locks shared by every engage process: one `engage run` at a time, and one sender for
each campaign (`engage send` and `engage run` alike).

On PostgreSQL a lock is a session advisory lock, released by the server if the process dies; a
row in `locks` names its owner, so others can say who has it. On SQLite the row is the lock: it
has an owner and an expiry. An owner on this computer holds it for as long as its process runs;
one elsewhere (which SQLite hardly allows) until the expiry, which it renews while it works.

Owners and leases are engage/journal.py's, shared with the deliveries and the social posts.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from .errors import EngageError
from .journal import lease_end, owner_name, shown, working
from .store import Store
from .store.schema import locks


class Busy(EngageError):
    """Another process holds the lock. `owner` says which (host:pid:random)."""

    exit_code = 75  # EX_TEMPFAIL: try again later

    def __init__(self, message: str, owner: str = "") -> None:
        super().__init__(message)
        self.owner = owner


@dataclass
class Held:
    """A lock this process holds. `renew` keeps a SQLite lease from running out."""

    store: Store
    name: str
    owner: str

    def renew(self) -> None:
        if self.store.engine.dialect.name == "postgresql":
            return
        with self.store.begin() as connection:
            connection.execute(
                locks.update()
                .where(locks.c.name == self.name, locks.c.owner == self.owner)
                .values(expires_at=lease_end())
            )


@contextmanager
def hold(store: Store, name: str, busy: str) -> Iterator[Held]:
    """Hold lock `name` while the block runs; raise Busy if another process does, with the
    message `busy`, where {who} becomes who has it (" (process 4242 on host-1)")."""
    owner = owner_name()
    if store.engine.dialect.name == "postgresql":
        with _advisory(store, name, busy):
            _name_owner(store, name, owner)
            try:
                yield Held(store, name, owner)
            finally:
                _forget(store, name, owner)
        return
    _take_row(store, name, owner, busy)
    try:
        yield Held(store, name, owner)
    finally:
        _forget(store, name, owner)


def holder(connection: sa.Connection, name: str) -> str | None:
    """The owner of lock `name` while some process holds it, else None."""
    row = connection.execute(sa.select(locks).where(locks.c.name == name)).first()
    if connection.dialect.name == "postgresql":
        if not _advisory_held(connection, name):
            return None
        return row.owner if row is not None else "another engage"
    if row is None or not _current(row):
        return None
    return row.owner


def _key(connection: sa.Connection, name: str) -> int:
    """The advisory lock's number. PostgreSQL's advisory locks belong to the whole database,
    so the schema is part of it: two workspaces sharing one database in their own schemas
    never hold each other's campaigns."""
    schema = connection.execute(sa.select(sa.func.current_schema())).scalar() or ""
    return zlib.crc32(f"{schema}:{name}".encode())


@contextmanager
def _advisory(store: Store, name: str, busy: str) -> Iterator[None]:
    with store.engine.connect() as connection:
        taken = connection.execute(
            sa.select(sa.func.pg_try_advisory_lock(_key(connection, name)))
        ).scalar()
        connection.commit()
        if not taken:
            owner = holder(connection, name) or ""
            raise Busy(_busy(busy, owner), owner)
        try:
            yield
        finally:
            connection.execute(sa.select(sa.func.pg_advisory_unlock(_key(connection, name))))
            connection.commit()


def _advisory_held(connection: sa.Connection, name: str) -> bool:
    """Whether any session holds the advisory lock `name` (a bigint key below 2**32: its
    classid is 0 and its objid is the key)."""
    return bool(
        connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = 0 AND objid = CAST(:key AS oid) AND objsubid = 1 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": _key(connection, name)},
        ).scalar()
    )


def _name_owner(store: Store, name: str, owner: str) -> None:
    with store.begin() as connection:
        connection.execute(locks.delete().where(locks.c.name == name))
        connection.execute(locks.insert().values(name=name, owner=owner, expires_at=lease_end()))


def _forget(store: Store, name: str, owner: str) -> None:
    with store.begin() as connection:
        connection.execute(locks.delete().where(locks.c.name == name, locks.c.owner == owner))


def _current(row: sa.Row) -> bool:
    """A SQLite lock row still holds (see working)."""
    return working(row.owner, row.expires_at)


def _take_row(store: Store, name: str, owner: str, busy: str) -> None:
    with store.begin() as connection:
        row = connection.execute(sa.select(locks).where(locks.c.name == name)).first()
        if row is None:
            connection.execute(
                locks.insert().values(name=name, owner=owner, expires_at=lease_end())
            )
            return
        if _current(row):
            raise Busy(_busy(busy, row.owner), row.owner)
        connection.execute(
            locks.update()
            .where(locks.c.name == name, locks.c.owner == row.owner)
            .values(owner=owner, expires_at=lease_end())
        )


def _busy(message: str, owner: str) -> str:
    who = f" ({shown(owner)})" if owner and owner != "another engage" else ""
    return message.replace("{who}", who)
