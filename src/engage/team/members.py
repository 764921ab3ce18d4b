"""Team accounts: add, list, remove, find, and set a password. Two spellings of one address are
one account (addresses.Mailbox.key). A removed member's row stays, marked removed, so the audit
log still shows who they were; adding them again brings the account back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from .. import clock
from ..addresses import InvalidEmail, mailbox
from ..errors import EngageError
from ..store.schema import team_members, team_sessions
from . import audit, passwords
from .roles import ROLES


class TeamError(EngageError):
    """A team change that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Member:
    id: int
    email: str
    name: str
    role: str
    has_password: bool
    added_at: dt.datetime
    sessions_from: dt.datetime | None


def _member(row: sa.Row) -> Member:
    return Member(
        row.id,
        row.email,
        row.name,
        row.role,
        bool(row.password_hash),
        row.added_at,
        row.sessions_from,
    )


def _key(email: str) -> tuple[str, str]:
    try:
        box = mailbox(email)
    except InvalidEmail as exc:
        raise TeamError(f"{exc}. Give the team member's own email address.") from None
    return box.email, box.key


def check_role(role: str) -> str:
    role = role.strip().lower()
    if role not in ROLES:
        raise TeamError(f"'{role}' is not a role. Choose one of: {', '.join(ROLES)}.")
    return role


def add(connection: sa.Connection, email: str, name: str, role: str, actor: str) -> Member:
    """Add a member (or bring back a removed one, with this name and role)."""
    role = check_role(role)
    email, key = _key(email)
    name = " ".join(name.split())
    if not name:
        raise TeamError("Give the team member's name, like --name 'Sam Jones'.")
    row = connection.execute(sa.select(team_members).where(team_members.c.email_key == key)).first()
    now = clock.now()
    if row is not None and row.removed_at is None:
        raise TeamError(
            f"{row.email} is on the team already, as {row.role}. To change their role, remove "
            "them and add them again."
        )
    if row is None:
        connection.execute(
            team_members.insert().values(
                email=email, email_key=key, name=name, role=role, password_hash="", added_at=now
            )
        )
    else:
        connection.execute(
            team_members.update()
            .where(team_members.c.id == row.id)
            .values(
                email=email, name=name, role=role, password_hash="", added_at=now, removed_at=None
            )
        )
    audit.record(connection, actor, "team member added", email, f"{name}, {role}")
    found = find(connection, email)
    assert found is not None
    return found


def remove(connection: sa.Connection, email: str, actor: str) -> Member:
    """Remove a member: every session they have ends now, and they cannot sign in again."""
    member = find(connection, email)
    if member is None:
        raise TeamError(f"{email} is not on the team. `engage team list` shows who is.")
    admins = [m for m in listing(connection) if m.role == "admin"]
    if member.role == "admin" and len(admins) == 1:
        raise TeamError(
            f"{member.email} is the only admin. Add another admin first, so someone can still "
            "manage the team."
        )
    now = clock.now()
    connection.execute(
        team_members.update()
        .where(team_members.c.id == member.id)
        .values(removed_at=now, sessions_from=now, password_hash="")
    )
    connection.execute(
        team_sessions.update()
        .where(team_sessions.c.member_id == member.id, team_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    audit.record(connection, actor, "team member removed", member.email)
    return member


def find(connection: sa.Connection, email: str) -> Member | None:
    """The member with this address (any spelling), unless removed."""
    try:
        _email, key = _key(email)
    except TeamError:
        return None
    row = connection.execute(
        sa.select(team_members).where(
            team_members.c.email_key == key, team_members.c.removed_at.is_(None)
        )
    ).first()
    return _member(row) if row is not None else None


def by_id(connection: sa.Connection, member_id: int) -> Member | None:
    row = connection.execute(
        sa.select(team_members).where(
            team_members.c.id == member_id, team_members.c.removed_at.is_(None)
        )
    ).first()
    return _member(row) if row is not None else None


def listing(connection: sa.Connection) -> list[Member]:
    """Everyone on the team, by name."""
    rows = connection.execute(
        sa.select(team_members)
        .where(team_members.c.removed_at.is_(None))
        .order_by(team_members.c.name, team_members.c.id)
    )
    return [_member(row) for row in rows]


def set_password(connection: sa.Connection, email: str, password: str, actor: str) -> Member:
    """Set a member's password (kept as an argon2 hash); every session they have ends."""
    member = find(connection, email)
    if member is None:
        raise TeamError(f"{email} is not on the team. `engage team list` shows who is.")
    passwords.check_strength(password, member.email)
    now = clock.now()
    connection.execute(
        team_members.update()
        .where(team_members.c.id == member.id)
        .values(password_hash=passwords.hash_password(password), sessions_from=now)
    )
    audit.record(connection, actor, "password set", member.email)
    return member


def password_hash(connection: sa.Connection, member_id: int) -> str:
    return (
        connection.execute(
            sa.select(team_members.c.password_hash).where(team_members.c.id == member_id)
        ).scalar()
        or ""
    )
