"""Who a reply is from, and which campaign it answers.

In order of trust: the reply token in the address it was sent to (`reply+<token>@...`), then
In-Reply-To and References against the Message-IDs we sent, then the sender's mailbox, however
they spell it (`identity`). A sender we do not know becomes a contact with status `pending` and
no consent, so they are never added to any mailing.

The reply token is checked with the current secret key and every old one (tokens.Signer), so a
reply to a campaign sent before the key was changed still finds it. A token none of our keys
can check is not silent: the match carries a note for the team (see tokens.KEY_HINT).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import sqlalchemy as sa

from ..contacts import core, life
from ..store.schema import deliveries
from ..tokens import KEY_HINT, BadSignature, BadToken, Signer

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Mail systems, not people: never made into contacts.
_MACHINE = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+.-]|$)", re.I
)


@dataclass(frozen=True)
class Match:
    contact_id: int | None
    send_id: int | None = None
    delivery_id: int | None = None
    matched_by: str = ""  # reply-token | in-reply-to | sender | new-contact | mail-system
    note: str = ""  # for the team, when something about the match needs a person to know


def match(
    connection: sa.Connection,
    signer: Signer,
    recipient: str,
    in_reply_to: str,
    references: str,
    sender: str,
) -> Match:
    by_token = _by_token(connection, signer, recipient)
    if isinstance(by_token, Match):
        return by_token
    found = _by_thread(connection, f"{in_reply_to} {references}") or _by_sender(connection, sender)
    return replace(found, note=by_token) if by_token else found


def _delivery(connection: sa.Connection, where: sa.ColumnElement[bool]) -> sa.Row | None:
    return connection.execute(
        sa.select(deliveries.c.id, deliveries.c.contact_id, deliveries.c.send_id).where(where)
    ).first()


def _by_token(connection: sa.Connection, signer: Signer, recipient: str) -> Match | str | None:
    """The match its reply token gives; else a note when the token is one none of our keys
    can check, else None."""
    local = recipient.partition("@")[0]
    if not local.lower().startswith("reply+"):
        return None
    try:
        (delivery_id,) = signer.verify("r", local.split("+", 1)[1])
    except BadSignature:
        return (
            f"The reply address ({local}@...) has a code none of our secret keys can check, so "
            f"this reply was matched by its thread or sender instead. {KEY_HINT}"
        )
    except (BadToken, ValueError):
        return None
    row = _delivery(connection, deliveries.c.id == delivery_id)
    return Match(row.contact_id, row.send_id, row.id, "reply-token") if row else None


def _by_thread(connection: sa.Connection, headers: str) -> Match | None:
    ids = _MESSAGE_ID.findall(headers)
    if not ids:
        return None
    row = _delivery(connection, deliveries.c.message_id.in_(ids))
    return Match(row.contact_id, row.send_id, row.id, "in-reply-to") if row else None


def is_machine(local: str) -> bool:
    """Whether the part of an address before the @ is a mail system's (mailer-daemon,
    postmaster, no-reply ...), not a person's."""
    return bool(_MACHINE.match(local))


def _by_sender(connection: sa.Connection, sender: str) -> Match:
    try:
        address = core.mailbox(sender)
    except core.InvalidEmail:
        return Match(None)
    if is_machine(address.local):
        return Match(None, matched_by="mail-system")
    found = core.find(connection, address.email)
    if found is not None:
        latest = connection.execute(
            sa.select(deliveries.c.id, deliveries.c.send_id)
            .where(deliveries.c.contact_id == found.id, deliveries.c.status == "sent")
            .order_by(deliveries.c.id.desc())
            .limit(1)
        ).first()
        return Match(
            found.id, latest.send_id if latest else None, latest.id if latest else None, "sender"
        )
    return Match(life.add_sender(connection, address.email), matched_by="new-contact")
