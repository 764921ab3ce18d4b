"""Console sessions and single-use sign-in links. Each is a random secret held by the browser
(a cookie) or in an email (a link); the store keeps only its SHA-256, so whoever reads the
database cannot sign in with what they find there."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from .. import clock
from ..store.schema import team_links, team_members, team_sessions
from . import audit
from .members import Member, by_id

LINK_MINUTES = 15  # a sign-in link works this long, once
SEEN_EVERY = dt.timedelta(minutes=5)  # how often a session's last use is written down


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Session:
    id: int
    member: Member
    secret: str  # the cookie's value

    @property
    def csrf(self) -> str:
        """The token every console form carries: made from the session's secret, so another
        site cannot know it, and it ends with the session."""
        return hmac.new(self.secret.encode("utf-8"), b"console form", "sha256").hexdigest()

    def form_ok(self, given: str) -> bool:
        return hmac.compare_digest(self.csrf, given or "")


def begin(connection: sa.Connection, member: Member, hours: int, how: str) -> Session:
    """A new session for `member`, who has just signed in by `how` ("link" or "password")."""
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    session_id = connection.execute(
        team_sessions.insert()
        .values(
            secret_hash=_hash(secret),
            member_id=member.id,
            created_at=now,
            seen_at=now,
            expires_at=now + dt.timedelta(hours=hours),
        )
        .returning(team_sessions.c.id)
    ).scalar_one()
    audit.record(connection, member.email, "signed in", "", f"by {how}")
    return Session(session_id, member, secret)


def current(connection: sa.Connection, secret: str) -> Session | None:
    """The session this cookie belongs to, if it is still good: not ended, not expired, its
    member still on the team, and begun after their last "sign out everywhere"."""
    if not secret or len(secret) > 100:
        return None
    row = connection.execute(
        sa.select(team_sessions).where(team_sessions.c.secret_hash == _hash(secret))
    ).first()
    now = clock.now()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    member = by_id(connection, row.member_id)
    if member is None or (member.sessions_from and row.created_at < member.sessions_from):
        return None
    if now - row.seen_at >= SEEN_EVERY:
        connection.execute(
            team_sessions.update().where(team_sessions.c.id == row.id).values(seen_at=now)
        )
    return Session(row.id, member, secret)


def end(connection: sa.Connection, session: Session) -> None:
    """Sign this browser out."""
    connection.execute(
        team_sessions.update().where(team_sessions.c.id == session.id).values(ended_at=clock.now())
    )
    audit.record(connection, session.member.email, "signed out")


def end_everywhere(connection: sa.Connection, member: Member) -> None:
    """Sign `member` out on every browser, this one too."""
    now = clock.now()
    connection.execute(
        team_members.update().where(team_members.c.id == member.id).values(sessions_from=now)
    )
    connection.execute(
        team_sessions.update()
        .where(team_sessions.c.member_id == member.id, team_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    audit.record(connection, member.email, "signed out everywhere")


def new_link(connection: sa.Connection, member: Member) -> str:
    """A sign-in link's secret for `member`, good once, for LINK_MINUTES."""
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    connection.execute(
        team_links.insert().values(
            secret_hash=_hash(secret),
            member_id=member.id,
            created_at=now,
            expires_at=now + dt.timedelta(minutes=LINK_MINUTES),
        )
    )
    return secret


def use_link(connection: sa.Connection, secret: str) -> Member | None:
    """The member a sign-in link is for, marking it used in one statement, so two requests with
    one link cannot both sign in; None when it is unknown, used, expired or its member gone."""
    if not secret or len(secret) > 100:
        return None
    now = clock.now()
    member_id = connection.execute(
        team_links.update()
        .where(
            team_links.c.secret_hash == _hash(secret),
            team_links.c.used_at.is_(None),
            team_links.c.expires_at > now,
        )
        .values(used_at=now)
        .returning(team_links.c.member_id)
    ).scalar()
    if member_id is None:
        return None
    return by_id(connection, member_id)


def link_state(connection: sa.Connection, secret: str) -> str:
    """Why a link would not work, for the page that says so: "good", "used", "expired" or
    "unknown"."""
    row = connection.execute(
        sa.select(team_links).where(team_links.c.secret_hash == _hash(secret or ""))
    ).first()
    if row is None:
        return "unknown"
    if row.used_at is not None:
        return "used"
    if row.expires_at <= clock.now():
        return "expired"
    return "good"
