"""The replies inbox: every reply from every source goes through `Inbox.take`, once.

Each reply is stored whole (once per Message-ID or social post id), matched to its person and
campaign, cleaned, given a kind, and acted on: a request to stop unsubscribes the person, a
delivery failure notice is handled like a provider's bounce, an automatic reply is filed as
done. The webhooks, `engage replies fetch --imap`, `engage replies import` and the social
fetch all come through here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from ..campaigns import slug_of
from ..config import Workspace
from ..contacts import core, life
from ..errors import EngageError
from ..models import Event, InboundMessage
from ..store import guard
from ..store.schema import contact_handles, contacts, deliveries, inbound, posts, sends
from ..tokens import BadToken, Signer, signer
from .attachments import Attachments
from .attachments import for_workspace as attachments_for
from .clean import clean
from .match import Match, match
from .mime import Bounce, parse
from .triage import Signals, kind_of

# Kinds a machine has already dealt with: nothing for the team to do.
_SETTLED = ("auto-reply", "bounce")


@dataclass(frozen=True)
class Taken:
    id: int
    new: bool  # False: this reply was already in the inbox; nothing was changed
    kind: str = ""
    matched_by: str = ""
    notes: list[str] = field(default_factory=list)


# The parts of a reply that are text, and how a note names each.
_PARTS = {
    "sender": "the sender's address",
    "sender_name": "the sender's name",
    "recipient": "the address it was sent to",
    "subject": "the subject",
    "text": "the text",
    "html": "the HTML",
    "message_id": "the Message-ID",
    "in_reply_to": "the In-Reply-To header",
    "references": "the References header",
}


def fit(message: InboundMessage) -> tuple[InboundMessage, list[str]]:
    """The reply made fit for the store (store/guard.py), and a note saying what was cleaned:
    a reply is never lost because of what is in it."""
    changes: dict[str, Any] = {}
    said = []
    for name, words in _PARTS.items():
        done = guard.clean(getattr(message, name), guard.limit_of(inbound.c[name]))
        if done.changed:
            changes[name] = done.text
            said.append(f"{words} ({done.said()})")
    headers, changed = guard.clean_json([list(h) for h in message.headers])
    if changed:
        changes["headers"] = [tuple(h) for h in headers]
        said.append(f"{changed} header line{'s' if changed > 1 else ''} (characters taken out)")
    raw, changed = guard.clean_json(message.raw)
    if changed:
        changes["raw"] = raw
        said.append("the fields as the provider sent them (characters taken out)")
    if not said:
        return message, []
    note = (
        "Some of this reply could not be stored exactly as it came, so a cleaned copy is "
        "kept: " + "; ".join(said) + "."
    )
    return replace(message, **changes), [note]


def dedupe_key(message: InboundMessage, network: str) -> str:
    if network != "email":
        return f"{network}:{message.message_id}"
    if message.message_id:
        return message.message_id
    body = json.dumps(
        [message.sender, message.subject, message.text, message.html, message.raw],
        sort_keys=True,
        default=str,
    )
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def handle_key(network: str, handle: str) -> str:
    return handle.strip().lstrip("@").lower()


class Inbox:
    def __init__(
        self,
        signer: Signer | Callable[[], Signer],
        campaign_kind: Callable[[str], str],
        attachments: Attachments | None = None,
    ) -> None:
        self._signer = signer  # or a function making one: social replies never need it
        self.campaign_kind = campaign_kind  # slug -> "newsletter" | "call-for-stories"
        self.attachments = attachments  # None: attachments are noted, not kept

    @property
    def signer(self) -> Signer:
        if not isinstance(self._signer, Signer):
            self._signer = self._signer()
        return self._signer

    def take_raw(self, connection: sa.Connection, raw: bytes, provider: str) -> Taken:
        """A whole mail (IMAP, an .eml file). Raises mime.NotAMail for bytes that are not."""
        parsed = parse(raw, provider)
        return self.take(
            connection,
            parsed.message,
            original=parsed.original,
            notes=parsed.notes,
            bounce=parsed.bounce,
        )

    def take(
        self,
        connection: sa.Connection,
        message: InboundMessage,
        *,
        network: str = "email",
        original: bytes | None = None,
        notes: list[str] | tuple[str, ...] = (),
        bounce: Bounce | None = None,
    ) -> Taken:
        message, fitted = fit(message)
        key = dedupe_key(message, network)
        found = connection.execute(
            sa.select(inbound.c.id).where(inbound.c.dedupe_key == key)
        ).first()
        if found is not None:
            return Taken(found.id, new=False)
        at = core.now()
        notes = [*message.notes, *fitted, *notes]
        if network == "email":
            matched = self._match_mail(connection, message, bounce)
            cleaned = clean(message.text, message.html)
            notes += [matched.note] if matched.note else []
        else:
            matched = self._match_social(connection, network, message)
            cleaned = clean(message.text, None)
        campaign = self._campaign(connection, matched, network, message)
        kind = kind_of(
            Signals(
                headers=message.headers,
                subject=message.subject,
                recipient=message.recipient,
                text=cleaned.text,
                is_bounce=bounce is not None,
                has_media=any(a.is_media for a in message.attachments),
                answers_call_for_stories=bool(
                    campaign and self.campaign_kind(campaign) == "call-for-stories"
                ),
            )
        )
        inbound_id = connection.execute(
            inbound.insert()
            .values(
                provider=message.provider,
                dedupe_key=key,
                sender=message.sender,
                sender_name=message.sender_name,
                recipient=message.recipient,
                subject=message.subject,
                text=message.text,
                html=message.html,
                message_id=message.message_id,
                in_reply_to=message.in_reply_to,
                references=message.references,
                headers=[list(h) for h in message.headers],
                raw=message.raw,
                received_at=at,
                original=original,
                contact_id=matched.contact_id,
                send_id=matched.send_id,
                delivery_id=matched.delivery_id,
                matched_by=matched.matched_by,
                campaign=campaign,
                clean_text=cleaned.text,
                quoted=cleaned.quoted,
                signature=cleaned.signature,
                kind=kind,
                status="done" if kind in _SETTLED else "new",
                owner="",
                notes=notes,
                updated_at=at,
            )
            .returning(inbound.c.id)
        ).scalar_one()
        noted = len(notes)
        notes += self._keep_attachments(connection, inbound_id, message, at)
        if kind == "unsubscribe":
            notes += self._unsubscribe(connection, message, matched)
        elif kind == "bounce" and bounce is not None:
            notes += self._bounced(connection, message, bounce, inbound_id)
        if len(notes) > noted:
            connection.execute(
                inbound.update().where(inbound.c.id == inbound_id).values(notes=notes)
            )
        return Taken(inbound_id, True, kind, matched.matched_by, notes)

    def _keep_attachments(
        self, connection: sa.Connection, inbound_id: int, message: InboundMessage, at: dt.datetime
    ) -> list[str]:
        if not message.attachments:
            return []
        if self.attachments is None:
            return [f"{len(message.attachments)} attachment(s) came with it and were not kept."]
        where = (
            "It is still in the mailbox or the saved file."
            if message.provider in ("imap", "import")
            else ""
        )
        return self.attachments.keep(connection, inbound_id, message.attachments, at, where)

    # -- matching --------------------------------------------------------------------------

    def _match_mail(
        self, connection: sa.Connection, message: InboundMessage, bounce: Bounce | None
    ) -> Match:
        if message.recipient.lower().startswith("unsubscribe+"):
            return self._by_unsubscribe_token(connection, message.recipient)
        if bounce is not None:
            # A failure notice comes from a mail system; the person is the one it names.
            returned = " ".join(bounce.message_ids)
            found = match(connection, self.signer, "", returned, message.references, "")
            if found.matched_by == "in-reply-to":
                found = replace(found, matched_by="returned-message")
            if found.contact_id is None and bounce.failed:
                person = core.find(connection, bounce.failed[0].recipient)
                return Match(person.id if person else None, matched_by="bounce-recipient")
            return found
        return match(
            connection,
            self.signer,
            message.recipient,
            message.in_reply_to,
            message.references,
            message.sender,
        )

    def _by_unsubscribe_token(self, connection: sa.Connection, recipient: str) -> Match:
        try:
            contact_id, send_id = self.signer.verify(
                "u", recipient.split("@", 1)[0].split("+", 1)[1]
            )
        except (BadToken, ValueError, IndexError):
            return Match(None)
        exists = connection.execute(
            sa.select(contacts.c.id).where(contacts.c.id == contact_id)
        ).first()
        if exists is None:
            return Match(None)
        send = connection.execute(sa.select(sends.c.id).where(sends.c.id == send_id)).first()
        return Match(contact_id, send.id if send else None, matched_by="unsubscribe-token")

    def _match_social(
        self, connection: sa.Connection, network: str, message: InboundMessage
    ) -> Match:
        row = connection.execute(
            sa.select(contact_handles.c.contact_id).where(
                contact_handles.c.network == network,
                contact_handles.c.handle == handle_key(network, message.sender),
            )
        ).first()
        if row is None:
            return Match(None, matched_by="unknown-handle")
        return Match(row.contact_id, matched_by="handle")

    def _campaign(
        self, connection: sa.Connection, matched: Match, network: str, message: InboundMessage
    ) -> str | None:
        if matched.send_id is not None:
            return connection.execute(
                sa.select(sends.c.campaign).where(sends.c.id == matched.send_id)
            ).scalar()
        if network != "email" and message.in_reply_to:
            key = connection.execute(
                sa.select(posts.c.campaign).where(posts.c.remote_id == message.in_reply_to)
            ).scalar()
            return slug_of(key) if key else None  # a reply to a Welsh post: its campaign
        return None

    # -- effects ---------------------------------------------------------------------------

    def _unsubscribe(
        self, connection: sa.Connection, message: InboundMessage, matched: Match
    ) -> list[str]:
        if matched.contact_id is None:
            return ["Asked to stop, but we could not tell who it is from; nobody was changed."]
        address = connection.execute(
            sa.select(contacts.c.email).where(contacts.c.id == matched.contact_id)
        ).scalar()
        if not address:
            return []
        method = "email" if matched.matched_by == "unsubscribe-token" else "reply"
        source = f"reply by {message.provider}"
        life.unsubscribe(
            connection,
            address,
            method=method,
            source=source,
            by=core.PERSON,
            send_id=matched.send_id,
        )
        return [f"{address} was unsubscribed, as this reply asked."]

    def _bounced(
        self, connection: sa.Connection, message: InboundMessage, bounce: Bounce, inbound_id: int
    ) -> list[str]:
        from ..webhooks.store import record_events  # the same handling as a provider's bounce

        delivery_ids = (
            connection.execute(
                sa.select(deliveries.c.message_id).where(
                    deliveries.c.message_id.in_(bounce.message_ids)
                )
            )
            .scalars()
            .all()
            if bounce.message_ids
            else []
        )
        found = [
            Event(
                provider=message.provider,
                event_id=f"notice:{inbound_id}:{failed.recipient.lower()}",
                event_type="bounced",
                timestamp=core.now(),
                recipient=failed.recipient,
                message_id=delivery_ids[0] if delivery_ids else "",
                hard=failed.hard,
                reason=failed.status,
                description=failed.reason,
                raw={"inbound_id": inbound_id, "source": f"failure notice ({message.provider})"},
            )
            for failed in bounce.failed
        ]
        record_events(connection, found)
        return [
            (
                f"Delivery to {f.recipient} failed"
                if f.hard
                else f"Delivery to {f.recipient} is late"
            )
            + (f" ({f.status})" if f.status else "")
            + ("; the address is now suppressed." if f.hard else "; it may still work.")
            for f in bounce.failed
        ] or ["A delivery failure notice that names no address; nothing was changed."]


def for_workspace(workspace: Workspace, signing: Signer | None = None) -> Inbox:
    """An inbox that reads each campaign's kind from its file (missing files: newsletter)."""
    from ..campaigns import load

    known: dict[str, str] = {}

    def campaign_kind(slug: str) -> str:
        if slug not in known:
            try:
                known[slug] = load(workspace, slug).meta.kind
            except EngageError:
                known[slug] = "newsletter"
        return known[slug]

    return Inbox(signing or (lambda: signer(workspace)), campaign_kind, attachments_for(workspace))


def when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if value else ""
