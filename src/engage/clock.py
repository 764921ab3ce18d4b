"""What time it is, for everything engage records and decides ("is this due?", "who is owed
news?"). One place, so tests can set the time instead of sleeping: `clock.set(when)`.

A process that a test starts (`python -m engage run`) cannot be given `clock.set`; set the
environment variable ENGAGE_NOW instead, to an ISO 8601 time with a zone, like
`ENGAGE_NOW=2026-12-01T09:00:00Z`. engage then starts its clock at that moment and lets it run
on from there. Unset, engage follows the computer's clock."""

from __future__ import annotations

import datetime as dt
import os
import time

from .errors import ConfigError

ENV = "ENGAGE_NOW"

_fixed: dt.datetime | None = None
_start: tuple[str, dt.datetime, float] | None = None  # ENGAGE_NOW, read as a time, monotonic


def now() -> dt.datetime:
    """Now, in UTC (aware)."""
    if _fixed is not None:
        return _fixed
    started = _from_environment()
    if started is not None:
        when, monotonic = started
        return when + dt.timedelta(seconds=time.monotonic() - monotonic)
    return dt.datetime.now(dt.UTC)


def minute() -> int:
    """Now, as whole minutes since 1970: what a signed link or form carries to tell its age."""
    return int(now().timestamp() // 60)


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


def _from_environment() -> tuple[dt.datetime, float] | None:
    """ENGAGE_NOW as a time and the monotonic clock when it was first read, or None."""
    global _start
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    if _start is None or _start[0] != value:
        _start = (value, _parse(value), time.monotonic())
    return _start[1], _start[2]


def _parse(value: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ConfigError(
            f"{ENV} is {value[:40]!r}, which is not a date and time with a zone. Set it like "
            f"{ENV}=2026-12-01T09:00:00Z, or unset it to follow the computer's clock."
        )
    return when.astimezone(dt.UTC)
