"""One pace for every sender: [email] rate_per_second holds for all engage processes together.

Each sender books a slot for its next batch in one shared row of `throttle` (key "email-rate"):
the row holds the moment the next message may go. Booking n messages takes the later of now and
that moment, and moves it on by n / rate seconds. So two campaigns sending at once, from two
processes or two computers sharing PostgreSQL, share the rate instead of each having all of it.

Times here are the computer's real clock (the pace is about real seconds), not engage's clock,
which tests may fix.
"""

from __future__ import annotations

import datetime as dt
import time

import sqlalchemy as sa

from .store import Store
from .store.schema import throttle

KEY = "email-rate"
FURTHEST = 60.0  # a booking further ahead than this is stale (the rate or the clock changed)


def book(store: Store, count: int, rate: float) -> float:
    """Book a slot for `count` messages; the seconds to wait before sending them."""
    try:
        return _book(store, count, rate)
    except sa.exc.IntegrityError:  # another sender made the row at the same moment
        return _book(store, count, rate)


def _book(store: Store, count: int, rate: float) -> float:
    now = time.time()
    with store.begin() as connection:
        query = sa.select(throttle.c.window_start).where(throttle.c.key == KEY)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        booked = connection.execute(query).scalar()
        start = now
        if booked is not None and now < booked.timestamp() < now + FURTHEST:
            start = booked.timestamp()
        values = {"window_start": _moment(start + count / rate), "hits": count}
        if booked is None:
            connection.execute(throttle.insert().values(key=KEY, **values))
        else:
            connection.execute(throttle.update().where(throttle.c.key == KEY).values(**values))
    return start - now


def _moment(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)
