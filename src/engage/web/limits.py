"""How often one sender may use a form: the sign-up form's limits per network address and per
email address (config [web]), counted in the throttle table."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from .. import clock
from ..store import conflict
from ..store.schema import throttle


def allow(connection: sa.Connection, key: str, limit: int, window: dt.timedelta) -> bool:
    """Count one hit against `key` (already hashed); False once `limit` is passed in `window`.

    One statement that adds the hit and reads the count back, so hits from several processes
    at once are each counted (a read, then an update, lost some on PostgreSQL)."""
    now = clock.now()
    stale = throttle.c.window_start < now - window
    count = conflict.insert(connection, throttle).values(key=key, window_start=now, hits=1)
    count = count.on_conflict_do_update(
        index_elements=[throttle.c.key],
        set_={
            "hits": sa.case((stale, 1), else_=throttle.c.hits + 1),
            "window_start": sa.case(
                (stale, sa.literal(now, throttle.c.window_start.type)),
                else_=throttle.c.window_start,
            ),
        },
    )
    hits = connection.execute(count.returning(throttle.c.hits)).scalar_one()
    return hits <= max(limit, 1)
