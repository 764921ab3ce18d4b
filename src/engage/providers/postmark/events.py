"""Postmark: tracking webhooks (one JSON object a request) and the inbound webhook (JSON).

Postmark signs nothing. Each webhook URL given to Postmark carries HTTP Basic credentials
(https://USER:PASSWORD@host/...): the user is `[email.postmark] webhook_user`, the password is
in the variable `webhook_password_env` names. Both are compared in constant time.

    verify_events(request, secret, *, user, now=None, seen_token=None) -> None
    verify_inbound(request, secret, *, user, now=None, seen_token=None) -> None
    parse_events(request) -> list[Event | Unreadable]
    parse_inbound(request) -> InboundMessage

`secret` is the password and `user` the user name. `now` and `seen_token` are accepted so
every provider is called alike, and unused: Basic credentials carry no time or token. A
request without Basic credentials is refused with 401; the caller should answer it with a
`WWW-Authenticate: Basic` header, as some senders only send credentials when challenged.

Event ids: a Bounce or SpamComplaint record's `ID`; anything else has no id, so event_id is a
SHA-256 of the canonical JSON payload (a retry sends the same payload). `MessageID` is
Postmark's own id, so it goes in provider_message_id; Postmark does not send back our
Message-ID, so message_id is empty and the metadata (engage_*), or the MessageID that the send
recorded in deliveries.provider_id, identifies the delivery (webhooks/store.py).
SubscriptionChange: SuppressSending false is "subscribed"; true is "unsubscribed", unless the
SuppressionReason is HardBounce ("bounced", hard) or SpamComplaint ("complained").
Only RecordType, Recipient and SuppressSending are needed: a change without ChangedAt is
taken as happening now. A Bounce whose Type is Unsubscribe is an unsubscribe too.
reason is the bounce `Type` (or SuppressionReason); description the MTA reply, or the URL.
A verified event engage cannot read comes back as an Unreadable, kept with the reason.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import json
from collections.abc import Callable
from typing import Any

from ... import clock
from ...models import Attachment, Event, InboundMessage, Request, Unreadable, digest_id, unreadable
from ..common import check_basic_auth, choose_recipient, engage_metadata, first_header, json_body

PROVIDER = "postmark"
RECORD_TYPES = {
    "Delivery": "delivered",
    "Open": "opened",
    "Click": "clicked",
    "SpamComplaint": "complained",
}
BOUNCE_TYPES = {  # a Bounce record's Type; any other Type is a bounce that is not hard
    "HardBounce": "bounced",
    "BadEmailAddress": "bounced",
    "ManuallyDeactivated": "bounced",
    "Transient": "deferred",
    "DnsError": "deferred",
    "OpenRelayTest": "deferred",
    "AutoResponder": "autoresponded",
    "AddressChange": "autoresponded",
    "ChallengeVerification": "autoresponded",
    "SpamNotification": "complained",
    "SpamComplaint": "complained",
    "Unsubscribe": "unsubscribed",
    "Subscribe": "subscribed",
    "Unconfirmed": "rejected",
    "SMTPApiError": "failed",
    "TemplateRenderingFailed": "failed",
}
HARD_BOUNCES = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
TIME_FIELDS = ("DeliveredAt", "BouncedAt", "ReceivedAt", "ChangedAt")


def verify_events(
    request: Request,
    secret: str,
    *,
    user: str,
    now: float | None = None,
    seen_token: Callable[[str], bool] | None = None,
) -> None:
    check_basic_auth(request, user, secret, "Postmark webhook")


def verify_inbound(
    request: Request,
    secret: str,
    *,
    user: str,
    now: float | None = None,
    seen_token: Callable[[str], bool] | None = None,
) -> None:
    check_basic_auth(request, user, secret, "Postmark inbound webhook")


def parse_events(request: Request) -> list[Event | Unreadable]:
    """The one event in the request, or it kept as Unreadable with the reason."""
    try:
        data = json_body(request.body, "Postmark webhook")
    except ValueError as exc:
        return [unreadable(PROVIDER, str(exc), request.body)]
    try:
        return [_event(data)]
    except ValueError as exc:
        recipient = data.get("Recipient") or data.get("Email") if isinstance(data, dict) else ""
        return [unreadable(PROVIDER, str(exc), request.body, stable=data, recipient=recipient)]


def _event(data: Any) -> Event:
    if not isinstance(data, dict):
        raise ValueError("Postmark webhook: the body is not a JSON object")
    record = data.get("RecordType")
    if record == "Inbound" or (not record and "FromFull" in data):
        raise ValueError("Postmark webhook: an inbound message was posted to the events URL")
    if not isinstance(record, str) or not record:
        raise ValueError("Postmark webhook: no 'RecordType'")
    event_type, hard, reason = _classify(record, data)
    recipient = str(data.get("Recipient") or data.get("Email") or "")
    if not recipient and event_type != "unknown":
        raise ValueError(f"Postmark {record} webhook: no 'Recipient' or 'Email'")
    has_id = record in ("Bounce", "SpamComplaint") and data.get("ID") not in (None, "")
    description = data.get("OriginalLink") if record == "Click" else None
    return Event(
        provider=PROVIDER,
        event_id=str(data["ID"]) if has_id else digest_id(data),
        event_type=event_type,
        timestamp=_timestamp(data, record),
        recipient=recipient,
        provider_message_id=str(data.get("MessageID") or ""),
        metadata=engage_metadata(data.get("Metadata")),
        hard=hard,
        reason=reason,
        description=str(description or data.get("Details") or data.get("Description") or ""),
        raw=data,
    )


def _classify(record: str, data: dict[str, Any]) -> tuple[str, bool, str]:
    """(event type, hard, reason) for a record."""
    if record == "Bounce":
        kind = str(data.get("Type") or "")
        return BOUNCE_TYPES.get(kind, "bounced"), kind in HARD_BOUNCES, kind
    if record == "SubscriptionChange":
        reason = str(data.get("SuppressionReason") or "")
        if not _true(data.get("SuppressSending")):
            return "subscribed", False, reason
        if reason == "HardBounce":
            return "bounced", True, reason
        if reason == "SpamComplaint":
            return "complained", False, reason
        return "unsubscribed", False, reason
    return RECORD_TYPES.get(record, "unknown"), False, str(data.get("Type") or "")


def _true(value: Any) -> bool:
    """SuppressSending: true or false, however it is written."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _timestamp(data: dict[str, Any], record: str) -> dt.datetime:
    """The record's time (an ISO 8601 string in a field ending in At), in UTC. A
    SubscriptionChange need not say when (ChangedAt is optional): then it is now."""
    names = [*TIME_FIELDS, *(k for k in data if k.endswith("At") and k not in TIME_FIELDS)]
    value = next((data[k] for k in names if isinstance(data.get(k), str) and data[k]), None)
    if value is None and record == "SubscriptionChange":
        return clock.now()
    if value is None:
        raise ValueError(f"Postmark {record} webhook: no time ({', '.join(TIME_FIELDS)})")
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"Postmark {record} webhook: the time {value!r} is not ISO 8601") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)


