"""Owner, lease and claim: the one idea behind every "exactly once" in engage.

Four things are taken by one process at a time: a campaign's deliveries (engage/sending/), a
social post's parts (engage/social/posting.py), engage's own emails (engage/outgoing.py) and a
named lock (engage/locks.py). Each keeps its own table, and each names owners and leases the
same way, here:

- an owner is `host:pid:random`, so a process on the same computer can tell whether the owner
  is still running, and people can be told which process it is;
- a lease is how long an owner elsewhere (on another computer) is trusted without renewing;
- a claim is one UPDATE over a sub-select of the rows still free (FOR UPDATE SKIP LOCKED on
  PostgreSQL), so no row is ever taken twice, whatever happens at the same moment.

What a dead owner left behind is for its user to settle (claimed rows go back; rows handed to
a provider become unknown, never resent silently), with `working` saying whether it is dead.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

import sqlalchemy as sa

from . import clock

LEASE = dt.timedelta(minutes=15)


def owner_name() -> str:
    """A new owner: this process, with a random part so two takers in it differ."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def alive(owner: str | None) -> bool:
    """Whether the process named `owner` may still be working."""
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: trust it until its lease runs out
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shown(owner: str) -> str:
    """An owner as people read it: process 4242 on host-1."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return f"process {pid} on {host}" if pid.isdigit() else "another engage"


def lease_end() -> dt.datetime:
    """When a lease taken or renewed now runs out."""
    return clock.now() + LEASE


def working(owner: str, expires_at: dt.datetime) -> bool:
    """Whether `owner` still holds what it took. An owner on this computer holds it while its
    process runs, however long a provider keeps it waiting (a lease that ran out must never
    let a second taker in beside a live one); an owner elsewhere holds it until its lease
    (`expires_at`, aware UTC as the store gives it back) runs out."""
    if owner.partition(":")[0] == socket.gethostname():
        return alive(owner)
    return expires_at > clock.now()


def claim(connection: sa.Connection, table: sa.Table, free: sa.Select, **values: object) -> int:
    """Take the rows of `table` that `free` selects (by id), setting `values` (the new status,
    the owner...) in one statement; how many were taken. On PostgreSQL rows another
    transaction is taking at this moment are skipped rather than waited for."""
    if connection.dialect.name == "postgresql":
        free = free.with_for_update(skip_locked=True, of=table)
    taken = connection.execute(
        table.update().where(table.c.id.in_(free.scalar_subquery())).values(**values)
    )
    return taken.rowcount
