"""The one writer of a contact's life: every change to the contact tables (contacts, consents,
suppressions, tags, contact_tags, contact_changes, contact_handles) is made here.

Each function here is one change in the table of allowed changes (contacts/moves.py) and asks
it first, so no path can make a change the table does not allow.

Every function takes an open Connection and runs inside the caller's transaction. Consent
records are only ever added.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..addresses import InvalidEmail, mailbox
from ..store.schema import (
    consents,
    contact_changes,
    contact_handles,
    contact_tags,
    contacts,
    inbound,
    suppressions,
    tags,
)
from ..team import audit
from . import traces
from .core import (
    PERSON,
    ConsentGiven,
    Contact,
    ContactError,
    find,
    get,
    now,
    sentence,
    suppressed_message,
    suppression,
)
from .identity import email_hash, email_hashes
from .moves import NEW, PROVIDER, TEAM, check, who


def _set_status(connection: sa.Connection, contact_id: int, status: str, at: dt.datetime) -> None:
    connection.execute(
        contacts.update().where(contacts.c.id == contact_id).values(status=status, updated_at=at)
    )


def _insert(
    connection: sa.Connection, email: str, status: str, at: dt.datetime, **values: Any
) -> int:
    row = {"name": "", "first_name": "", "format": "html", "attributes": {}, **values}
    query = contacts.insert().values(email=email, status=status, created_at=at, updated_at=at)
    inserted = connection.execute(query.values(**row)).inserted_primary_key
    assert inserted is not None  # an insert always has its key
    return int(inserted[0])


def add(
    connection: sa.Connection,
    email: str,
    consent: ConsentGiven,
    name: str = "",
    first_name: str = "",
    format: str = "html",
    tag_names: set[str] | None = None,
    lang: str = "",
    attributes: dict[str, Any] | None = None,
) -> Contact:
    """The team adds a subscribed contact with its consent record. A suppressed address is
    refused."""
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
    check("add", NEW, TEAM)
    at = now()
    info = {"name": name, "first_name": first_name, "format": format, "lang": lang}
    contact_id = _insert(
        connection, address.email, "subscribed", at, **info, attributes=attributes or {}
    )
    connection.execute(consents.insert().values(**consent.record(contact_id, at)))
    add_tags(connection, contact_id, tag_names or set(), [])
    return get(connection, address.email)


def sign_up(connection: sa.Connection, address: str, name: str, fmt: str, lang: str = "") -> int:
    """A new address signs up: a pending contact, with no consent until they confirm."""
    check("sign-up", NEW, PERSON)
    first = name.split(" ")[0] if name else ""
    values = {"name": name, "first_name": first, "format": fmt, "lang": lang}
    return _insert(connection, address, "pending", now(), **values)


def add_sender(connection: sa.Connection, address: str) -> int:
    """Someone we do not know wrote to us: a pending contact with no consent, never mailed."""
    check("sender", NEW, PERSON)
    return _insert(connection, address, "pending", now())


def confirm(
    connection: sa.Connection, contact_id: int, email: str, status: str, consent: ConsentGiven
) -> None:
    """The person confirmed their sign-up from their own mailbox: subscribed, their consent
    recorded and any suppression of their address lifted, since they asked again."""
    if not check("confirm", status, PERSON):
        return
    at = now()
    _set_status(connection, contact_id, "subscribed", at)
    connection.execute(consents.insert().values(**consent.record(contact_id, at)))
    connection.execute(  # under every spelling
        suppressions.delete().where(suppressions.c.email_hash.in_(email_hashes(email)))
    )


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
    if check("unsubscribe", contact.status, who(by)):
        _set_status(connection, contact.id, "unsubscribed", at)
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


def unsubscribe_for_them(
    connection: sa.Connection, email: str, *, actor: str, source: str
) -> tuple[Contact, bool]:
    """The team unsubscribes a person who asked them (by phone, by letter, by email): as
    `unsubscribe`, done by `actor` (a team member's address in the console,
    audit.command_line() at the command line) and noted in the audit log in this transaction.
    Returns the contact and whether it changed anything (not for someone already suppressed)."""
    before = get(connection, email)
    contact = unsubscribe(connection, before.email, method="manual", source=source, by=actor)
    changed = contact.status != before.status
    if changed:
        audit.record(connection, actor, "unsubscribed", contact.email, f"from {source}")
    return contact, changed


def _last_basis(connection: sa.Connection, contact_id: int) -> str:
    query = (
        sa.select(consents.c.basis)
        .where(consents.c.contact_id == contact_id)
        .order_by(consents.c.id.desc())
        .limit(1)
    )
    return connection.execute(query).scalar() or "consent"


def stopped_by_provider(
    connection: sa.Connection, address: str, contact_id: int | None, reason: str, source: str
) -> None:
    """A hard bounce or a complaint (`reason` bounced or complained): the mailbox goes on the
    suppression list and its contact, if any, takes that status. Never a subscription."""
    suppress(connection, address, reason, source)
    if contact_id is None:
        return
    query = sa.select(contacts.c.status).where(contacts.c.id == contact_id)
    status = connection.execute(query).scalar()
    move = {"bounced": "bounce", "complained": "complain"}[reason]
    if status is not None and check(move, status, PROVIDER):
        _set_status(connection, contact_id, reason, now())


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


def tag_ids(connection: sa.Connection, names: set[str]) -> dict[str, int]:
    """The ids of these tags, creating the ones that do not exist yet."""
    if not names:
        return {}
    query = sa.select(tags.c.name, tags.c.id).where(tags.c.name.in_(names))
    known = {row[0]: row[1] for row in connection.execute(query)}
    missing = sorted(names - set(known))
    if missing:
        connection.execute(tags.insert(), [{"name": n, "is_topic": False} for n in missing])
        known.update({row[0]: row[1] for row in connection.execute(query)})
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


def give_tags(
    connection: sa.Connection, contact: Contact, names: list[str], *, by: str, source: str
) -> list[str]:
    """Give a sign-up the tags it lacks, recorded as a change; returns those given."""
    new = [name for name in dict.fromkeys(names) if name not in contact.tags]
    if new and check("tags", contact.status, who(by)):
        add_tags(connection, contact.id, set(new), contact.tags)
        _note(connection, contact.id, "signup-tags", ", ".join(new), by=by, source=source)
    return new


def save_preferences(
    connection: sa.Connection,
    contact: Contact,
    fmt: str,
    tags_changed: tuple[set[str], set[str]],
    said: str,
    source: str,
    lang: str | None = None,
) -> None:
    """The person's new choices on their preferences page: their format, their language (None:
    as it was), the topic tags (added, taken off), and the change recorded in their words
    (`said`)."""
    check("preferences", contact.status, PERSON)
    added, dropped = tags_changed
    values = {"format": fmt, "updated_at": now()}
    if lang is not None:
        values["lang"] = lang
    connection.execute(contacts.update().where(contacts.c.id == contact.id).values(**values))
    named = sa.select(tags.c.id).where(tags.c.name.in_(dropped))
    connection.execute(
        contact_tags.delete().where(
            contact_tags.c.contact_id == contact.id, contact_tags.c.tag_id.in_(named)
        )
    )
    add_tags(connection, contact.id, added, [])
    _note(connection, contact.id, "preferences", said, by=PERSON, source=source)


def _note(
    connection: sa.Connection, contact_id: int, kind: str, detail: str, *, by: str, source: str
) -> None:
    """Record a change to a person's tags or format (`kind` from CHANGE_KINDS): what, who
    made it (PERSON or a team member) and from where. Their timeline shows it."""
    connection.execute(
        contact_changes.insert().values(
            contact_id=contact_id, kind=kind, detail=detail, actor=by, source=source, at=now()
        )
    )


def import_new(connection: sa.Connection, new: list[dict[str, Any]]) -> list[int]:
    """Add one chunk of an import's new contacts at once, each given with its `email_key`;
    returns their ids, in order. Ids are matched back by key: asking for them in the order
    given would cost SQLite one statement a row."""
    if not new:
        return []
    query = contacts.insert().returning(contacts.c.email_key, contacts.c.id)
    ids = {key: id_ for key, id_ in connection.execute(query, new)}
    return [ids[row["email_key"]] for row in new]


def import_changes(
    connection: sa.Connection,
    changed: list[dict[str, Any]],
    tagged: list[tuple[int, str]],
    consent: dict[str, Any],
    consenting: list[int],
) -> None:
    """Write one chunk of an import's changes at once: the `changed` contacts (each with its
    id as `id_`), the (contact id, tag) pairs to add, and the consent record `consent` (without
    its contact_id) given to each contact in `consenting`. The importer has asked `may_import`
    of each contact first."""
    if changed:
        connection.execute(contacts.update().where(contacts.c.id == sa.bindparam("id_")), changed)
    if tagged:
        _tag_many(connection, tagged)
    if consenting:
        # One statement with the record's values bound once, not a row of values for each.
        names = [name for name in consent if name != "contact_id"]
        each = [sa.literal(consent[n], consents.c[n].type) for n in names]
        chosen = sa.select(contacts.c.id, *each).where(contacts.c.id.in_(consenting))
        query = consents.insert().from_select(
            ["contact_id", *names], chosen.order_by(contacts.c.id)
        )
        connection.execute(query)


GROUPED = 20  # a tag given to at least this many contacts of a chunk is added in one statement


def _tag_many(connection: sa.Connection, tagged: list[tuple[int, str]]) -> None:
    """Add (contact id, tag) pairs: a tag most of the chunk shares in one statement for all
    its contacts, the other pairs as rows."""
    found = tag_ids(connection, {name for _, name in tagged})
    by_tag: dict[int, list[int]] = {}
    for contact_id, name in tagged:
        by_tag.setdefault(found[name], []).append(contact_id)
    rows = []
    for tag_id, ids in by_tag.items():
        if len(ids) < GROUPED:
            rows += [{"contact_id": c, "tag_id": tag_id} for c in ids]
            continue
        chosen = sa.select(contacts.c.id, sa.literal(tag_id, sa.Integer))
        query = contact_tags.insert().from_select(
            ["contact_id", "tag_id"], chosen.where(contacts.c.id.in_(ids))
        )
        connection.execute(query)
    if rows:
        connection.execute(contact_tags.insert(), rows)


def record_story_choice(connection: sa.Connection, values: dict[str, Any]) -> None:
    """A contributor's yes or no to where their story may appear: a consent record with the
    story's id (not consent to be mailed, so no status changes)."""
    connection.execute(consents.insert().values(**values))