def parse_inbound(request: Request) -> InboundMessage:
    data = _inbound_body(request)
    if not isinstance(data, dict):
        raise ValueError("Postmark inbound webhook: the body is not a JSON object")
    if data.get("RecordType", "Inbound") != "Inbound":
        raise ValueError(
            f"Postmark inbound webhook: a {data['RecordType']} event was posted to the inbound URL"
        )
    sender = _full(data.get("FromFull"))
    name, address = email.utils.parseaddr(str(data.get("From") or ""))
    address, name = sender.get("Email") or address, sender.get("Name") or name
    if not address:
        raise ValueError("Postmark inbound webhook: no 'FromFull' or 'From'")
    headers = [
        (str(h["Name"]), str(h.get("Value", "")))
        for h in data.get("Headers") or []
        if isinstance(h, dict) and h.get("Name")
    ]
    copies = [
        _full(f).get("Email", "")
        for k in ("ToFull", "CcFull", "BccFull")
        for f in data.get(k) or []
    ]
    envelope = [str(data.get("OriginalRecipient") or "")]
    recipient = choose_recipient([a for a in envelope if a], [a for a in copies if a])
    if not recipient:
        raise ValueError("Postmark inbound webhook: no 'OriginalRecipient' or 'ToFull'")
    return InboundMessage(
        provider=PROVIDER,
        sender=address,
        sender_name=name,
        recipient=recipient,
        subject=str(data.get("Subject") or ""),
        text=str(data.get("TextBody") or ""),
        html=str(data.get("HtmlBody") or ""),
        message_id=first_header(headers, "Message-ID"),
        in_reply_to=first_header(headers, "In-Reply-To"),
        references=first_header(headers, "References"),
        headers=headers,
        raw=data,
        attachments=_attachments(data, request),
    )


def _inbound_body(request: Request) -> Any:
    if request.body_file is None:
        return json_body(request.body, "Postmark inbound webhook")
    try:
        # As text, so the bytes are not held beside the text while it is parsed.
        with request.body_file.open(encoding="utf-8") as body:
            return json.load(body)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"Postmark inbound webhook: the body is not valid JSON ({exc})") from None


B64_CHUNK = 4 * 1024 * 1024  # characters of base64 decoded at a time (a multiple of 4)


def _attachments(data: dict[str, Any], request: Request) -> tuple[Attachment, ...]:
    """Each of `Attachments` [{Name, Content (base64), ContentType, ContentLength, ContentID}],
    decoded to a file beside the spooled body (or to bytes when the body is in memory). Its
    base64 is taken out of the raw payload, which notes where it went."""
    found = []
    items = data.get("Attachments")
    for number, item in enumerate(items if isinstance(items, list) else [], start=1):
        if not isinstance(item, dict):
            continue
        text = str(item.pop("Content", None) or "")
        if any(space in text for space in " \r\n\t"):
            text = "".join(text.split())
        try:
            if request.body_file is not None:
                path = request.body_file.parent / f"postmark-attachment-{number}"
                with path.open("wb") as out:
                    for start in range(0, len(text), B64_CHUNK):
                        out.write(base64.b64decode(text[start : start + B64_CHUNK], validate=True))
                kept: dict[str, Any] = {"path": path}
            else:
                kept = {"data": base64.b64decode(text, validate=True)}
        except (binascii.Error, ValueError):
            item["Content"] = "(not base64, so engage could not keep it)"
            continue
        item["Content"] = "(moved to a file: see the reply's attachments)"
        found.append(
            Attachment(
                name=str(item.get("Name") or ""),
                content_type=str(item.get("ContentType") or "application/octet-stream"),
                content_id=str(item.get("ContentID") or ""),
                **kept,
            )
        )
    return tuple(found)


def _full(value: Any) -> dict[str, str]:
    """A Postmark {Email, Name, MailboxHash} object, with string values."""
    if not isinstance(value, dict):
        return {}
    return {k: str(v) for k, v in value.items() if isinstance(v, str | int)}
