"""The audit log: who did what, and when. Written in the same transaction as what it records,
so an entry is never there for something that did not happen, or missing for something that
did. The console names the signed-in member; the CLI names the computer's user."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from .. import clock
from ..config import user
from ..store.schema import audit_log


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    actor: str
    action: str
    subject: str
    detail: str


def command_line() -> str:
    """Who acts when a command is run at a terminal or by cron (ENGAGE_USER, else the login
    name)."""
    return f"command line ({user()})"


def record(
    connection: sa.Connection, actor: str, action: str, subject: str = "", detail: str = ""
) -> None:
    """Note that `actor` did `action` to `subject` (a campaign, a story, a person, a member)."""
    connection.execute(
        audit_log.insert().values(
            at=clock.now(), actor=actor, action=action, subject=subject, detail=detail
        )
    )


def entries(
    connection: sa.Connection, *, limit: int = 100, since: dt.datetime | None = None
) -> list[Entry]:
    """The newest `limit` entries, newest first."""
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    return [
        Entry(row.at, row.actor, row.action, row.subject, row.detail)
        for row in connection.execute(query)
    ]
