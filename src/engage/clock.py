"""What time it is, for everything engage records and decides ("is this due?", "who is owed
news?"). One place, so tests can set the time instead of sleeping: `clock.set(when)`."""

from __future__ import annotations

import datetime as dt

_fixed: dt.datetime | None = None


def now() -> dt.datetime:
    """Now, in UTC (aware)."""
    return _fixed if _fixed is not None else dt.datetime.now(dt.UTC)


def set(when: dt.datetime | None) -> None:  # noqa: A001 - clock.set reads well
    """Fix the time (aware), or None to follow the real clock again. For tests."""
    global _fixed
    if when is not None and when.tzinfo is None:
        raise ValueError("Give an aware datetime (with a time zone).")
    _fixed = when.astimezone(dt.UTC) if when else None


def advance(**delta: float) -> dt.datetime:
    """Move a fixed clock on, like advance(days=15). For tests."""
    if _fixed is None:
        raise RuntimeError("The clock is not fixed; call clock.set() first.")
    set(_fixed + dt.timedelta(**delta))
    return now()
