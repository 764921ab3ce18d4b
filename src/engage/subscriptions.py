"""Sign-up with double opt-in, confirmation, one-click unsubscribe and preferences: what the
web app does, as library functions that take a Connection (the web layer only calls them).

Tokens are signed (see tokens.py). A confirmation link carries the minute it was made and
expires after CONFIRM_DAYS; unsubscribe and preferences links never expire.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import sqlalchemy as sa

from .contacts import core
from .store.schema import consents, contact_tags, contacts, suppressions, tags, throttle
from .tokens import BadToken, Signer

CONFIRM_DAYS = 7
SOURCE = "web-form"


@dataclass(frozen=True)
class Signup:
    """What happened, for the web layer: whom to send a confirmation to, if anyone."""

    confirm_to: str | None
    token: str | None = None


def sign_up(connection: sa.Connection, signer: Signer, email: str, name: str, fmt: str) -> Signup:
    """A new or suppressed address gets a confirmation link; a subscribed one gets nothing.
    The caller shows the same page whatever happened, so nothing about an address leaks."""
    address = core.normalise_email(email)
    contact = core.find(connection, address)
    if contact is not None and contact.status == "subscribed":
        return Signup(confirm_to=None)
    at = core.now()
    if contact is None:
        contact_id = connection.execute(
            contacts.insert().values(
                email=address,
                name=name,
                first_name=name.split(" ")[0] if name else "",
                format=fmt,
                status="pending",
                attributes={},
                created_at=at,
                updated_at=at,
            )
        ).inserted_primary_key[0]
    else:
        contact_id = contact.id
    minute = int(time.time() // 60)
    return Signup(confirm_to=address, token=signer.sign("c", contact_id, minute))


def confirm(
    connection: sa.Connection, signer: Signer, token: str, wording: str, fmt: str = ""
) -> str:
    """Make the person subscribed and record their consent; returns their address."""
    contact_id, minute = signer.verify("c", token)
    if time.time() // 60 - minute > CONFIRM_DAYS * 24 * 60:
        raise BadToken("This confirmation link has expired. Please sign up again.")
    row = connection.execute(sa.select(contacts).where(contacts.c.id == contact_id)).first()
    if row is None:
        raise BadToken("This link is not valid any more.")
    if row.status != "subscribed":
        at = core.now()
        connection.execute(
            contacts.update()
            .where(contacts.c.id == contact_id)
            .values(status="subscribed", updated_at=at)
        )
        consent = core.ConsentGiven(
            basis="consent", method="form", source=SOURCE, wording=wording, actor="the person"
        )
        connection.execute(consents.insert().values(**consent.record(contact_id, at)))
        # They asked again, and confirmed from their own mailbox: the old objection is over.
        connection.execute(
            suppressions.delete().where(suppressions.c.email_hash == core.email_hash(row.email))
        )
    return row.email


def unsubscribe(connection: sa.Connection, signer: Signer, token: str, method: str) -> str:
    """One-click unsubscribe from the token in an email; returns the address."""
    contact_id, send_id = signer.verify("u", token)
    row = connection.execute(sa.select(contacts.c.email).where(contacts.c.id == contact_id)).first()
    if row is None:
        raise BadToken("This link is not valid any more.")
    core.unsubscribe(
        connection, row.email, method=method, source=f"send {send_id}" if send_id else method
    )
    return row.email


@dataclass(frozen=True)
class Preferences:
    contact_id: int
    email: str
    format: str
    topics: list[tuple[str, bool]]  # every topic tag, and whether the person has it


def preferences(connection: sa.Connection, signer: Signer, token: str) -> Preferences:
    (contact_id,) = signer.verify("p", token)
    row = connection.execute(sa.select(contacts).where(contacts.c.id == contact_id)).first()
    if row is None or row.status == "erased":
        raise BadToken("This link is not valid any more.")
    have = set(core.tags_of(connection, [contact_id]).get(contact_id, []))
    topics = connection.execute(
        sa.select(tags.c.name).where(tags.c.is_topic).order_by(tags.c.name)
    ).scalars()
    return Preferences(contact_id, row.email, row.format, [(t, t in have) for t in topics])


def save_preferences(
    connection: sa.Connection, prefs: Preferences, fmt: str, chosen: set[str]
) -> None:
    topic_names = {name for name, _ in prefs.topics}
    chosen &= topic_names
    connection.execute(
        contacts.update()
        .where(contacts.c.id == prefs.contact_id)
        .values(format=fmt, updated_at=core.now())
    )
    ids = core.tag_ids(connection, topic_names) if topic_names else {}
    if ids:
        connection.execute(
            contact_tags.delete().where(
                contact_tags.c.contact_id == prefs.contact_id,
                contact_tags.c.tag_id.in_(list(ids.values())),
            )
        )
    if chosen:
        connection.execute(
            contact_tags.insert(),
            [{"contact_id": prefs.contact_id, "tag_id": ids[n]} for n in sorted(chosen)],
        )


def allow(connection: sa.Connection, key: str, limit: int, window: dt.timedelta) -> bool:
    """Count one hit against `key` (already hashed); False once `limit` is passed in `window`."""
    now = core.now()
    row = connection.execute(sa.select(throttle).where(throttle.c.key == key)).first()
    if row is None:
        connection.execute(throttle.insert().values(key=key, window_start=now, hits=1))
        return True
    start = row.window_start if row.window_start.tzinfo else row.window_start.replace(tzinfo=dt.UTC)
    if now - start > window:
        connection.execute(
            throttle.update().where(throttle.c.key == key).values(window_start=now, hits=1)
        )
        return True
    connection.execute(throttle.update().where(throttle.c.key == key).values(hits=row.hits + 1))
    return row.hits + 1 <= limit
