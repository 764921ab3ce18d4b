"""When a campaign goes out, as a person sets it: the console's "Schedule", "Unschedule" and
"Start sending", and `engage campaigns schedule` / `unschedule`.

A schedule wins over the campaign file's send_at (send_status.send_time): a time, or none
when a person unscheduled it (then nothing sends it by itself, whatever the file says).
`engage run` sends a campaign once its time has passed, and so does the worker of `engage
serve` for a time set here. Starting a send is its schedule set to now: the web request
never sends anything itself, and the sender that picks it up keeps every promise of the
journal (each person once, carried on after a crash). Each change is noted in the audit log,
in its own transaction.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from .. import clock
from ..campaigns import when_text
from ..errors import EngageError
from ..send_status import shown_state
from ..store import Store
from ..store.schema import schedules
from ..team import audit
from . import journal

UK = "Europe/London"


class ScheduleError(EngageError):
    """A time that cannot be a schedule, or a campaign whose send has begun."""


def parse_when(text: str, zone: str | None = None) -> dt.datetime:
    """A time as a person gives it: ISO 8601, like 2026-12-10T10:00:00Z. Without a zone, it
    is in `zone` (the console's form: UK time), or refused when no zone is given."""
    value = text.strip()
    try:
        when = dt.datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise ScheduleError(
            f"{value[:40]!r} is not a date and time. Write it like 2026-12-10T10:00Z "
            "(10 o'clock on 10 December 2026, UTC)."
        ) from None
    if when.tzinfo is None:
        if zone is None:
            written = when.strftime("%Y-%m-%dT%H:%M")
            raise ScheduleError(
                f"{value} needs a time zone: write {written}Z for UTC (UK winter time), or "
                f"{written}+01:00 for UK summer time."
            )
        when = when.replace(tzinfo=_zone(zone))
    return when.astimezone(dt.UTC)


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:  # no time zone data on this computer: UTC, as UK winter
        return dt.UTC


def schedule(store: Store, slug: str, when: dt.datetime, actor: str) -> None:
    """Send `slug` at `when` (in the future). Refused once its send has begun."""
    if when <= clock.now():
        raise ScheduleError(
            f"{when_text(when.astimezone(dt.UTC))} has passed already. Choose a time to come, "
            "or start the send now."
        )
    with store.begin() as connection:
        _not_started(connection, slug)
        put_schedule(connection, slug, when, actor)
        audit.record(connection, actor, "schedule set", slug, when_text(when.astimezone(dt.UTC)))


def unschedule(store: Store, slug: str, actor: str) -> None:
    """Nothing sends `slug` by itself any more, whatever its file's send_at says, until a
    person schedules it again or starts its send."""
    with store.begin() as connection:
        _not_started(connection, slug)
        put_schedule(connection, slug, None, actor)
        audit.record(connection, actor, "schedule removed", slug)


def start(store: Store, slug: str, actor: str, audience: int) -> None:
    """Start sending `slug` now: its schedule is set to now, and the next sender picks it up
    (the worker of `engage serve` within seconds, or `engage run`). The caller has checked
    the campaign (lint) and counted its `audience`, which the audit log notes."""
    with store.begin() as connection:
        _not_started(connection, slug)
        put_schedule(connection, slug, clock.now(), actor)
        people = f"{audience} {'person' if audience == 1 else 'people'} in its audience"
        audit.record(connection, actor, "send started", slug, people)


def put_schedule(
    connection: sa.Connection, slug: str, when: dt.datetime | None, actor: str
) -> None:
    """Set `slug`'s schedule (None: unscheduled by a person), replacing any before it."""
    values = {"send_at": when, "set_by": actor, "set_at": clock.now()}
    done = connection.execute(
        schedules.update().where(schedules.c.campaign == slug).values(**values)
    )
    if not done.rowcount:
        connection.execute(schedules.insert().values(campaign=slug, **values))


def _not_started(connection: sa.Connection, slug: str) -> None:
    row = journal.existing(connection, slug)
    if row is not None:
        status = shown_state(connection, row)[0]
        raise ScheduleError(
            f"{slug} has begun sending already (it is {status}), so its time cannot change. "
            + ("" if status == "sent" else "You can pause or cancel the send instead.")
        )
