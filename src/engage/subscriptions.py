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

Sign-ups get their tags when they confirm, never before: the sign-up tags (see
`audiences.signup_tags`), so they are in the newsletter audience, and the topics they ticked on
the form, which the confirmation link carries (as tag ids, signed). The workspace declares its
topics in `[topics]`; the preferences page sets and clears exactly those tags. Each change is
recorded as made by the person, and from which page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

import sqlalchemy as sa

from . import clock
from .config import Workspace
from .contacts import audiences, core, life
from .store.schema import consents, contact_changes, contacts, sends, tags
from .tokens import BadToken, ExpiredToken, Signer

CONFIRM_DAYS = 7
SOURCE = "web-form"
FORM_PAGE = "the sign-up form"  # where a sign-up's tags came from, as the timeline says
PREFERENCES_PAGE = "the preferences page"


@dataclass(frozen=True)
class Offer:
    """What the workspace gives each confirmed sign-up, and the topics people may choose."""

    tags: tuple[str, ...]  # every confirmed sign-up gets these
    topics: dict[str, str]  # topic tag -> the words next to its tick box, in order


def offer(workspace: Workspace) -> Offer:
    return Offer(tuple(audiences.signup_tags(workspace)), dict(workspace.config.topics))


# A status as a number, so a confirmation token can carry it.
STATUSES = ("pending", "subscribed", "unsubscribed", "bounced", "complained", "erased")


@dataclass(frozen=True)
class Signup:
    """What happened, for the web layer: whom to send a confirmation to, if anyone."""

    confirm_to: str | None
    token: str | None = None


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


def sign_up(
    connection: sa.Connection,
    signer: Signer,
    email: str,
    name: str,
    fmt: str,
    topics: Iterable[str] = (),
    lang: str = "",
) -> Signup:
    """A new, pending or suppressed address gets a confirmation link; a subscribed one gets
    nothing. The caller shows the same page whatever happened, so nothing about an address
    leaks. A suppressed address stays suppressed until the person clicks the new link. The
    `topics` they ticked (already checked against the workspace's) go in the link."""
    address = core.normalise_email(email)
    contact = core.find(connection, address)
    if contact is not None and contact.status == "subscribed":
        return Signup(confirm_to=None)
    if contact is None:
        contact_id = life.sign_up(connection, address, name, fmt, lang)
        email_held, status = address, "pending"
    else:
        contact_id, email_held, status = contact.id, contact.email, contact.status
    state = _state(connection, contact_id, email_held, status)
    chosen = sorted(life.tag_ids(connection, set(topics)).values())
    token = signer.sign("c", contact_id, clock.minute(), *state, *chosen)
    return Signup(confirm_to=address, token=token)


Outcome = Literal["ready", "confirmed", "already", "unsubscribed"]


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation link does: `ready` to confirm (it has not yet), `confirmed` (it just
    did), `already` subscribed, or `unsubscribed`: the link is from before they stopped (or was
    for an address since erased), so it changes nothing."""

    outcome: Outcome
    contact_id: int | None = None
    email: str = ""
    topic_ids: tuple[int, ...] = ()  # the tags of the topics they ticked on the form
    status: str = ""  # the person's status when the link was checked


def check_confirmation(
    connection: sa.Connection, signer: Signer, token: str, *, lock: bool = False
) -> Confirmation:
    """What this confirmation link would do, changing nothing. BadToken if it is not ours or
    has expired. `lock` holds the person's row until the transaction ends (for confirm)."""
    contact_id, minute, *rest = signer.verify("c", token)
    made_in, topic_ids = rest[:3], tuple(rest[3:])
    if clock.minute() - minute > CONFIRM_DAYS * 24 * 60:
        raise ExpiredToken("This confirmation link has expired. Please sign up again.")
    query = sa.select(contacts.c.id, contacts.c.email, contacts.c.status).where(
        contacts.c.id == contact_id
    )
    row = connection.execute(query.with_for_update() if lock else query).first()
    if row is None:  # erased since: the link is for somebody who is no longer here
        return Confirmation("unsubscribed")
    if row.status == "subscribed":
        return Confirmation("already", row.id, row.email, status=row.status)
    now_state = _state(connection, row.id, row.email, row.status)
    if made_in:
        fresh = tuple(made_in) == now_state
    else:  # a link made before links carried a state: it can only confirm a plain sign-up
        fresh = row.status == "pending" and now_state[1] == 0
    outcome: Outcome = "ready" if fresh else "unsubscribed"
    return Confirmation(outcome, row.id, row.email, topic_ids, row.status)


def confirm(
    connection: sa.Connection, signer: Signer, token: str, wording: str, offer: Offer
) -> Confirmation:
    """Confirm a sign-up: the person is subscribed, their consent is recorded, they get the
    sign-up tags and the topics they chose and, since they asked again and confirmed from their
    own mailbox, any suppression of their address is lifted. Only a link whose state still
    holds does this (see check_confirmation)."""
    found = check_confirmation(connection, signer, token, lock=True)
    if found.outcome != "ready" or found.contact_id is None:
        return found
    consent = core.ConsentGiven(
        basis="consent", method="form", source=SOURCE, wording=wording, actor=core.PERSON
    )
    life.confirm(connection, found.contact_id, found.email, found.status, consent)
    chosen = connection.execute(
        sa.select(tags.c.name).where(tags.c.id.in_(found.topic_ids)).order_by(tags.c.name)
    ).scalars()
    wanted = [*offer.tags, *(name for name in chosen if name in offer.topics)]
    contact = core.by_id(connection, found.contact_id)
    if contact is not None:  # always: check_confirmation holds their row
        life.give_tags(connection, contact, wanted, by=core.PERSON, source=FORM_PAGE)
    return replace(found, outcome="confirmed", status="subscribed")


