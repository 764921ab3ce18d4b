"""One contact at a time: add, find, unsubscribe, export, erase; and the suppression list.

Every function takes an open Connection and runs inside the caller's transaction, so the CLI
and the web app decide what belongs together. Consent records are only ever added.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import getpass
import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from .. import clock
from ..errors import EngageError
from ..store.schema import (
    consents,
    contact_handles,
    contact_tags,
    contacts,
    deliveries,
    events,
    inbound,
    sends,
    suppressions,
    tags,
)

SUPPRESSED_STATUSES = ("unsubscribed", "bounced", "complained", "erased")


class ContactError(EngageError):
    """A contact cannot be found, added or changed as asked."""


class InvalidEmail(ValueError):
    """Not an email address; the message says why in plain words."""


def now() -> dt.datetime:
    return clock.now()


def actor() -> str:
    """Who is running engage: ENGAGE_USER, else the login name."""
    try:
        return os.environ.get("ENGAGE_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# The plain ASCII shape nearly every address has: letters, digits and a few marks before the @
# (dots not first, last or doubled), and a domain of ordinary labels. Such an address whose
# domain email-validator has already passed needs no second look; anything else gets one.
_PLAIN = re.compile(
    r"^(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)


@functools.lru_cache(maxsize=4096)
def _domain_ok(domain: str) -> bool:
    try:
        validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def normalise_email(raw: str) -> str:
    """The address as stored: the domain in lower case, the local part as written."""
    text = raw.strip()
    if not text:
        raise InvalidEmail("the email address is empty")
    plain = _PLAIN.match(text)
    if (
        plain
        and len(plain["local"]) <= 64
        and len(text) <= 254
        and _domain_ok(plain["domain"].lower())
    ):
        return f"{plain['local']}@{plain['domain'].lower()}"
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        reason = str(exc).rstrip(".")
        raise InvalidEmail(f"'{text}' is not a valid email address: {reason}") from None
    return f"{checked.local_part}@{checked.domain.lower()}"


def email_hash(email: str) -> str:
    """What the suppression list keeps: enough to recognise an address, not to read it."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


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
    try:
        address = normalise_email(email)
    except InvalidEmail:
        return None
    row = connection.execute(sa.select(contacts).where(contacts.c.email == address)).first()
    if row is None:  # people rarely type the part before the @ the same way twice
        rows = connection.execute(
            sa.select(contacts).where(sa.func.lower(contacts.c.email) == address.lower())
        ).all()
        if len(rows) != 1:
            return None
        row = rows[0]
    return _contact(row, tags_of(connection, [row.id]).get(row.id, []))


def get(connection: sa.Connection, email: str) -> Contact:
    found = find(connection, email)
    if found is None:
        raise ContactError(f"No contact with the address {email.strip()}.")
    return found


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


def suppression(connection: sa.Connection, email: str) -> sa.Row | None:
    query = sa.select(suppressions).where(suppressions.c.email_hash == email_hash(email))
    return connection.execute(query).first()


def suppress(connection: sa.Connection, email: str, reason: str, source: str) -> None:
    """Add an address to the suppression list, once; the first reason stays."""
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
        address = normalise_email(email)
    except InvalidEmail as exc:
        raise ContactError(str(exc)[0].upper() + str(exc)[1:] + ".") from None
    blocked = suppression(connection, address)
    if blocked is not None:
        raise ContactError(suppressed_message(address, blocked))
    if find(connection, address) is not None:
        raise ContactError(f"{address} is already a contact. See it with `engage contacts show`.")
    at = now()
    contact_id = connection.execute(
        contacts.insert().values(
            email=address,
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
    return get(connection, address)


def unsubscribe(connection: sa.Connection, email: str, method: str, source: str) -> Contact:
    """Withdraw consent: status unsubscribed, a withdrawal record, and a suppression entry."""
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
                actor=actor(),
                recorded_at=at,
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


def export(connection: sa.Connection, email: str) -> dict[str, Any]:
    """Everything engage holds about one person, for a subject access request."""
    from .timeline import timeline

    contact = get(connection, email)
    blocked = suppression(connection, contact.email)
    return {
        "contact": contact.as_dict(),
        "consents": consent_history(connection, contact.id),
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
        sa.select(inbound.c.subject, inbound.c.text, inbound.c.received_at)
        .where(_their_replies(contact))
        .order_by(inbound.c.id)
    ).all()
    handles = connection.execute(
        sa.select(contact_handles.c.network, contact_handles.c.handle)
        .where(contact_handles.c.contact_id == contact.id)
        .order_by(contact_handles.c.network, contact_handles.c.handle)
    ).all()
    return {
        "handles": [{"network": n, "handle": h} for n, h in handles],
        "emails": [{"campaign": c, "status": s, "sent_at": iso(at)} for c, s, at in sent],
        "events": [{"provider": p, "type": t, "at": iso(at)} for p, t, at in told],
        "replies": [{"subject": s, "text": t, "received_at": iso(at)} for s, t, at in wrote],
    }


def _their_events(contact: Contact) -> sa.ColumnElement[bool]:
    return sa.or_(
        events.c.contact_id == contact.id,
        sa.func.lower(events.c.recipient) == contact.email.lower(),
    )


def _their_replies(contact: Contact) -> sa.ColumnElement[bool]:
    return sa.or_(
        inbound.c.contact_id == contact.id,
        sa.func.lower(inbound.c.sender) == contact.email.lower(),
    )


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


def erase(connection: sa.Connection, email: str) -> None:
    """Remove the person and all their records; keep only a hash so they are never mailed."""
    contact = get(connection, email)
    connection.execute(events.delete().where(_their_events(contact)))
    connection.execute(inbound.delete().where(_their_replies(contact)))
    connection.execute(contacts.delete().where(contacts.c.id == contact.id))
    address_hash = email_hash(contact.email)
    existing = suppression(connection, contact.email)
    if existing is None:
        connection.execute(
            suppressions.insert().values(
                email_hash=address_hash,
                email=None,
                reason="erased",
                source="erase",
                created_at=now(),
            )
        )
    else:
        connection.execute(
            suppressions.update()
            .where(suppressions.c.email_hash == address_hash)
            .values(email=None, reason="erased", source="erase")
        )


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
