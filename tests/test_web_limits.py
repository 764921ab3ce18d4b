"""The sign-up form's limits (web/limits.py): a count per key in a window, added and read back
in one statement, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from engage.store import open_url
from engage.store.schema import throttle
from engage.web.limits import allow

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def store(db_url):  # noqa: ANN201
    opened = open_url(db_url)
    yield opened
    opened.engine.dispose()


def hit(store, key: str = "k", limit: int = 3) -> bool:
    with store.begin() as connection:
        return allow(connection, key, limit, HOUR)


def test_a_limit_counts_refuses_and_starts_again_after_its_window(store, clock) -> None:
    assert [hit(store) for _ in range(5)] == [True, True, True, False, False]
    assert hit(store, "other") is True  # each key counts alone
    clock.advance(minutes=59)
    assert hit(store) is False  # the window started with the first hit
    clock.advance(minutes=2)
    assert [hit(store) for _ in range(4)] == [True, True, True, False]
    with store.connect() as connection:
        row = connection.execute(sa.select(throttle).where(throttle.c.key == "k")).one()
    assert (row.window_start, row.hits) == (clock.now(), 4)


def test_hits_at_the_same_moment_are_each_counted(store, clock) -> None:
    with ThreadPoolExecutor(8) as pool:
        allowed = list(pool.map(lambda _: hit(store, limit=10), range(40)))
    assert sorted(allowed) == [False] * 30 + [True] * 10
    with store.connect() as connection:
        assert connection.execute(sa.select(throttle.c.hits)).scalar() == 40