def unsubscribe(connection: sa.Connection, signer: Signer, token: str, method: str) -> str:
    """The person unsubscribes with the link from an email (`method` "one-click" for their mail
    app's button, "web-page" for the button on our page); returns the address. The records
    say the person did it, and which email's link they used."""
    contact_id, link_send = signer.verify("u", token)
    row = connection.execute(sa.select(contacts.c.email).where(contacts.c.id == contact_id)).first()
    if row is None:
        raise BadToken("This link is not valid any more.")
    send_id: int | None = None
    if not link_send:  # the link on the preferences page
        source = "the unsubscribe link on the preferences page"
    else:
        source, send_id = _link_source(connection, link_send)
    life.unsubscribe(
        connection, row.email, method=method, source=source, by=core.PERSON, send_id=send_id
    )
    return row.email


def _link_source(connection: sa.Connection, send_id: int) -> tuple[str, int | None]:
    """The words for where an unsubscribe link was (the email it came in), and its send."""
    campaign = connection.execute(sa.select(sends.c.campaign).where(sends.c.id == send_id)).scalar()
    if campaign is None:  # a send since removed
        return f"the unsubscribe link in an email (send {send_id})", None
    return f"the unsubscribe link in the {campaign} email (send {send_id})", send_id


@dataclass(frozen=True)
class Preferences:
    contact_id: int
    email: str
    format: str
    topics: list[tuple[str, str, bool]]  # each topic: its tag, its words, whether they have it
    lang: str = ""  # their language ("" for the organisation's; langs.py)


def preferences(
    connection: sa.Connection, signer: Signer, token: str, topics: dict[str, str]
) -> Preferences:
    """The choices behind a preferences link: their format and, for each of the workspace's
    `topics`, whether they have its tag."""
    (contact_id,) = signer.verify("p", token)
    row = connection.execute(sa.select(contacts).where(contacts.c.id == contact_id)).first()
    if row is None or row.status == "erased":
        raise BadToken("This link is not valid any more.")
    have = set(core.tags_of(connection, [contact_id]).get(contact_id, []))
    chosen = [(tag, words, tag in have) for tag, words in topics.items()]
    return Preferences(contact_id, row.email, row.format, chosen, row.lang)


def save_preferences(
    connection: sa.Connection,
    prefs: Preferences,
    fmt: str,
    chosen: set[str],
    lang: str | None = None,
) -> None:
    """The person's new choices: format, language (None: not asked), and exactly the topic
    tags they ticked (other tags stay as they are). What changed is recorded as made by them,
    on the preferences page."""
    added = [tag for tag, _, had in prefs.topics if tag in chosen and not had]
    dropped = [tag for tag, _, had in prefs.topics if had and tag not in chosen]
    lang = prefs.lang if lang is None else lang
    changes = [f"format {fmt} (was {prefs.format})"] if fmt != prefs.format else []
    if lang != prefs.lang:
        changes.append(f"language {lang or 'default'} (was {prefs.lang or 'default'})")
    changes += [f"{tag} added" for tag in added] + [f"{tag} taken off" for tag in dropped]
    if not changes:
        return
    contact = core.by_id(connection, prefs.contact_id)
    if contact is None:  # erased while the page was open
        return
    tags_changed = (set(added), set(dropped))
    said = "; ".join(changes)
    life.save_preferences(connection, contact, fmt, tags_changed, said, PREFERENCES_PAGE, lang)


def earlier_signups(connection: sa.Connection, offer: Offer) -> list[tuple[int, str]]:
    """(id, email) of everyone subscribed through the sign-up form who lacks a sign-up tag and
    never had one given or made a choice themselves: people who confirmed before engage gave
    sign-ups tags. Ordered by email."""
    if not offer.tags:
        return []
    by_form = sa.select(consents.c.contact_id).where(
        consents.c.action == "given", consents.c.method == "form", consents.c.source == SOURCE
    )
    handled = sa.select(contact_changes.c.contact_id)  # given their tags, or chose themselves
    everyone_tagged = audiences.Audience(
        name="",
        description="",
        status=["subscribed"],
        tags_any=[],
        tags_all=list(offer.tags),
        tags_none=[],
        formats=[],
        attributes={},
    )
    has_all = audiences.member_ids(everyone_tagged)
    query = sa.select(contacts.c.id, contacts.c.email).where(
        contacts.c.status == "subscribed",
        contacts.c.id.in_(by_form),
        contacts.c.id.not_in(handled),
        contacts.c.id.not_in(has_all),
    )
    return sorted(((r.id, r.email) for r in connection.execute(query)), key=lambda r: r[1])


def tag_earlier_signups(connection: sa.Connection, offer: Offer, by: str) -> list[str]:
    """Give each earlier sign-up (see earlier_signups) the sign-up tags; returns their emails."""
    found = earlier_signups(connection, offer)
    for contact_id, _ in found:
        contact = core.by_id(connection, contact_id)
        if contact is not None:
            source = "engage contacts tag-signups"
            life.give_tags(connection, contact, list(offer.tags), by=by, source=source)
    return [email for _, email in found]
