"""Reading and working the replies inbox: list, show, assign, done. The CLI (`engage replies
list/show/assign/done`) and the console's replies pages both call these; assigning and marking
done are noted in the audit log with who did it (team/audit.py), in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from ..contacts import core
from ..contacts.identity import identity
from ..contacts.timeline import ANSWER_STATES
from ..errors import EngageError
from ..store.schema import contacts, inbound, outgoing, stories, team_members
from ..team import audit, members
from . import attachments


class ReplyError(EngageError):
    """A reply that is not there, or a change that cannot be made."""


class NoSuchReply(ReplyError):
    """There is no reply with this id (never was, or erased with its sender)."""


_COLUMNS = (
    inbound.c.id,
    inbound.c.received_at,
    inbound.c.provider,
    inbound.c.kind,
    inbound.c.status,
    inbound.c.owner,
    inbound.c.sender,
    inbound.c.sender_name,
    inbound.c.subject,
    inbound.c.campaign,
    inbound.c.matched_by,
    inbound.c.clean_text,
    inbound.c.contact_id,
    contacts.c.email.label("contact_email"),
    team_members.c.name.label("owner_name"),
)


def _summary(row: sa.Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "received_at": core.iso(row.received_at),
        "source": row.provider,
        "kind": row.kind,
        "status": row.status,
        "owner": row.owner,
        "owner_name": row.owner_name or row.owner,  # the team member's name, when it is one
        "from": row.sender,
        "from_name": row.sender_name,
        "contact": row.contact_email,
        "campaign": row.campaign,
        "matched_by": row.matched_by,
        "subject": row.subject,
        "text": row.clean_text,
    }


def _select() -> sa.Select:
    return (
        sa.select(*_COLUMNS)
        .outerjoin(contacts, contacts.c.id == inbound.c.contact_id)
        .outerjoin(team_members, team_members.c.email == inbound.c.owner)
    )


def listing(
    connection: sa.Connection,
    kind: str | None = None,
    status: str | Iterable[str] | None = None,
    campaign: str | None = None,
    owners: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Replies, oldest first, filtered by kind, status (one, or any of several), campaign and
    owner (any of `owners`, in any capitals: a member's address and name, say)."""
    query = _select().order_by(inbound.c.received_at, inbound.c.id)
    if kind:
        query = query.where(inbound.c.kind == kind)
    if isinstance(status, str):
        query = query.where(inbound.c.status == status)
    elif status is not None:
        query = query.where(inbound.c.status.in_(list(status)))
    if campaign:
        query = query.where(inbound.c.campaign == campaign)
    wanted = [owner.strip().lower() for owner in owners if owner.strip()]
    if wanted:
        query = query.where(sa.func.lower(inbound.c.owner).in_(wanted))
    return [_summary(row) for row in connection.execute(query)]


def campaigns(connection: sa.Connection) -> list[str]:
    """Every campaign that has replies, by name: what the inbox can be filtered by."""
    query = (
        sa.select(inbound.c.campaign)
        .where(inbound.c.campaign.is_not(None))
        .distinct()
        .order_by(inbound.c.campaign)
    )
    return list(connection.execute(query).scalars())


def _row(connection: sa.Connection, reply_id: int) -> sa.Row:
    row = connection.execute(_select().where(inbound.c.id == reply_id)).first()
    if row is None:
        raise NoSuchReply(
            f"There is no reply {reply_id}. See the replies with: engage replies list"
        )
    return row


