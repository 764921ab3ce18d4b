"""Where a person shows up beyond their contact row: the emails sent to them, what providers
said about those, the mail they sent us, events engage could not read that name them. What a
subject access request shows (contacts/records.py) and what an erasure removes
(contacts/life.py:erase) find them the same way, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..addresses import InvalidEmail, mailbox
from ..store.schema import (
    attachments,
    contact_handles,
    deliveries,
    events,
    inbound,
    outgoing,
    sends,
    stories,
    unreadable_events,
)
from .core import Contact, iso
from .identity import identity


def activity(connection: sa.Connection, contact: Contact) -> dict[str, Any]:
    """The emails sent to them, what providers said about those, and mail they sent us."""
    sent = connection.execute(
        sa.select(sends.c.campaign, deliveries.c.status, deliveries.c.sent_at)
        .join(sends, sends.c.id == deliveries.c.send_id)
        .where(deliveries.c.contact_id == contact.id)
        .order_by(deliveries.c.id)
    ).all()
    told = connection.execute(
        sa.select(events.c.provider, events.c.event_type, events.c.occurred_at)
        .where(their_events(contact))
        .order_by(events.c.id)
    ).all()
    wrote = connection.execute(
        sa.select(inbound.c.id, inbound.c.subject, inbound.c.text, inbound.c.received_at)
        .where(their_replies(contact))
        .order_by(inbound.c.id)
    ).all()
    unread = connection.execute(
        sa.select(
            unreadable_events.c.provider,
            unreadable_events.c.reason,
            unreadable_events.c.raw,
            unreadable_events.c.received_at,
        )
        .where(their_unreadable(contact))
        .order_by(unreadable_events.c.id)
    ).all()
    files: dict[int, list[dict[str, Any]]] = {}
    for row in connection.execute(
        sa.select(attachments)
        .where(attachments.c.inbound_id.in_([r.id for r in wrote]))
        .order_by(attachments.c.inbound_id, attachments.c.position)
    ):
        files.setdefault(row.inbound_id, []).append(
            {
                "name": row.name,
                "type": row.content_type,
                "size": row.size,
                "file": row.path,
                "set_aside": row.set_aside,
            }
        )
    handles = connection.execute(
        sa.select(contact_handles.c.network, contact_handles.c.handle)
        .where(contact_handles.c.contact_id == contact.id)
        .order_by(contact_handles.c.network, contact_handles.c.handle)
    ).all()
    return {
        "handles": [{"network": n, "handle": h} for n, h in handles],
        "emails": [{"campaign": c, "status": s, "sent_at": iso(at)} for c, s, at in sent],
        "events": [{"provider": p, "type": t, "at": iso(at)} for p, t, at in told],
        "replies": [
            {
                "subject": r.subject,
                "text": r.text,
                "received_at": iso(r.received_at),
                "attachments": files.get(r.id, []),
            }
            for r in wrote
        ],
        # provider events engage could not read that name them (see docs/webhooks.md)
        "unreadable_events": [
            {"provider": p, "reason": r, "raw": raw, "received_at": iso(at)}
            for p, r, raw, at in unread
        ],
    }


def their_events(contact: Contact) -> sa.ColumnElement[bool]:
    return sa.or_(
        events.c.contact_id == contact.id,
        sa.func.lower(events.c.recipient).in_(spellings(contact)),
    )


def their_unreadable(contact: Contact) -> sa.ColumnElement[bool]:
    """Events engage could not read that name them: by the recipient read from it, else (best
    effort) by any spelling of their address anywhere in the text kept."""
    written = spellings(contact)
    return sa.or_(
        sa.func.lower(unreadable_events.c.recipient).in_(written),
        *(sa.func.lower(unreadable_events.c.raw).contains(s, autoescape=True) for s in written),
    )


def their_replies(contact: Contact) -> sa.ColumnElement[bool]:
    return sa.or_(
        inbound.c.contact_id == contact.id,
        sa.func.lower(inbound.c.sender).in_(spellings(contact)),
    )


def spellings(contact: Contact) -> list[str]:
    try:
        return sorted(mailbox(contact.email).spellings)
    except InvalidEmail:  # stored before engage was this strict
        return [contact.email.lower()]


# Every table that may hold something of a person (a row of theirs, or one naming them): what
# `erase` deletes from, so the store can clear the space those rows took (Store.scrub).
PERSONAL_TABLES = (
    "contacts",
    "contact_tags",
    "contact_handles",
    "contact_changes",
    "consents",
    "suppressions",
    "deliveries",
    "events",
    "unreadable_events",
    "outgoing",
    "inbound",
    "attachments",
    "stories",
    "story_drafts",
    "story_history",
    "story_uses",
    "audit_log",  # its entries that named them are changed, not deleted (engage/erasure.py)
)


@dataclass(frozen=True)
class Traces:
    """The files of what `remove` took out, for the caller to delete once it is committed."""

    attachments: list[str]  # their replies' files, in the attachments folder
    emails: list[str]  # the outbox files of the emails they were sent (outbox/...)


def remove(connection: sa.Connection, contact: Contact) -> Traces:
    """Delete every row outside the contact tables that holds something of theirs: provider
    events, their replies and those replies' attachments, unreadable events that name them, and
    engage's own emails to them or about their stories. Their deliveries, stories and the rows
    of the contact tables go with their contact row (ON DELETE CASCADE), by life.erase."""
    connection.execute(events.delete().where(their_events(contact)))
    replies = sa.select(inbound.c.id).where(their_replies(contact))
    files = list(
        connection.execute(
            sa.select(attachments.c.path).where(
                attachments.c.inbound_id.in_(replies), attachments.c.path.is_not(None)
            )
        ).scalars()
    )
    emails = list(
        connection.execute(
            sa.select(deliveries.c.provider_id).where(
                deliveries.c.contact_id == contact.id,
                deliveries.c.provider_id.startswith("outbox/"),
            )
        ).scalars()
    )
    connection.execute(attachments.delete().where(attachments.c.inbound_id.in_(replies)))
    connection.execute(inbound.delete().where(their_replies(contact)))
    connection.execute(unreadable_events.delete().where(their_unreadable(contact)))
    connection.execute(  # engage's own emails to them or about their stories, sent or waiting
        outgoing.delete().where(
            sa.or_(
                outgoing.c.contact_id == contact.id,
                outgoing.c.address_key == identity(contact.email),
                outgoing.c.story_id.in_(
                    sa.select(stories.c.id).where(stories.c.contact_id == contact.id)
                ),
            )
        )
    )
    return Traces(files, emails)
