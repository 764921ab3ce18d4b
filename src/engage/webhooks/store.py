"""Storing what the providers tell engage about its emails: each event once, with its effects.

Effects: a hard bounce or a complaint puts the address on the suppression list and changes
the contact's status; an unsubscribe event withdraws consent.

An event changes only the person it is about: its recipient. It is linked to a delivery by the
ids sent with the message (engage_delivery), else by our Message-ID, else by the provider's id
for the message (deliveries.provider_id, among that person's own deliveries), but only when
that delivery went to the same mailbox (contacts.identity.same_mailbox). Providers do share
one id across recipients (SendGrid's smtp-id, Mailgun's batches), so an id that names another
person's delivery is never followed: the event keeps its own recipient, and a note on it says
which delivery was named. An event with no recipient at all trusts its delivery. What an event
does to the person (a bounce, a complaint, an unsubscribe) is contacts/life.py's to do.

An event the provider signed but that engage cannot read (an Unreadable) is kept in
unreadable_events with the reason, once, and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa

from ..addresses import InvalidEmail
from ..contacts import core, life
from ..contacts.identity import identity, same_mailbox
from ..models import Event, Unreadable, unreadable
from ..store import guard
from ..store.schema import contacts, deliveries, events, unreadable_events

STATUS_FOR = {"bounced": "bounced", "complained": "complained"}


@dataclass
class Stored:
    new: int = 0
    repeated: int = 0
    unreadable: int = 0  # kept in unreadable_events (new or not)
    kept: int = 0  # of those, kept for the first time now

    @property
    def anything_new(self) -> bool:
        """Whether this request brought something not stored before (a replayed one may not)."""
        return bool(self.new or self.kept)


@dataclass(frozen=True)
class Match:
    delivery_id: int | None
    contact_id: int | None
    note: str = ""
    address: str = ""  # the contact's own address, when there is a contact


def record_events(connection: sa.Connection, found: Sequence[Event | Unreadable]) -> Stored:
    stored = Stored()
    for event in map(_fit, found):
        if isinstance(event, Unreadable):
            stored.kept += _keep_unreadable(connection, event)
            stored.unreadable += 1
            continue
        matched = _match(connection, event)
        added = connection.execute(
            _insert(connection),
            {
                "provider": event.provider,
                "event_id": event.event_id,
                "event_type": event.event_type,
                "recipient": event.recipient,
                "delivery_id": matched.delivery_id,
                "contact_id": matched.contact_id,
                "occurred_at": event.timestamp,
                "received_at": core.now(),
                "reason": event.reason,
                "raw": event.raw,
                "note": matched.note,
            },
        ).first()
        if added is None:  # stored before (this provider, this event id): nothing to do
            stored.repeated += 1
            continue
        _apply(connection, event, matched)
        stored.new += 1
    return stored


def _insert(connection: sa.Connection) -> sa.Executable:
    """The event, unless it is stored already, in one statement (a retry of it is common; two
    at the same moment are not an error): its id comes back only when it is new. Made once for
    each kind of database: under load, building a statement again for each event cost more
    than running it. Its values are given when it runs."""
    from ..store import conflict  # both dialects' modules: only when an event comes in

    name = connection.dialect.name
    if name not in _INSERT:
        insert = conflict.insert(connection, events).on_conflict_do_nothing(
            index_elements=["provider", "event_id"]
        )
        _INSERT[name] = insert.returning(events.c.id)
    return _INSERT[name]


_INSERT: dict[str, sa.Executable] = {}


def _fit(event: Event | Unreadable) -> Event | Unreadable:
    """The event fit for the store (store/guard.py). A recipient longer than any address
    (320 characters) is not a person's: the event is kept as unreadable and changes nothing."""
    if isinstance(event, Unreadable):
        return event
    recipient = guard.fit(event.recipient)
    most = guard.limit_of(events.c.recipient)
    if most is not None and len(recipient) > most:
        return unreadable(
            event.provider,
            f"{event.provider} {event.event_type} event: the recipient is {len(recipient):,} "
            f"characters long, longer than any email address ({most})",
            json.dumps(event.raw, default=str),
            stable=[event.provider, event.event_id],
        )
    return replace(event, recipient=recipient)


def _keep_unreadable(connection: sa.Connection, event: Unreadable) -> bool:
    """Keep `event` once; whether it is new."""
    exists = connection.execute(
        sa.select(unreadable_events.c.id).where(
            unreadable_events.c.provider == event.provider, unreadable_events.c.key == event.key
        )
    ).first()
    if exists is None:
        connection.execute(
            unreadable_events.insert().values(
                provider=event.provider,
                key=event.key,
                reason=event.reason,
                recipient=event.recipient,
                raw=event.raw,
                received_at=core.now(),
            )
        )
    return exists is None


