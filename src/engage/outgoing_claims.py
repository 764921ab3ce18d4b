"""Who sends each of engage's own queued emails (outgoing.py): a row is claimed in one
statement (skipping rows another process has locked on PostgreSQL; SQLite takes its write lock
first), so several drainers send each row once; rows a drainer claimed and never handed over
wait again; rows left by a process that ended are settled (claimed ones wait again, sending
ones are unknown)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from . import journal
from .contacts import core
from .store import Store
from .store.schema import outgoing

# claim's answer when another drainer took the row this one picked.
NOT_THIS_ONE: Any = object()


def claim(store: Store, owner: str) -> sa.Row | None:
    """Take the oldest row that is due, for `owner`, or None when none is (or NOT_THIS_ONE
    when another process took the row this one picked)."""
    with store.begin() as connection:
        pick = sa.select(outgoing.c.id).where(_due()).order_by(outgoing.c.id).limit(1)
        if connection.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        row_id = connection.execute(pick).scalar()
        if row_id is None:
            return None
        taken = connection.execute(
            outgoing.update()
            .where(outgoing.c.id == row_id, outgoing.c.state == "waiting")
            .values(state="claimed", owner=owner, claimed_at=core.now())
        ).rowcount
        if taken != 1:  # another drainer was first: the caller's next claim takes the next row
            return NOT_THIS_ONE
        return connection.execute(sa.select(outgoing).where(outgoing.c.id == row_id)).first()


def has_work(store: Store) -> bool:
    """A row to claim now, or one a drainer holds (settle_left looks at those): with none,
    `engage run` need not load what sending takes."""
    with store.connect() as connection:
        held = outgoing.c.state.in_(("claimed", "sending"))
        found = connection.execute(sa.select(outgoing.c.id).where(_due() | held).limit(1))
        return found.first() is not None


def _due() -> sa.ColumnElement[bool]:
    return (outgoing.c.state == "waiting") & (outgoing.c.not_before <= core.now())


def release(store: Store, owner: str) -> None:
    """Rows `owner` claimed and never handed over wait again."""
    with store.begin() as connection:
        connection.execute(
            outgoing.update()
            .where(outgoing.c.owner == owner, outgoing.c.state == "claimed")
            .values(state="waiting", owner=None, claimed_at=None)
        )


def settle_left(store: Store) -> None:
    """Rows left by a process that ended: claimed ones wait again; sending ones are unknown
    (they may have reached the provider)."""
    with store.begin() as connection:
        left = connection.execute(
            sa.select(outgoing.c.id, outgoing.c.state, outgoing.c.owner, outgoing.c.claimed_at)
            .where(outgoing.c.state.in_(("claimed", "sending")))
            .with_for_update()
        ).all()
        for row in left:
            if journal.working(row.owner or "", row.claimed_at + journal.LEASE):
                continue
            if row.state == "claimed":
                values: dict[str, Any] = {"state": "waiting", "owner": None, "claimed_at": None}
            else:
                values = {
                    "state": "unknown",
                    "error": "engage stopped while handing it to the provider, so it may "
                    "or may not have gone. It is not sent again by itself.",
                    "done_at": core.now(),
                }
            connection.execute(
                outgoing.update()
                .where(outgoing.c.id == row.id, outgoing.c.state == row.state)
                .values(**values)
            )