def show(connection: sa.Connection, reply_id: int) -> dict[str, Any]:
    """One reply in full: its cleaned words, what was set aside, its notes, the original, and
    the same person's other replies."""
    row = _row(connection, reply_id)
    full = connection.execute(
        sa.select(
            inbound.c.quoted,
            inbound.c.signature,
            inbound.c.notes,
            inbound.c.original,
            inbound.c.text,
            inbound.c.html,
            inbound.c.raw,
        ).where(inbound.c.id == reply_id)
    ).one()
    same_person = (
        inbound.c.contact_id == row.contact_id
        if row.contact_id is not None
        else sa.func.lower(inbound.c.sender) == row.sender.lower()
    )
    others = connection.execute(
        _select().where(same_person, inbound.c.id != reply_id).order_by(inbound.c.id)
    ).all()
    if full.original is not None:
        original = bytes(full.original).decode("utf-8", "replace")
    else:
        original = full.text or full.html
    story = connection.execute(
        sa.select(stories.c.id, stories.c.status).where(stories.c.reply_id == reply_id)
    ).first()
    return {
        **_summary(row),
        "story": {"id": story.id, "status": story.status} if story else None,
        "quoted": full.quoted,
        "signature": full.signature,
        "notes": list(full.notes or []),
        "url": (full.raw or {}).get("url", ""),
        "original": original,
        "attachments": attachments.listing(connection, reply_id),
        "others": [_summary(other) for other in others],
        "answers": answers(connection, reply_id, row.sender),
    }


def answers(connection: sa.Connection, reply_id: int, sender: str) -> list[dict[str, Any]]:
    """The team's answers to this reply (replies/answers.py), oldest first: when, by whom, what
    they said, and whether each went."""
    try:
        key = identity(sender)
    except core.InvalidEmail:
        return []
    rows = connection.execute(
        sa.select(outgoing)
        .where(outgoing.c.kind == "answer", outgoing.c.address_key == key)
        .order_by(outgoing.c.id)
    ).all()
    return [
        {
            "id": row.id,
            "at": core.iso(row.created_at),
            "by": row.payload.get("by", ""),
            "subject": row.payload.get("subject", ""),
            "text": row.payload.get("text", ""),
            "state": row.state,
            "went": ANSWER_STATES.get(row.state, row.state),
            "sent_at": core.iso(row.done_at) if row.state == "sent" else None,
            "error": row.error if row.state in ("failed", "skipped", "unknown") else "",
        }
        for row in rows
        if row.payload.get("reply") == reply_id
    ]


def owner_of(connection: sa.Connection, owner: str) -> tuple[str, str]:
    """Who `owner` names, as (what the inbox keeps, how to show it): a member of the team, by
    their address or their whole name in any capitals, is kept by their address; anybody else
    by the name as given (a team that works without console accounts)."""
    owner = " ".join(owner.split())
    if not owner:
        raise ReplyError("Give the name of the person who will deal with it.")
    found = members.find(connection, owner) if "@" in owner else None
    if found is None:
        named = [m for m in members.listing(connection) if m.name.lower() == owner.lower()]
        found = named[0] if len(named) == 1 else None
    if found is None:
        return owner, owner
    return found.email, f"{found.name} ({found.email})"


def assign(connection: sa.Connection, reply_id: int, owner: str, actor: str) -> dict[str, Any]:
    """Give the reply to `owner` (see owner_of); noted in the audit log as `actor`'s doing."""
    kept, shown = owner_of(connection, owner)
    _row(connection, reply_id)
    connection.execute(
        inbound.update()
        .where(inbound.c.id == reply_id)
        .values(owner=kept, status="assigned", updated_at=core.now())
    )
    audit.record(connection, actor, "reply assigned", f"reply {reply_id}", f"to {shown}")
    return {**_summary(_row(connection, reply_id)), "owner_shown": shown}


def done(connection: sa.Connection, reply_id: int, actor: str) -> dict[str, Any]:
    """Mark the reply dealt with; noted in the audit log as `actor`'s doing."""
    _row(connection, reply_id)
    connection.execute(
        inbound.update()
        .where(inbound.c.id == reply_id)
        .values(status="done", updated_at=core.now())
    )
    audit.record(connection, actor, "reply marked done", f"reply {reply_id}")
    return _summary(_row(connection, reply_id))
