"""The team's answer to a reply: written in the console or with `engage replies answer`, sent
from the organisation (the From of [email]) through the email provider, threaded to the
person's mail (In-Reply-To and References), and shown in the person's timeline.

An answer is queued in engage's own emails (outgoing.py), never sent from the page: the worker
of `engage serve` and each `engage run` send it once, and an answer whose provider's answer was
lost is "unknown", never sent twice. Nobody who has asked us to stop (unsubscribed, bounced,
complained, erased or suppressed) is written to: that is checked when the answer is written
and again just before it goes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa

from .. import outgoing, own_emails
from ..addresses import InvalidEmail, mailbox
from ..config import Workspace
from ..contacts import core
from ..email.headers import display_address
from ..store import guard
from ..store.schema import inbound
from ..store.schema import outgoing as outgoing_rows
from ..team import audit
from .listing import NoSuchReply, ReplyError, answers, done
from .match import is_machine

LONGEST = 20_000  # characters in one answer
AGAIN_MINUTES = 10  # the same answer to the same reply within this long is the same answer
_SOCIAL = ("mastodon", "bluesky", "x")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_KEEP_REFERENCES = 10  # the Message-IDs a References header carries at most (the latest)


class CannotWrite(ReplyError):
    """The person cannot be written to (see why_not): nothing was queued."""


@dataclass(frozen=True)
class Answered:
    reply_id: int
    outgoing_id: int  # its row in engage's queue of its own emails
    to: str
    subject: str


def why_not(connection: sa.Connection, reply_id: int) -> str:
    """Why this reply cannot be answered by email ("" when it can): it came from a social
    network or a mail system, or the person has asked us to stop writing."""
    row = _reply(connection, reply_id)
    if row.provider in _SOCIAL:
        return (
            f"This reply came from {row.provider.capitalize()}, not by email. "
            f"Answer it on {row.provider.capitalize()}."
        )
    if row.kind == "bounce":
        return "This is a notice from a mail system that an email did not arrive. Nobody reads it."
    try:
        address = mailbox(row.sender)
    except InvalidEmail:
        return f"The address it came from ({row.sender}) is not one engage can write to."
    if is_machine(address.local):
        return f"It came from {address.email}, a mail system. Nobody reads mail sent to it."
    return outgoing.unwanted(connection, address.email, row.contact_id)


def answer(
    connection: sa.Connection,
    workspace: Workspace,
    reply_id: int,
    text: str,
    actor: str,
    *,
    mark_done: bool = False,
) -> Answered:
    """Queue the team's answer to reply `reply_id`, written by `actor` (noted in the audit log);
    `mark_done`: mark the reply done too. Raises ReplyError when there is no such reply, the
    answer is empty or too long, or the person cannot be written to (see why_not)."""
    row = _reply(connection, reply_id)
    words = _words(text)
    stopped = why_not(connection, reply_id)
    if stopped:
        raise CannotWrite(f"Not sent: {stopped}")
    address = mailbox(row.sender).email
    again = _same_answer(connection, row, words)
    if again is not None:  # the form sent twice (a double click): it goes once
        return again
    message = own_emails.answer(
        workspace,
        display_address(row.sender_name if row.sender_name != row.sender else "", address),
        subject(row.subject),
        words,
        in_reply_to=_message_id(row.message_id),
        references=references(row.references, row.message_id),
    )
    row_id = outgoing.add_answer(connection, address, row.contact_id, message, reply_id, actor)
    audit.record(connection, actor, "reply answered", f"reply {reply_id}", f"to {address}")
    if mark_done:
        done(connection, reply_id, actor)
    return Answered(reply_id, row_id, address, message.subject)


def _same_answer(connection: sa.Connection, row: sa.Row, words: str) -> Answered | None:
    """The same words to the same reply, written in the last few minutes and not failed: the
    same answer, queued already."""
    since = core.now() - dt.timedelta(minutes=AGAIN_MINUTES)
    for made in answers(connection, row.id, row.sender):
        at = dt.datetime.fromisoformat(made["at"])
        if made["state"] in ("failed", "skipped") or made["text"] != words:
            continue  # one that did not go may be written again at once
        if (at if at.tzinfo else at.replace(tzinfo=dt.UTC)) >= since:
            return Answered(row.id, made["id"], mailbox(row.sender).email, made["subject"])
    return None


def _reply(connection: sa.Connection, reply_id: int) -> sa.Row:
    row = connection.execute(
        sa.select(
            inbound.c.id,
            inbound.c.provider,
            inbound.c.kind,
            inbound.c.sender,
            inbound.c.sender_name,
            inbound.c.subject,
            inbound.c.message_id,
            inbound.c.references,
            inbound.c.contact_id,
        ).where(inbound.c.id == reply_id)
    ).first()
    if row is None:
        raise NoSuchReply(
            f"There is no reply {reply_id}. See the replies with: engage replies list"
        )
    return row


def _words(text: str) -> str:
    words = guard.clean(text.replace("\r\n", "\n").replace("\r", "\n")).text.strip("\n")
    if not words.strip():
        raise ReplyError("The answer is empty. Write what you want to say, then send it.")
    if len(words) > LONGEST:
        raise ReplyError(
            f"The answer is {len(words):,} characters long; {LONGEST:,} is the most. "
            "Make it shorter."
        )
    return "\n".join(line.rstrip() for line in words.splitlines()) + "\n"


def subject(theirs: str) -> str:
    """The answer's subject: theirs, after "Re: " (once)."""
    theirs = " ".join(theirs.split())
    if not theirs:
        return "Re: your email"
    return theirs if re.match(r"re\s*:", theirs, re.I) else f"Re: {theirs}"


def _message_id(value: str) -> str:
    found = _MESSAGE_ID.findall(value or "")
    if found:
        return found[0]
    value = (value or "").strip()
    return f"<{value}>" if value and " " not in value and "@" in value else ""


def references(theirs: str, message_id: str) -> str:
    """Their References and their own Message-ID: the whole thread (the latest few ids)."""
    found = _MESSAGE_ID.findall(theirs or "")
    own = _message_id(message_id)
    if own and own not in found:
        found.append(own)
    return " ".join(found[-_KEEP_REFERENCES:])


def state(connection: sa.Connection, outgoing_id: int) -> tuple[str, str]:
    """Where a queued answer is now: its state in engage's queue, and the error, if any."""
    found = connection.execute(
        sa.select(outgoing_rows.c.state, outgoing_rows.c.error).where(
            outgoing_rows.c.id == outgoing_id
        )
    ).first()
    return (found.state, found.error) if found is not None else ("gone", "")
