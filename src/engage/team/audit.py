"""The audit log: who did what, and when. Written in the same transaction as what it records,
so an entry is never there for something that did not happen, or missing for something that
did. The console names the signed-in member; the CLI names the computer's user."""

from __future__ import annotations

import datetime as dt
import re
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


def forget(connection: sa.Connection, names: list[str], instead: str) -> int:
    """Write `instead` where an entry's subject or detail names someone erased (any of
    `names`, in any case): an erasure keeps who did what, and when, but not to whom. Returns
    how many entries were changed. Every entry is read (here, not by the database, whose
    lower() on SQLite knows only A to Z): an erasure is rare, and the log is small."""
    names = [name for name in dict.fromkeys(n.strip() for n in names) if name]
    if not names:
        return 0
    pattern = re.compile("|".join(_whole(n) for n in names), re.IGNORECASE)
    query = sa.select(audit_log.c.id, audit_log.c.subject, audit_log.c.detail)
    changed = []
    for rows in connection.execute(query.execution_options(yield_per=1000)).partitions():
        for id_, subject, detail in rows:
            new = (pattern.sub(instead, subject)[:400], pattern.sub(instead, detail))
            if new != (subject, detail):
                changed.append({"id_": id_, "subject": new[0], "detail": new[1]})
    if changed:
        connection.execute(
            audit_log.update()
            .where(audit_log.c.id == sa.bindparam("id_"))
            .values(subject=sa.bindparam("subject"), detail=sa.bindparam("detail")),
            changed,
        )
    return len(changed)


def _whole(name: str) -> str:
    """A name or an address, found only as a whole: not "ann@example.org" in
    "joann@example.org", nor "Sam Lee" in "Sam Leeds"."""
    return rf"(?<![\w.+-]){re.escape(name)}(?![\w-]|\.\w)"
