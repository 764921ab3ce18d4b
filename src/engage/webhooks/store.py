"""Storing what the providers send: events once each, with their effects; inbound mail whole.

Effects: a hard bounce or a complaint puts the address on the suppression list and changes
the contact's status; an unsubscribe event withdraws consent. Each event is matched to its
delivery by the ids sent with the message (engage_delivery), else by our Message-ID, else by
the recipient's mailbox alone, however the provider spells it (see `identity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..contacts import core
from ..store.schema import contacts, deliveries, events
from .base import Event, InboundMessage

if TYPE_CHECKING:
    from ..replies.inbox import Inbox

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
        core.suppress(
            connection, address, reason, event.raw.get("source") or f"{event.provider} webhook"
        )
        if contact_id is not None:
            connection.execute(
                contacts.update()
                .where(contacts.c.id == contact_id)
                .values(status=reason, updated_at=core.now())
            )
    elif event.event_type == "unsubscribed" and contact_id is not None:
        core.unsubscribe(  # the person used their provider's unsubscribe link or button
            connection,
            address,
            method="provider",
            source=f"{event.provider} webhook",
            by=core.PERSON,
        )


def record_inbound(connection: sa.Connection, message: InboundMessage, inbox: Inbox) -> bool:
    """Keep the mail whole, once, through the replies inbox (matched, cleaned, triaged; a mail
    to the unsubscribe address unsubscribes). True if new."""
    return inbox.take(connection, message).new
