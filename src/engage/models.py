"""The things that come in to engage, shared by every layer above: a provider's events
(`Event`, `Unreadable`), an inbound message and its attachments (`InboundMessage`,
`Attachment`), the request a webhook arrives in (`Request`, `Upload`), and a reply fetched
from a social network (`SocialReply`). Only the standard library here, so providers,
webhooks, replies and social can all use them without importing each other."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RAW_LIMIT = 100_000  # characters of an unreadable event that are kept

# Normalised event types (as django-anymail names them).
EVENT_TYPES = (
    "queued",
    "sent",
    "rejected",
    "failed",
    "bounced",
    "deferred",
    "delivered",
    "autoresponded",
    "opened",
    "clicked",
    "complained",
    "unsubscribed",
    "subscribed",
    "inbound",
    "unknown",
)


@dataclass(frozen=True)
class Request:
    """The parts of an HTTP request a webhook module needs (no Flask in here)."""

    headers: dict[str, str]  # names in lower case
    body: bytes
    form: list[tuple[str, str]] = field(default_factory=list)  # parsed form fields, if a form
    content_type: str = ""
    # Inbound mail only (web/inbound_body.py): the body or its big parts spooled to disk.
    parts: list[tuple[str, bytes]] = field(default_factory=list)  # form fields, as sent
    files: list[Upload] = field(default_factory=list)  # file parts, and fields too big to hold
    body_file: Path | None = None  # the whole body, when it was spooled rather than read


@dataclass(frozen=True)
class Upload:
    """A part of a form post kept in a temporary file: a file, or a field too big to hold."""

    name: str  # the form field
    filename: str  # as the sender gave it (never used as a path)
    content_type: str
    path: Path
    file: bool = True  # False: a form field too big to hold in memory


@dataclass(frozen=True)
class Attachment:
    """A file that came with a reply: its bytes in a temporary file or in memory. The inbox
    keeps it (replies/attachments.py); the name given is shown, never used as a path."""

    name: str
    content_type: str
    path: Path | None = None
    data: bytes | None = None
    content_id: str = ""

    @property
    def size(self) -> int:
        return (
            len(self.data)
            if self.data is not None
            else (self.path.stat().st_size if self.path else 0)
        )

    @property
    def is_media(self) -> bool:
        """A sound, video or picture: sent to a call for stories, it is a story."""
        return self.content_type.split("/", 1)[0].lower() in ("audio", "video", "image")


@dataclass(frozen=True)
class Event:
    provider: str
    event_id: str  # the provider's id for this event: stored once however often it comes
    event_type: str  # one of EVENT_TYPES
    timestamp: dt.datetime  # aware, UTC
    recipient: str
    message_id: str = ""  # our Message-ID header, or the provider's id, as the provider gives
    provider_message_id: str = ""
    metadata: dict[str, str] = field(default_factory=dict)  # engage_campaign/send/delivery
    hard: bool = False  # for bounces: permanent (suppress) or not
    reason: str = ""
    description: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Unreadable:
    """An event that passed the provider's check but that engage cannot read: kept whole with
    the reason, so the team can see it and the provider is not asked to send it again."""

    provider: str
    key: str  # the same for every copy of this event: it is kept once
    reason: str  # what is wrong with it, in plain words
    raw: str  # the event as it came (cut at RAW_LIMIT characters)
    recipient: str = ""  # whose it seems to be, when that much could be read


def unreadable(
    provider: str, reason: str, raw: str | bytes, *, stable: Any = None, recipient: Any = ""
) -> Unreadable:
    """An event engage cannot read, kept as it came. Its key is the digest of `stable` (the part
    that is the same on every retry: not a signature that changes each time), else of `raw`."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if stable is None:
        key = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
    else:
        key = digest_id(stable)
    if len(text) > RAW_LIMIT:
        text = text[:RAW_LIMIT] + f"\n[cut: only the first {RAW_LIMIT:,} characters are kept]"
    address = recipient if isinstance(recipient, str) else ""
    return Unreadable(provider, key, reason, text, address.strip()[:320])


def digest_id(payload: Any) -> str:
    """A SHA-256 of the canonical JSON: the same payload always gives the same id."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class InboundMessage:
    provider: str
    sender: str  # the address
    sender_name: str
    recipient: str  # the address it was sent to (reply+token@..., unsubscribe+token@...)
    subject: str
    text: str
    html: str
    message_id: str
    in_reply_to: str
    references: str
    headers: list[tuple[str, str]]
    raw: dict[str, Any] = field(default_factory=dict)  # without attachments' bytes
    attachments: tuple[Attachment, ...] = ()
    notes: tuple[str, ...] = ()  # what the team should know about how it was read


@dataclass(frozen=True)
class SocialReply:
    """A reply to or mention of one of our posts, as a network gives it (it is stored as an
    InboundMessage, like an email reply)."""

    remote_id: str
    author: str  # the handle, like sam@example.social or sam.bsky.social
    text: str
    url: str
    in_reply_to: str = ""  # the post it answers, when it is a reply
    raw: dict[str, Any] = field(default_factory=dict)
