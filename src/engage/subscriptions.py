"""Sign-up with double opt-in, confirmation, one-click unsubscribe and preferences: what the
web app does, as library functions that take a Connection (the web layer only calls them).

Tokens are signed (see tokens.py). A confirmation link carries the minute it was made and
expires after CONFIRM_DAYS; unsubscribe and preferences links never expire.

A confirmation link also carries the state the person was in when it was made: their latest
consent record, their suppression entry and their status. It confirms only while that state is
unchanged, so a link made before an unsubscribe (or a bounce, a complaint or an erasure) can
never undo it, however often a person or a mail system's link scanner opens it. After an
unsubscribe, only a new sign-up sends a link that can lift the suppression, and only clicking
that link does. An erased address that signs up again becomes a new contact; its fresh,
confirmed sign-up is new consent, so it lifts the erasure's suppression entry too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from .contacts import core
from .store.schema import consents, contact_tags, contacts, sends, tags, throttle
from .tokens import BadToken, Signer

CONFIRM_DAYS = 7
SOURCE = "web-form"
# A status as a number, so a confirmation token can carry it.
STATUSES = ("pending", "subscribed", "unsubscribed", "bounced", "complained", "erased")


@dataclass(frozen=True)
class Signup:
    """What happened, for the web layer: whom to send a confirmation to, if anyone."""

    confirm_to: str | None
    token: str | None = None


def _minute() -> int:
    return int(core.now().timestamp() // 60)


def _state(connection: sa.Connection, contact_id: int, email: str, status: str) -> tuple[int, ...]:
    """What a confirmation link must find unchanged: the person's latest consent record, their
    suppression entry and their status, as numbers."""
    latest = connection.execute(
        sa.select(sa.func.max(consents.c.id)).where(
            consents.c.contact_id == contact_id, consents.c.story_id.is_(None)
        )
    ).scalar()
    blocked = core.suppression(connection, email)
    code = STATUSES.index(status) if status in STATUSES else len(STATUSES)
    return (latest or 0, blocked.id if blocked is not None else 0, code)


def sign_up(connection: sa.Connection, signer: Signer, email: str, name: str, fmt: str) -> Signup:
    """A new, pending or suppressed address gets a confirmation link; a subscribed one gets
    nothing. The caller shows the same page whatever happened, so nothing about an address
    leaks. A suppressed address stays suppressed until the person clicks the new link."""
    address = core.normalise_email(email)
    contact = core.find(connection, address)
    if contact is not None and contact.status == "subscribed":
        return Signup(confirm_to=None)
    if contact is None:
        at = core.now()
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
        email_held, status = address, "pending"
    else:
        contact_id, email_held, status = contact.id, contact.email, contact.status
    state = _state(connection, contact_id, email_held, status)
    return Signup(confirm_to=address, token=signer.sign("c", contact_id, _minute(), *state))


Outcome = Literal["ready", "confirmed", "already", "unsubscribed"]


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation link does: `ready` to confirm (it has not yet), `confirmed` (it just
    did), `already` subscribed, or `unsubscribed`: the link is from before they stopped (or was
    for an address since erased), so it changes nothing."""

    outcome: Outcome
    contact_id: int | None = None
    email: str = ""


def check_confirmation(
    connection: sa.Connection, signer: Signer, token: str, *, lock: bool = False
) -> Confirmation:
    """What this confirmation link would do, changing nothing. BadToken if it is not ours or
    has expired. `lock` holds the person's row until the transaction ends (for confirm)."""
    contact_id, minute, *made_in = signer.verify("c", token)
    if _minute() - minute > CONFIRM_DAYS * 24 * 60:
        raise BadToken("This confirmation link has expired. Please sign up again.")
    query = sa.select(contacts.c.id, contacts.c.email, contacts.c.status).where(
        contacts.c.id == contact_id
    )
    row = connection.execute(query.with_for_update() if lock else query).first()
    if row is None:  # erased since: the link is for somebody who is no longer here
        return Confirmation("unsubscribed")
    if row.status == "subscribed":
        return Confirmation("already", row.id, row.email)
    now_state = _state(connection, row.id, row.email, row.status)
    if made_in:
        fresh = tuple(made_in) == now_state
    else:  # a link made before links carried a state: it can only confirm a plain sign-up
        fresh = row.status == "pending" and now_state[1] == 0
    return Confirmation("ready" if fresh else "unsubscribed", row.id, row.email)


def confirm(connection: sa.Connection, signer: Signer, token: str, wording: str) -> Confirmation:
    """Confirm a sign-up: the person is subscribed, their consent is recorded and, since they
    asked again and confirmed from their own mailbox, any suppression of their address is lifted.
    Only a link whose state still holds does this (see check_confirmation)."""
    found = check_confirmation(connection, signer, token, lock=True)
    if found.outcome != "ready" or found.contact_id is None:
        return found
    at = core.now()
    connection.execute(
        contacts.update()
        .where(contacts.c.id == found.contact_id)
        .values(status="subscribed", updated_at=at)
    )
    consent = core.ConsentGiven(
        basis="consent", method="form", source=SOURCE, wording=wording, actor=core.PERSON
    )
    connection.execute(consents.insert().values(**consent.record(found.contact_id, at)))
    core.lift_suppression(connection, found.email)  # under every spelling
    return Confirmation("confirmed", found.contact_id, found.email)


def unsubscribe(connection: sa.Connection, signer: Signer, token: str, method: str) -> str:
    """The person unsubscribes with the link from an email (`method` "one-click" for their mail
    app's button, "web-page" for the button on our page); returns the address. The records
    say the person did it, and which email's link they used."""
    contact_id, send_id = signer.verify("u", token)
    row = connection.execute(sa.select(contacts.c.email).where(contacts.c.id == contact_id)).first()
    if row is None:
        raise BadToken("This link is not valid any more.")
    source = _link_source(connection, send_id)
    core.unsubscribe(connection, row.email, method=method, source=source, by=core.PERSON)
    return row.email


def _link_source(connection: sa.Connection, send_id: int) -> str:
    """Where an unsubscribe link came from, in words: the email it was in, or our own page."""
    if not send_id:  # the link on the preferences page
        return "the unsubscribe link on the preferences page"
    campaign = connection.execute(sa.select(sends.c.campaign).where(sends.c.id == send_id)).scalar()
    email = f"the {campaign} email" if campaign else "an email"
    return f"the unsubscribe link in {email} (send {send_id})"


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
