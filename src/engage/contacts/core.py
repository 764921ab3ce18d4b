"""One contact at a time: add, find, unsubscribe, export, erase; and the suppression list.

Every function takes an open Connection and runs inside the caller's transaction, so the CLI
and the web app decide what belongs together. Consent records are only ever added.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from .. import clock
from ..addresses import (  # noqa: F401  (every way in reads addresses through these)
    InvalidEmail,
    LocalPartTooLong,
    Mailbox,
    ascii_address,
    email_hash,
    email_hashes,
    identity,
    mailbox,
    normalise_email,
)
from ..errors import EngageError
from ..store.schema import (
    attachments,
    consents,
    contact_changes,
    contact_handles,
    contact_tags,
    contacts,
    deliveries,
    events,
    inbound,
    outgoing,
    sends,
    stories,
    suppressions,
    tags,
    unreadable_events,
)

SUPPRESSED_STATUSES = ("unsubscribed", "bounced", "complained", "erased")
# Who made a change the person made themselves (a link in an email, a web page, a reply), as
# records name it; a change the team made names the team member (see `actor`).
PERSON = "the person"


class ContactError(EngageError):
    """A contact cannot be found, added or changed as asked."""


def now() -> dt.datetime:
    return clock.now()


def actor() -> str:
    """Who is running engage: ENGAGE_USER, else the login name."""
    try:
        return os.environ.get("ENGAGE_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class Contact:
    id: int
    email: str
    name: str
    first_name: str
    format: str
    status: str
    attributes: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    tags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "first_name": self.first_name,
            "status": self.status,
            "format": self.format,
            "tags": self.tags,
            "attributes": self.attributes,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


CONTACT_COLUMNS = [contacts.c[f.name] for f in dataclasses.fields(Contact) if f.name != "tags"]


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives back naive datetimes; we only ever store UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def _contact(row: sa.Row, tag_names: list[str]) -> Contact:
    return Contact(
        id=row.id,
        email=row.email,
        name=row.name,
        first_name=row.first_name,
        format=row.format,
        status=row.status,
        attributes=row.attributes or {},
        created_at=row.created_at,
        updated_at=row.updated_at,
        tags=sorted(tag_names),
    )


def find(connection: sa.Connection, email: str) -> Contact | None:
    """The contact whose mailbox this is, however it is spelled; None if there is none (or the
    address cannot be one)."""
    try:
        key = identity(email)
    except InvalidEmail:
        return None
    row = connection.execute(sa.select(contacts).where(contacts.c.email_key == key)).first()
    if row is None:
        return None
    return _contact(row, tags_of(connection, [row.id]).get(row.id, []))


def get(connection: sa.Connection, email: str) -> Contact:
    try:
        identity(email)
    except InvalidEmail as exc:
        raise ContactError(sentence(exc)) from None
    found = find(connection, email)
    if found is None:
        raise ContactError(f"No contact with the address {email.strip()}.")
    return found


def sentence(problem: InvalidEmail) -> str:
    text = str(problem)
    return text[0].upper() + text[1:] + "."


def tags_of(connection: sa.Connection, ids: list[int] | sa.Select) -> dict[int, list[str]]:
    """Tag names for each contact id in `ids` (a list, or a query of ids)."""
    found: dict[int, list[str]] = {}
    query = (
        sa.select(contact_tags.c.contact_id, tags.c.name)
        .join(tags, tags.c.id == contact_tags.c.tag_id)
        .where(contact_tags.c.contact_id.in_(ids))
    )
    for contact_id, name in connection.execute(query):
        found.setdefault(contact_id, []).append(name)
    return found


def tag_ids(connection: sa.Connection, names: set[str]) -> dict[str, int]:
    """The ids of these tags, creating the ones that do not exist yet."""
    if not names:
        return {}
    query = sa.select(tags.c.name, tags.c.id).where(tags.c.name.in_(names))
    known = dict(connection.execute(query).all())
    missing = sorted(names - set(known))
    if missing:
        connection.execute(tags.insert(), [{"name": n, "is_topic": False} for n in missing])
        known.update(connection.execute(query).all())
    return known


def add_tags(connection: sa.Connection, contact_id: int, names: set[str], have: list[str]) -> bool:
    new = names - set(have)
    if not new:
        return False
    ids = tag_ids(connection, new)
    connection.execute(
        contact_tags.insert(), [{"contact_id": contact_id, "tag_id": ids[n]} for n in sorted(new)]
    )
    return True


def remove_tags(connection: sa.Connection, contact_id: int, names: set[str]) -> None:
    named = sa.select(tags.c.id).where(tags.c.name.in_(names))
    connection.execute(
        contact_tags.delete().where(
            contact_tags.c.contact_id == contact_id, contact_tags.c.tag_id.in_(named)
        )
    )


def note_change(
    connection: sa.Connection, contact_id: int, kind: str, detail: str, *, by: str, source: str
) -> None:
    """Record a change to a person's tags or format (`kind` from CHANGE_KINDS): what, who
    made it (PERSON or a team member) and from where. Their timeline shows it."""
    connection.execute(
        contact_changes.insert().values(
            contact_id=contact_id, kind=kind, detail=detail, actor=by, source=source, at=now()
        )
    )


def suppression(connection: sa.Connection, email: str) -> sa.Row | None:
    """The suppression entry for this mailbox, under any spelling; None if it has none."""
    query = (
        sa.select(suppressions)
        .where(suppressions.c.email_hash.in_(email_hashes(email)))
        .order_by(suppressions.c.id)
    )
    return connection.execute(query).first()


def suppressed_among(connection: sa.Connection, emails: Iterable[str]) -> dict[str, str]:
    """For each of `emails` on the suppression list (under any spelling), the reason."""
    wanted: dict[str, list[str]] = {}
    for email in emails:
        for hashed in email_hashes(email):
            wanted.setdefault(hashed, []).append(email)
    found: dict[str, str] = {}
    query = sa.select(suppressions.c.email_hash, suppressions.c.reason).order_by(suppressions.c.id)
    hashes = list(wanted)
    for start in range(0, len(hashes), 1000):
        chunk = query.where(suppressions.c.email_hash.in_(hashes[start : start + 1000]))
        for hashed, reason in connection.execute(chunk):
            for email in wanted[hashed]:
                found.setdefault(email, reason)
    return found


def suppress(connection: sa.Connection, email: str, reason: str, source: str) -> None:
    """Add a mailbox to the suppression list, once; the first reason stays."""
    if suppression(connection, email) is None:
        connection.execute(
            suppressions.insert().values(
                email_hash=email_hash(email),
                email=email,
                reason=reason,
                source=source,
                created_at=now(),
            )
        )


def lift_suppression(connection: sa.Connection, email: str) -> None:
    """Take a mailbox off the suppression list, under every spelling (only a new, confirmed
    sign-up may do this)."""
    connection.execute(
        suppressions.delete().where(suppressions.c.email_hash.in_(email_hashes(email)))
    )


def suppressed_message(email: str, row: sa.Row) -> str:
    when = iso(row.created_at) or ""
    return (
        f"{email} is on the suppression list ({row.reason} on {when[:10]}); "
        "engage never subscribes it again."
    )


@dataclass(frozen=True)
class ConsentGiven:
    basis: str = "consent"
    method: str = "manual"
    source: str = ""
    wording: str = ""
    opt_out_offered: bool = True
    actor: str = ""
    import_id: int | None = None

    def record(self, contact_id: int, at: dt.datetime) -> dict[str, Any]:
        return {
            "contact_id": contact_id,
            "action": "given",
            "basis": self.basis,
            "channel": "email",
            "method": self.method,
            "source": self.source,
            "wording": self.wording,
            "opt_out_offered": self.opt_out_offered,
            "actor": self.actor or actor(),
            "recorded_at": at,
            "import_id": self.import_id,
        }


def add(
    connection: sa.Connection,
    email: str,
    consent: ConsentGiven,
    name: str = "",
    first_name: str = "",
    format: str = "html",
    tag_names: set[str] | None = None,
    attributes: dict[str, Any] | None = None,
) -> Contact:
    """Add a subscribed contact with its consent record. A suppressed address is refused."""
    try:
        address = mailbox(email)
    except InvalidEmail as exc:
        raise ContactError(sentence(exc)) from None
    blocked = suppression(connection, address.email)
    if blocked is not None:
        raise ContactError(suppressed_message(address.email, blocked))
    known = find(connection, address.email)
    if known is not None:
        written = "" if known.email == address.email else f", written {known.email}"
        raise ContactError(
            f"{address.email} is already a contact{written}. See it with `engage contacts show`."
        )
    at = now()
    contact_id = connection.execute(
        contacts.insert().values(
            email=address.email,
            name=name,
            first_name=first_name,
            format=format,
            status="subscribed",
            attributes=attributes or {},
            created_at=at,
            updated_at=at,
        )
    ).inserted_primary_key[0]
    connection.execute(consents.insert().values(**consent.record(contact_id, at)))
    add_tags(connection, contact_id, tag_names or set(), [])
    return get(connection, address.email)


def unsubscribe(
    connection: sa.Connection,
    email: str,
    method: str,
    source: str,
    *,
    by: str,
    send_id: int | None = None,
) -> Contact:
    """Withdraw consent: status unsubscribed, a withdrawal record, and a suppression entry.
    `by` is who did it: PERSON when the person asked (a link, a reply, their provider), else
    the team member (`actor()`). `send_id`: the send whose email they used to ask."""
    contact = get(connection, email)
    at = now()
    if contact.status not in SUPPRESSED_STATUSES:
        connection.execute(
            contacts.update()
            .where(contacts.c.id == contact.id)
            .values(status="unsubscribed", updated_at=at)
        )
        connection.execute(
            consents.insert().values(
                contact_id=contact.id,
                action="withdrawn",
                basis=_last_basis(connection, contact.id),
                channel="email",
                method=method,
                source=source,
                wording="",
                opt_out_offered=True,
                actor=by,
                recorded_at=at,
                send_id=send_id,
            )
        )
    suppress(connection, contact.email, "unsubscribed", source)
    return get(connection, contact.email)


def _last_basis(connection: sa.Connection, contact_id: int) -> str:
    query = (
        sa.select(consents.c.basis)
        .where(consents.c.contact_id == contact_id)
        .order_by(consents.c.id.desc())
        .limit(1)
    )
    return connection.execute(query).scalar() or "consent"


def consent_history(connection: sa.Connection, contact_id: int) -> list[dict[str, Any]]:
    """Consent to be mailed (a story's publishing choices are in the person's timeline)."""
    query = (
        sa.select(consents)
        .where(consents.c.contact_id == contact_id, consents.c.story_id.is_(None))
        .order_by(consents.c.id)
    )
    return [
        {
            "action": row.action,
            "basis": row.basis,
            "channel": row.channel,
            "method": row.method,
            "source": row.source,
            "wording": row.wording,
            "opt_out_offered": row.opt_out_offered,
            "actor": row.actor,
            "recorded_at": iso(row.recorded_at),
        }
        for row in connection.execute(query)
    ]


def _changes(connection: sa.Connection, contact_id: int) -> list[dict[str, Any]]:
    query = (
        sa.select(contact_changes)
        .where(contact_changes.c.contact_id == contact_id)
        .order_by(contact_changes.c.id)
    )
    return [
        {"kind": r.kind, "detail": r.detail, "actor": r.actor, "source": r.source, "at": iso(r.at)}
        for r in connection.execute(query)
    ]


def export(connection: sa.Connection, email: str) -> dict[str, Any]:
    """Everything engage holds about one person, for a subject access request."""
    from .timeline import timeline

    contact = get(connection, email)
    blocked = suppression(connection, contact.email)
    return {
        "contact": contact.as_dict(),
        "consents": consent_history(connection, contact.id),
        "changes": _changes(connection, contact.id),
        **_activity(connection, contact),
        "timeline": timeline(connection, contact),
        "suppression": None
        if blocked is None
        else {
            "reason": blocked.reason,
            "source": blocked.source,
            "since": iso(blocked.created_at),
        },
    }


def _activity(connection: sa.Connection, contact: Contact) -> dict[str, Any]:
    """The emails sent to them, what providers said about those, and mail they sent us."""
    sent = connection.execute(
        sa.select(sends.c.campaign, deliveries.c.status, deliveries.c.sent_at)
        .join(sends, sends.c.id == deliveries.c.send_id)
        .where(deliveries.c.contact_id == contact.id)
        .order_by(deliveries.c.id)
    ).all()
    told = connection.execute(
        sa.select(events.c.provider, events.c.event_type, events.c.occurred_at)
        .where(_their_events(contact))
        .order_by(events.c.id)
    ).all()
    wrote = connection.execute(
        sa.select(inbound.c.id, inbound.c.subject, inbound.c.text, inbound.c.received_at)
        .where(_their_replies(contact))
        .order_by(inbound.c.id)
    ).all()
    unread = connection.execute(
        sa.select(
            unreadable_events.c.provider,
            unreadable_events.c.reason,
            unreadable_events.c.raw,
            unreadable_events.c.received_at,
        )
        .where(_their_unreadable(contact))
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


def _their_events(contact: Contact) -> sa.ColumnElement[bool]:
    return sa.or_(
        events.c.contact_id == contact.id,
        sa.func.lower(events.c.recipient).in_(_spellings(contact)),
    )


def _their_unreadable(contact: Contact) -> sa.ColumnElement[bool]:
    """Events engage could not read that name them: by the recipient read from it, else (best
    effort) by any spelling of their address anywhere in the text kept."""
    spellings = _spellings(contact)
    return sa.or_(
        sa.func.lower(unreadable_events.c.recipient).in_(spellings),
        *(sa.func.lower(unreadable_events.c.raw).contains(s, autoescape=True) for s in spellings),
    )


def _their_replies(contact: Contact) -> sa.ColumnElement[bool]:
    return sa.or_(
        inbound.c.contact_id == contact.id,
        sa.func.lower(inbound.c.sender).in_(_spellings(contact)),
    )


def _spellings(contact: Contact) -> list[str]:
    try:
        return sorted(mailbox(contact.email).spellings)
    except InvalidEmail:  # stored before engage was this strict
        return [contact.email.lower()]


def add_handle(connection: sa.Connection, email: str, network: str, handle: str) -> int:
    """Note a person's handle on a social network; their replies there, earlier ones included,
    are then matched to them. Returns how many earlier replies were matched."""
    contact = get(connection, email)
    handle = handle.strip().lstrip("@").lower()
    taken = connection.execute(
        sa.select(contact_handles.c.contact_id).where(
            contact_handles.c.network == network, contact_handles.c.handle == handle
        )
    ).first()
    if taken is not None and taken.contact_id != contact.id:
        owner = connection.execute(
            sa.select(contacts.c.email).where(contacts.c.id == taken.contact_id)
        ).scalar()
        raise ContactError(
            f"{network} handle {handle} already belongs to {owner}. "
            f"Remove it there first: engage contacts handle {owner} {network} {handle} --remove"
        )
    if taken is None:
        connection.execute(
            contact_handles.insert().values(contact_id=contact.id, network=network, handle=handle)
        )
    earlier = (
        sa.select(inbound.c.id)
        .where(
            inbound.c.contact_id.is_(None),
            sa.func.lower(inbound.c.sender) == handle,
            inbound.c.raw["network"].as_string() == network,
        )
        .scalar_subquery()
    )
    return connection.execute(
        inbound.update()
        .where(inbound.c.id.in_(earlier))
        .values(contact_id=contact.id, matched_by="handle")
    ).rowcount


def remove_handle(connection: sa.Connection, email: str, network: str, handle: str) -> bool:
    contact = get(connection, email)
    return bool(
        connection.execute(
            contact_handles.delete().where(
                contact_handles.c.contact_id == contact.id,
                contact_handles.c.network == network,
                contact_handles.c.handle == handle.strip().lstrip("@").lower(),
            )
        ).rowcount
    )


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
)


@dataclass(frozen=True)
class Erasure:
    """What `erase` leaves for the caller to do once its transaction is committed."""

    spellings: list[str]  # every lower-cased way their address may have been written down
    attachments: list[str]  # their replies' files, in the attachments folder
    emails: list[str]  # the outbox files of the emails they were sent (outbox/...)
    tables: tuple[str, ...] = PERSONAL_TABLES


def erase(connection: sa.Connection, email: str) -> Erasure:
    """Remove the person and all their records; keep only a hash so they are never mailed,
    under any spelling of their address. Their stories, consents, handles, changes and
    deliveries go with their contact row (ON DELETE CASCADE). The files named in the answer are
    for the caller to remove once this transaction is committed (contacts.erasure does all)."""
    contact = get(connection, email)
    connection.execute(events.delete().where(_their_events(contact)))
    replies = sa.select(inbound.c.id).where(_their_replies(contact))
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
    connection.execute(inbound.delete().where(_their_replies(contact)))
    connection.execute(unreadable_events.delete().where(_their_unreadable(contact)))
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
    connection.execute(contacts.delete().where(contacts.c.id == contact.id))
    hashes = email_hashes(contact.email)
    since = connection.execute(
        sa.select(sa.func.min(suppressions.c.created_at)).where(
            suppressions.c.email_hash.in_(hashes)
        )
    ).scalar()
    connection.execute(suppressions.delete().where(suppressions.c.email_hash.in_(hashes)))
    connection.execute(
        suppressions.insert().values(
            email_hash=hashes[0],
            email=None,
            reason="erased",
            source="erase",
            created_at=since or now(),
        )
    )
    return Erasure(_spellings(contact), files, emails)


def listing(
    connection: sa.Connection,
    status: str | None = None,
    tag: str | None = None,
    within: sa.Select | None = None,
) -> list[Contact]:
    """Contacts ordered by email, filtered by status, tag and an id query (an audience)."""
    ids = sa.select(contacts.c.id)
    if status:
        ids = ids.where(contacts.c.status == status)
    if tag:
        tagged = (
            sa.select(contact_tags.c.contact_id)
            .join(tags, tags.c.id == contact_tags.c.tag_id)
            .where(tags.c.name == tag)
        )
        ids = ids.where(contacts.c.id.in_(tagged))
    if within is not None:
        ids = ids.where(contacts.c.id.in_(within))
    rows = connection.execute(sa.select(*CONTACT_COLUMNS).where(contacts.c.id.in_(ids))).all()
    names = tags_of(connection, ids)
    found = [Contact(*row, tags=sorted(names.get(row[0], []))) for row in rows]
    return sorted(found, key=lambda c: c.email)  # code-point order, the same on every database
