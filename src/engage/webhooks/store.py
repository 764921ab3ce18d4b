"""Storing what the providers send: events once each, with their effects; inbound mail whole.

Effects: a hard bounce or a complaint puts the address on the suppression list and changes
the contact's status; an unsubscribe event withdraws consent. Each event is matched to its
delivery by the ids sent with the message (engage_delivery), else by our Message-ID, else by
the address alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa

from ..contacts import core
from ..replies.match import match_stored
from ..store.schema import contacts, deliveries, events, inbound
from ..tokens import BadToken, Signer
from .base import Event, InboundMessage

STATUS_FOR = {"bounced": "bounced", "complained": "complained"}


@dataclass
class Stored:
    new: int = 0
    repeated: int = 0


def record_events(connection: sa.Connection, found: list[Event]) -> Stored:
    stored = Stored()
    for event in found:
        exists = connection.execute(
            sa.select(events.c.id).where(
                events.c.provider == event.provider, events.c.event_id == event.event_id
            )
        ).first()
        if exists is not None:
            stored.repeated += 1
            continue
        delivery_id, contact_id = _match(connection, event)
        connection.execute(
            events.insert().values(
                provider=event.provider,
                event_id=event.event_id,
                event_type=event.event_type,
                recipient=event.recipient,
                delivery_id=delivery_id,
                contact_id=contact_id,
                occurred_at=event.timestamp,
                received_at=core.now(),
                reason=event.reason,
                raw=event.raw,
            )
        )
        _apply(connection, event, contact_id)
        stored.new += 1
    return stored


def _match(connection: sa.Connection, event: Event) -> tuple[int | None, int | None]:
    delivery = None
    wanted = event.metadata.get("engage_delivery", "")
    if wanted.isdigit():
        delivery = connection.execute(
            sa.select(deliveries.c.id, deliveries.c.contact_id).where(
                deliveries.c.id == int(wanted)
            )
        ).first()
    if delivery is None and event.message_id:
        delivery = connection.execute(
            sa.select(deliveries.c.id, deliveries.c.contact_id).where(
                deliveries.c.message_id == event.message_id
            )
        ).first()
    if delivery is not None:
        return delivery.id, delivery.contact_id
    contact = core.find(connection, event.recipient) if event.recipient else None
    return None, contact.id if contact else None


def _apply(connection: sa.Connection, event: Event, contact_id: int | None) -> None:
    address = event.recipient
    if contact_id is not None:
        address = (
            connection.execute(
                sa.select(contacts.c.email).where(contacts.c.id == contact_id)
            ).scalar()
            or address
        )
    if not address:
        return
    suppress = event.event_type == "complained" or (event.event_type == "bounced" and event.hard)
    if suppress:
        reason = STATUS_FOR[event.event_type]
        core.suppress(connection, address, reason, f"{event.provider} webhook")
        if contact_id is not None:
            connection.execute(
                contacts.update()
                .where(contacts.c.id == contact_id)
                .values(status=reason, updated_at=core.now())
            )
    elif event.event_type == "unsubscribed" and contact_id is not None:
        core.unsubscribe(connection, address, method="provider", source=f"{event.provider} webhook")


def record_inbound(connection: sa.Connection, message: InboundMessage, signer: Signer) -> bool:
    """Keep the mail whole, once; a mail to the unsubscribe address unsubscribes. True if new."""
    key = (
        message.message_id
        or "sha256:"
        + hashlib.sha256(json.dumps(message.raw, sort_keys=True, default=str).encode()).hexdigest()
    )
    if connection.execute(sa.select(inbound.c.id).where(inbound.c.dedupe_key == key)).first():
        return False
    inbound_id = connection.execute(
        inbound.insert().values(
            provider=message.provider,
            dedupe_key=key,
            sender=message.sender,
            sender_name=message.sender_name,
            recipient=message.recipient,
            subject=message.subject,
            text=message.text,
            html=message.html,
            message_id=message.message_id,
            in_reply_to=message.in_reply_to,
            references=message.references,
            headers=[list(h) for h in message.headers],
            raw=message.raw,
            received_at=core.now(),
        )
    ).inserted_primary_key[0]
    if not message.recipient.lower().startswith("unsubscribe+"):
        match_stored(connection, signer, inbound_id)
    _unsubscribe_by_mail(connection, message, signer)
    return True


def _unsubscribe_by_mail(
    connection: sa.Connection, message: InboundMessage, signer: Signer
) -> None:
    local, _, _ = message.recipient.partition("@")
    if not local.lower().startswith("unsubscribe+"):
        return
    try:
        contact_id, _send = signer.verify("u", local.split("+", 1)[1])
    except BadToken:
        return
    address = connection.execute(
        sa.select(contacts.c.email).where(contacts.c.id == contact_id)
    ).scalar()
    if address:
        core.unsubscribe(connection, address, method="email", source="unsubscribe mailto")