def add_handle(connection: sa.Connection, email: str, network: str, handle: str) -> int:
    """Note a person's handle on a social network; their replies there, earlier ones included,
    are then matched to them. Returns how many earlier replies were matched."""
    contact = get(connection, email)
    check("handle", contact.status, TEAM)
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
    check("handle", contact.status, TEAM)
    return bool(
        connection.execute(
            contact_handles.delete().where(
                contact_handles.c.contact_id == contact.id,
                contact_handles.c.network == network,
                contact_handles.c.handle == handle.strip().lstrip("@").lower(),
            )
        ).rowcount
    )


@dataclass(frozen=True)
class Erasure:
    """What `erase` leaves for the caller to do once its transaction is committed."""

    spellings: list[str]  # every lower-cased way their address may have been written down
    attachments: list[str]  # their replies' files, in the attachments folder
    emails: list[str]  # the outbox files of the emails they were sent (outbox/...)
    tables: tuple[str, ...] = traces.PERSONAL_TABLES


def erase(connection: sa.Connection, email: str) -> Erasure:
    """Remove the person and all their records; keep only a hash so they are never mailed,
    under any spelling of their address. Their stories, consents, handles, changes and
    deliveries go with their contact row (ON DELETE CASCADE). The files named in the answer are
    for the caller to remove once this transaction is committed (engage.erasure does all)."""
    contact = get(connection, email)
    check("erase", contact.status, TEAM)
    left = traces.remove(connection, contact)
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
    return Erasure(traces.spellings(contact), left.attachments, left.emails)
