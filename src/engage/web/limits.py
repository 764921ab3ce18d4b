"""How often one sender may use a form: the sign-up form's limits per network address and per
email address (config [web]), counted in the throttle table."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from .. import clock
from ..store.schema import throttle


def allow(connection: sa.Connection, key: str, limit: int, window: dt.timedelta) -> bool:
    """Count one hit against `key` (already hashed); False once `limit` is passed in `window`."""
    now = clock.now()
    row = connection.execute(sa.select(throttle).where(throttle.c.key == key)).first()
    if row is None:
        connection.execute(throttle.insert().values(key=key, window_start=now, hits=1))
        return True
    if now - row.window_start > window:
        connection.execute(
            throttle.update().where(throttle.c.key == key).values(window_start=now, hits=1)
        )
        return True
    connection.execute(throttle.update().where(throttle.c.key == key).values(hits=row.hits + 1))
    return row.hits + 1 <= limit
