"""A contact and how to find one: who they are, their tags, their consent and suppression on
record, and lists of contacts. Only reads.

Every change to a contact's life (adding, confirming, unsubscribing, bouncing, tagging, erasing)
is made by contacts/life.py, the one writer. Every function takes an open Connection and runs
inside the caller's transaction, so the CLI and the web app decide what belongs together.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from .. import clock
from ..addresses import (  # noqa: F401  (every way in reads addresses through these)
    InvalidEmail,
    LocalPartTooLong,
    Mailbox,
    ascii_address,
    mailbox,
    normalise_email,
)
from ..config import user
from ..errors import EngageError
from ..store.schema import (
    consents,
    contact_changes,
    contact_tags,
    contacts,
    suppressions,
    tags,
)
from .identity import address_hashes, email_hashes, identity

SUPPRESSED_STATUSES = ("unsubscribed", "bounced", "complained", "erased")
# Who made a change the person made themselves (a link in an email, a web page, a reply), as
# records name it; a change the team made names the team member (see `actor`).
PERSON = "the person"


class ContactError(EngageError):
    """A contact cannot be found, added or changed as asked."""


def now() -> dt.datetime:
    return clock.now()


def actor() -> str:
    """Who is running engage: ENGAGE_USER, else the login name (config.user)."""
    return user()


@dataclass
class Contact:
    id: int
    email: str
    name: str
    first_name: str
    format: str
    lang: str  # "" for the organisation's language; two tags for both (langs.py)
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
            "lang": self.lang,
            "tags": self.tags,
            "attributes": self.attributes,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


CONTACT_COLUMNS = [contacts.c[f.name] for f in dataclasses.fields(Contact) if f.name != "tags"]


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat()


def _contact(row: sa.Row, tag_names: list[str]) -> Contact:
    return Contact(
        id=row.id,
        email=row.email,
        name=row.name,
        first_name=row.first_name,
        format=row.format,
        lang=row.lang,
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


def by_id(connection: sa.Connection, contact_id: int) -> Contact | None:
    """The contact with this id (as a link carries it); None if there is none any more."""
    row = connection.execute(sa.select(contacts).where(contacts.c.id == contact_id)).first()
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


def suppression(connection: sa.Connection, email: str) -> sa.Row | None:
    """The suppression entry for this mailbox, under any spelling; None if it has none."""
    query = (
        sa.select(suppressions)
        .where(suppressions.c.email_hash.in_(email_hashes(email)))
        .order_by(suppressions.c.id)
    )
    return connection.execute(query).first()


def suppressed_among(connection: sa.Connection, emails: Iterable[str | Mailbox]) -> dict[str, str]:
    """For each of `emails` on the suppression list (under any spelling), the reason; an
    address already read (a Mailbox) is found by its `email`."""
    wanted: dict[str, list[str]] = {}
    for given in emails:
        if isinstance(given, Mailbox):
            email, hashes = given.email, address_hashes(given)
        else:
            email, hashes = given, email_hashes(given)
        for hashed in hashes:
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


def changes(connection: sa.Connection, contact_id: int) -> list[dict[str, Any]]:
    """Changes to their tags and format beyond consent: what, who made it, and from where."""
    query = (
        sa.select(contact_changes)
        .where(contact_changes.c.contact_id == contact_id)
        .order_by(contact_changes.c.id)
    )
    return [
        {"kind": r.kind, "detail": r.detail, "actor": r.actor, "source": r.source, "at": iso(r.at)}
        for r in connection.execute(query)
    ]


def listing(
    connection: sa.Connection,
    status: str | None = None,
    tag: str | None = None,
    within: sa.Select | None = None,
) -> list[Contact]:
    """Contacts ordered by email, filtered by status, tag and an id query (an audience)."""
    return list(each_contact(connection, status, tag, within))


PAGE = 1_000  # contacts read at a time, with their tags, while listing
LONGEST_SEARCH = 320  # the longest an address can be; a name to search for is shorter


def chosen(
    status: str | None = None,
    tag: str | None = None,
    within: sa.Select | None = None,
    search: str | None = None,
) -> sa.Select:
    """The ids of the contacts a listing or a search gives: with this status, this tag, in
    this id query (an audience), and whose address or name has `search` in it."""
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
    if search:
        ids = ids.where(_matches(search))
    return ids


def _matches(search: str) -> sa.ColumnElement[bool]:
    """A part of the address or of either name, in any case (on SQLite, any case of A to Z);
    % and _ are letters to find, not wildcards. A whole address also finds its mailbox under
    any spelling."""
    text = search.lower()
    found = [
        sa.func.lower(column).contains(text, autoescape=True)
        for column in (contacts.c.email, contacts.c.name, contacts.c.first_name)
    ]
    with contextlib.suppress(InvalidEmail):
        found.append(contacts.c.email_key == identity(search))
    return sa.or_(*found)


def clean_search(text: str) -> str:
    """What a person typed to search for, as it is searched: without control characters (a
    database cannot hold some of them) or the spaces around it. Raises ContactError when it
    is longer than any address or name we keep."""
    cleaned = "".join(ch for ch in text if ch.isprintable() or ch == " ").strip()
    if len(cleaned) > LONGEST_SEARCH:
        raise ContactError(
            f"That is {len(cleaned):,} characters long. Search for a part of a name or an "
            f"email address, at most {LONGEST_SEARCH} characters."
        )
    return cleaned


def _by_email(connection: sa.Connection) -> sa.ColumnElement[str]:
    """Contacts in code-point order of their address, the same on every database
    (PostgreSQL's collation "C")."""
    if connection.dialect.name == "postgresql":
        return contacts.c.email.collate("C")
    return contacts.c.email


def each_contact(
    connection: sa.Connection,
    status: str | None = None,
    tag: str | None = None,
    within: sa.Select | None = None,
    search: str | None = None,
) -> Iterator[Contact]:
    """The contacts `listing` gives, one at a time: read from the database a page at a time
    in one query, so listing a million holds a page in memory, not a million. Ordered by
    email in code-point order, the same on every database. `search`: see `chosen`."""
    ids = chosen(status, tag, within, search)
    query = (
        sa.select(*CONTACT_COLUMNS).where(contacts.c.id.in_(ids)).order_by(_by_email(connection))
    )
    rows = connection.execution_options(yield_per=PAGE).execute(query)
    for page in rows.partitions():
        names = tags_of(connection, [row.id for row in page])
        for row in page:
            yield _contact(row, names.get(row.id, []))


@dataclass(frozen=True)
class Found:
    """One page of a search: the contacts on it, and how many match in all."""

    people: list[Contact]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(
    connection: sa.Connection,
    text: str,
    *,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Found:
    """Page `page` (from 1) of the contacts whose address or name has `text` in it (see
    `chosen`; everyone when `text` is empty), ordered as `each_contact` orders them. `text` is
    cleaned first (`clean_search`)."""
    ids = chosen(status=status, search=clean_search(text))
    total = connection.execute(sa.select(sa.func.count()).select_from(ids.subquery())).scalar()
    query = (
        sa.select(*CONTACT_COLUMNS)
        .where(contacts.c.id.in_(ids))
        .order_by(_by_email(connection))
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    )
    rows = connection.execute(query).all()
    names = tags_of(connection, [row.id for row in rows])
    found = [_contact(row, names.get(row.id, [])) for row in rows]
    return Found(found, total or 0, max(page, 1), per_page)
