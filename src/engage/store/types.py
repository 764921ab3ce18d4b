"""The one time column: every time engage stores is UTC, and every time it reads back is an
aware UTC datetime, on SQLite and PostgreSQL alike.

SQLite keeps no time zone, so without this a time came back naive and each reader had to
remember to call it UTC. Now the column does it once, for every table (schema.py uses it for
every time column). The SQL type is still DateTime(timezone=True), so the tables and the
migrations do not change.

A naive datetime is refused on the way in rather than taken as UTC: engage's clock only hands
out aware times, so a naive one is a mistake (most likely a local time), and storing it as UTC
would move it silently by the computer's offset.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


class NaiveTime(ValueError):
    """A datetime without a time zone was about to be stored."""


class UTCDateTime(TypeDecorator):
    """A time stored in UTC and read back as an aware UTC datetime."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or not isinstance(value, dt.datetime):
            return value  # None, or a SQL expression SQLAlchemy renders itself
        if value.tzinfo is None:
            raise NaiveTime(
                f"{value.isoformat()} has no time zone; engage stores only aware times "
                "(use engage.clock.now(), or add tzinfo=datetime.UTC)."
            )
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        # Called for every time of every row read (100,000 contacts listed: 200,000 calls), so
        # the common cases come first and cost one test each.
        if value is None or value.tzinfo is dt.UTC:
            return value
        if value.tzinfo is None:  # SQLite: stored in UTC, read back without a zone
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    @property
    def python_type(self) -> type:
        return dt.datetime
