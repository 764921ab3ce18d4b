"""What every provider's webhook module returns, and the error for a request we refuse."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..errors import EngageError

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


class WebhookRefused(EngageError):
    """A request that did not prove it came from the provider. `status` is 401 or 403;
    the message is for the log, never shown to the caller."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    """The parts of an HTTP request a webhook module needs (no Flask in here)."""

    headers: dict[str, str]  # names in lower case
    body: bytes
    form: list[tuple[str, str]] = field(default_factory=list)  # parsed form fields, if a form
    content_type: str = ""


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
    raw: dict[str, Any] = field(default_factory=dict)
