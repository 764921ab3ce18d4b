"""Reading and working the replies inbox: list, show, assign, done."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..contacts import core
from ..errors import EngageError
from ..store.schema import contacts, inbound, stories
from . import attachments


class ReplyError(EngageError):
    """A reply that is not there, or a change that cannot be made."""


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
)


def _summary(row: sa.Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "received_at": core.iso(row.received_at),
        "source": row.provider,
        "kind": row.kind,
        "status": row.status,
        "owner": row.owner,
        "from": row.sender,
        "from_name": row.sender_name,
        "contact": row.contact_email,
        "campaign": row.campaign,
        "matched_by": row.matched_by,
        "subject": row.subject,
        "text": row.clean_text,
    }


def _select() -> sa.Select:
    return sa.select(*_COLUMNS).outerjoin(contacts, contacts.c.id == inbound.c.contact_id)


def listing(
    connection: sa.Connection,
    kind: str | None = None,
    status: str | None = None,
    campaign: str | None = None,
) -> list[dict[str, Any]]:
    """Replies, oldest first, filtered by kind, status and campaign."""
    query = _select().order_by(inbound.c.received_at, inbound.c.id)
    if kind:
        query = query.where(inbound.c.kind == kind)
    if status:
        query = query.where(inbound.c.status == status)
    if campaign:
        query = query.where(inbound.c.campaign == campaign)
    return [_summary(row) for row in connection.execute(query)]


def _row(connection: sa.Connection, reply_id: int) -> sa.Row:
    row = connection.execute(_select().where(inbound.c.id == reply_id)).first()
    if row is None:
        raise ReplyError(f"There is no reply {reply_id}. See the replies with: engage replies list")
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
    }


def assign(connection: sa.Connection, reply_id: int, owner: str) -> dict[str, Any]:
    owner = " ".join(owner.split())
    if not owner:
        raise ReplyError("Give the name of the person who will deal with it.")
    _row(connection, reply_id)
    connection.execute(
        inbound.update()
        .where(inbound.c.id == reply_id)
        .values(owner=owner, status="assigned", updated_at=core.now())
    )
    return _summary(_row(connection, reply_id))


def done(connection: sa.Connection, reply_id: int) -> dict[str, Any]:
    _row(connection, reply_id)
    connection.execute(
        inbound.update()
        .where(inbound.c.id == reply_id)
        .values(status="done", updated_at=core.now())
    )
    return _summary(_row(connection, reply_id))