def _match(connection: sa.Connection, event: Event) -> Match:
    """The event's person and delivery, read in one statement (a webhook under load spends
    its time in round trips to the database): the delivery named by the ids sent with the
    message, the one named by its Message-ID, and the contact whose mailbox the recipient is."""
    wanted = event.metadata.get("engage_delivery", "")
    by_id = int(wanted) if wanted.isascii() and wanted.isdigit() and len(wanted) < 10 else None
    try:
        key = identity(event.recipient) if event.recipient else None
    except InvalidEmail:
        key = None
    found = {
        row.way: row
        for row in connection.execute(
            CANDIDATES, {"id": by_id, "message_id": event.message_id or None, "key": key}
        )
    }
    person = found.get(PERSON)
    contact_id = person.contact_id if person else None
    note = ""
    ways = [
        (BY_ID, "the ids sent with the message"),
        (BY_MESSAGE_ID, f"its Message-ID {event.message_id}"),
    ]
    for way, how in ways:
        named = found.get(way)
        if named is None:
            continue
        if not event.recipient or _same(event.recipient, key, named):
            return Match(named.delivery_id, named.contact_id, note, named.email)
        note = note or (
            f"Not linked to delivery {named.delivery_id}: {how} named it, but it went to someone "
            "else. Only this event's own recipient was changed."
        )
    delivery_id = _by_provider_id(connection, event, contact_id)
    return Match(delivery_id, contact_id, note, person.email if person else "")


def _same(recipient: str, key: str | None, named: sa.Row) -> bool:
    """Whether the delivery went to the recipient's mailbox: their identity, read once for
    the event, against the one the contact has stored (contacts.email_key)."""
    return key == named.email_key if key is not None else same_mailbox(recipient, named.email)


BY_ID, BY_MESSAGE_ID, PERSON = 1, 2, 3


def _candidates() -> sa.CompoundSelect:
    def delivery(way: int, which: sa.ColumnElement[bool]) -> sa.Select:
        return (
            sa.select(
                sa.literal_column(str(way)).label("way"),
                deliveries.c.id.label("delivery_id"),
                deliveries.c.contact_id,
                contacts.c.email,
                contacts.c.email_key,
            )
            .join(contacts, contacts.c.id == deliveries.c.contact_id)
            .where(which)
        )

    first_with_message_id = (
        sa.select(sa.func.min(deliveries.c.id))
        .where(deliveries.c.message_id == sa.bindparam("message_id", type_=sa.String))
        .scalar_subquery()
    )
    person = sa.select(
        sa.literal_column(str(PERSON)),
        sa.cast(sa.null(), sa.Integer),
        contacts.c.id,
        contacts.c.email,
        contacts.c.email_key,
    ).where(contacts.c.email_key == sa.bindparam("key", type_=sa.String))
    return sa.union_all(
        delivery(BY_ID, deliveries.c.id == sa.bindparam("id", type_=sa.Integer)),
        delivery(BY_MESSAGE_ID, deliveries.c.id == first_with_message_id),
        person,
    )


CANDIDATES = _candidates()


def _by_provider_id(connection: sa.Connection, event: Event, contact_id: int | None) -> int | None:
    """The person's own delivery with the provider's id for the message (Postmark's MessageID;
    SendGrid's X-Message-Id, the part of sg_message_id before its first ".")."""
    given = event.provider_message_id
    if not given or contact_id is None:
        return None
    ids = {given, given.split(".", 1)[0]}
    return connection.execute(
        sa.select(deliveries.c.id)
        .where(deliveries.c.provider_id.in_(ids), deliveries.c.contact_id == contact_id)
        .order_by(deliveries.c.id)
    ).scalar()


def _apply(connection: sa.Connection, event: Event, matched: Match) -> None:
    contact_id = matched.contact_id
    address = matched.address or event.recipient
    if not address:
        return
    suppress = event.event_type == "complained" or (event.event_type == "bounced" and event.hard)
    if suppress:
        source = event.raw.get("source") or f"{event.provider} webhook"
        life.stopped_by_provider(
            connection, address, contact_id, STATUS_FOR[event.event_type], source
        )
    elif event.event_type == "unsubscribed" and contact_id is not None:
        life.unsubscribe(  # the person used their provider's unsubscribe link or button
            connection,
            address,
            method="provider",
            source=f"{event.provider} webhook",
            by=core.PERSON,
        )


@dataclass(frozen=True)
class Problem:
    """An event the team should look at: one engage could not read (kind "unreadable"), or
    one not linked to the email its ids named, because that went to someone else
    ("someone-else")."""

    kind: str
    provider: str
    received_at: dt.datetime
    recipient: str
    what: str  # the reason it could not be read, or the note
    raw: str = ""  # the unreadable event as it came
    event_type: str = ""


def problems(connection: sa.Connection, since: dt.datetime | None = None) -> list[Problem]:
    """Every problem (or those received since `since`), oldest first."""
    kept = sa.select(unreadable_events).order_by(unreadable_events.c.id)
    noted = sa.select(events).where(events.c.note != "").order_by(events.c.id)
    if since is not None:
        kept = kept.where(unreadable_events.c.received_at >= since)
        noted = noted.where(events.c.received_at >= since)
    found = [
        Problem("unreadable", r.provider, r.received_at, r.recipient, r.reason, r.raw)
        for r in connection.execute(kept)
    ]
    found += [
        Problem(
            "someone-else",
            r.provider,
            r.received_at,
            r.recipient,
            r.note,
            event_type=r.event_type,
        )
        for r in connection.execute(noted)
    ]
    return sorted(found, key=lambda p: p.received_at)
