"""SendGrid: the signed Event Webhook (a JSON array of events) and Inbound Parse (a form).

Event Webhook: ECDSA P-256 with SHA-256. The header X-Twilio-Email-Event-Webhook-Signature
holds a base64 DER signature over the bytes of X-Twilio-Email-Event-Webhook-Timestamp
followed by the raw body; the public key (base64 DER, from the account's mail settings) is in
the variable `[email.sendgrid] webhook_public_key_env` names. Inbound Parse is not signed
here: its URL carries HTTP Basic credentials, `inbound_user` and the password in the variable
`inbound_password_env` names.

    verify_events(request, secret, *, now=None, seen_token=None, tolerance=300.0) -> None
    verify_inbound(request, secret, *, user, now=None, seen_token=None) -> None
    parse_events(request) -> list[Event | Unreadable]
    parse_inbound(request) -> InboundMessage

verify_events: `secret` is the public key; a timestamp more than `tolerance` seconds from
`now` (epoch seconds, default the clock) is refused. verify_inbound: `secret` is the password,
`user` the user name. `seen_token` is accepted so every provider is called alike, and unused.

Event ids: `sg_event_id` (a SHA-256 of the event's canonical JSON if it is missing).
provider_message_id is `sg_message_id` (the X-Message-Id the send returned is the part before
its first "."); message_id is `smtp-id`. Metadata is our custom args, top-level keys of each
event. reason is SendGrid's `reason`; description the MTA `response`, or the URL of a click.

parse_inbound reads the raw multipart body when there is one, so each field is decoded with
the charset SendGrid declares for it in `charsets` (a form parser would assume UTF-8); else
the parsed `request.form`. With "send raw" the field `email` holds the whole MIME message.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.utils
import json
from collections.abc import Callable
from email import policy
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ...errors import WebhookRefused
from ...mailparts import BIG_PART, attachments_of, parse_mail, without_big_attachments
from ...models import (
    Attachment,
    Event,
    InboundMessage,
    Request,
    Unreadable,
    Upload,
    digest_id,
    unreadable,
)
from ..common import (
    check_basic_auth,
    check_time,
    choose_recipient,
    engage_metadata,
    epoch_time,
    first_header,
    header_addresses,
    json_body,
)

PROVIDER = "sendgrid"
SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"
EVENTS = {
    "processed": "queued",
    "delivered": "delivered",
    "deferred": "deferred",
    "bounce": "bounced",
    "dropped": "rejected",
    "open": "opened",
    "click": "clicked",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
    "group_resubscribe": "subscribed",
}


def verify_events(
    request: Request,
    secret: str,
    *,
    now: float | None = None,
    seen_token: Callable[[str], bool] | None = None,
    tolerance: float = 300.0,
) -> None:
    what = "SendGrid event webhook"
    key = _public_key(secret, what)
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    missing = [
        h for h, v in ((SIGNATURE_HEADER, signature), (TIMESTAMP_HEADER, timestamp)) if not v
    ]
    if missing:
        raise WebhookRefused(f"{what}: no {' or '.join(missing)} header", 401)
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, timestamp.encode() + request.body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        raise WebhookRefused(
            f"{what}: the signature does not match the timestamp and body", 403
        ) from None
    check_time(timestamp, now, tolerance, what)


def _public_key(secret: str, what: str) -> ec.EllipticCurvePublicKey:
    """The verification key from base64 DER (PEM armour is tolerated)."""
    text = "".join(
        line.strip() for line in secret.strip().splitlines() if not line.startswith("-----")
    )
    if not text:
        raise WebhookRefused(f"{what}: no public key is set to check signatures with", 403)
    try:
        key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise WebhookRefused(
            f"{what}: the public key set in [email.sendgrid] webhook_public_key_env is not a "
            "base64 DER elliptic-curve key",
            403,
        )
    return key


def verify_inbound(
    request: Request,
    secret: str,
    *,
    user: str,
    now: float | None = None,
    seen_token: Callable[[str], bool] | None = None,
) -> None:
    check_basic_auth(request, user, secret, "SendGrid Inbound Parse")


def parse_events(request: Request) -> list[Event | Unreadable]:
    """Every event in the batch: read, or kept as Unreadable with the reason, so one event
    engage cannot read never holds back the others. A body that is not a JSON array at all is a
    ValueError."""
    data = json_body(request.body, "SendGrid event webhook")
    if not isinstance(data, list):
        raise ValueError("SendGrid event webhook: the body is not a JSON array of events")
    return [_read(item, index) for index, item in enumerate(data)]


def _read(item: Any, index: int) -> Event | Unreadable:
    try:
        return _event(item, index)
    except ValueError as exc:
        recipient = item.get("email", "") if isinstance(item, dict) else ""
        raw = json.dumps(item, ensure_ascii=False)
        return unreadable(PROVIDER, str(exc), raw, stable=item, recipient=recipient)


def _event(item: Any, index: int) -> Event:
    if not isinstance(item, dict):
        raise ValueError(f"SendGrid event webhook: event {index} is not an object")
    name = item.get("event")
    if not isinstance(name, str) or not name:
        raise ValueError(f"SendGrid event webhook: event {index} has no 'event' name")
    event_type = EVENTS.get(name, "unknown")
    recipient = str(item.get("email") or "")
    if not recipient and event_type != "unknown":
        raise ValueError(f"SendGrid event webhook: event {index} ({name}) has no 'email'")
    description = item.get("url") if name == "click" else item.get("response")
    return Event(
        provider=PROVIDER,
        event_id=str(item.get("sg_event_id") or digest_id(item)),
        event_type=event_type,
        timestamp=epoch_time(item.get("timestamp"), f"SendGrid event {index} ({name})"),
        recipient=recipient,
        message_id=str(item.get("smtp-id") or ""),
        provider_message_id=str(item.get("sg_message_id") or ""),
        metadata=engage_metadata(item),
        hard=name == "bounce" and item.get("type", "bounce") != "blocked",
        reason=str(item.get("reason") or ""),
        description=str(description or ""),
        raw=item,
    )


def parse_inbound(request: Request) -> InboundMessage:
    what = "SendGrid Inbound Parse"
    fields = _fields(request)
    try:
        charsets = json.loads(_decode(fields.get("charsets", b""), "utf-8") or "{}")
        envelope = json.loads(_decode(fields.get("envelope", b""), "utf-8") or "{}")
        if not isinstance(charsets, dict) or not isinstance(envelope, dict):
            raise ValueError
    except (ValueError, RecursionError):
        raise ValueError(f"{what}: 'charsets' or 'envelope' is not a JSON object") from None
    big_email = next((u for u in request.files if u.name == "email" and not u.file), None)
    text = {
        name: _decode(value, charsets.get(name))
        for name, value in fields.items()
        if name != "email"
    }
    found: tuple[Attachment, ...] = ()
    notes: tuple[str, ...] = ()
    if "email" in fields or big_email is not None:  # raw mode: the whole message
        message, deep = _raw_message(fields.get("email"), big_email)
        notes = (deep,) if deep else ()
        body_text, body_html = _body(message, "plain"), _body(message, "html")
        found = tuple(attachments_of(message))
        if any(a.size > BIG_PART for a in found):  # their bytes are kept as files, not twice
            text["email"] = without_big_attachments(message).decode("utf-8", "replace")
        else:
            whole = fields.get("email") or (big_email.path.read_bytes() if big_email else b"")
            text["email"] = _decode(whole, "utf-8")
    elif "headers" in fields:
        message = HeaderParser(policy=policy.default).parsestr(text["headers"])
        body_text, body_html = text.get("text", ""), text.get("html", "")
    else:
        raise ValueError(f"{what}: neither a 'headers' nor an 'email' field (not a parse post?)")
    headers = [(name, str(value)) for name, value in message.items()]
    name, address = email.utils.parseaddr(text.get("from") or first_header(headers, "From"))
    address = address or str(envelope.get("from") or "")
    if not address:
        raise ValueError(f"{what}: no 'from' field or From header")
    to = envelope.get("to")
    envelope_to = [str(a) for a in to if a] if isinstance(to, list) else []
    recipient = choose_recipient(envelope_to, header_addresses(headers))
    if not recipient:
        raise ValueError(f"{what}: no envelope recipient and no To header")
    return InboundMessage(
        provider=PROVIDER,
        sender=address,
        sender_name=name,
        recipient=recipient,
        subject=text.get("subject") or first_header(headers, "Subject"),
        text=body_text,
        html=body_html,
        message_id=first_header(headers, "Message-ID"),
        in_reply_to=first_header(headers, "In-Reply-To"),
        references=first_header(headers, "References"),
        headers=headers,
        raw=text,
        attachments=found or _parsed_attachments(request, text),
        notes=notes,
    )


def _raw_message(value: bytes | str | None, spooled: Upload | None) -> tuple[Message, str]:
    """The whole mail, no deeper than mailparts.MAX_DEPTH, and a note on what was left out."""
    if spooled is not None:
        with spooled.path.open("rb") as mail:
            return parse_mail(mail, policy.default)
    return parse_mail(value or "", policy.default)


def _parsed_attachments(request: Request, text: dict[str, str]) -> tuple[Attachment, ...]:
    """The file parts (attachment1, attachment2, ...), named and typed as the part says, else
    as `attachment-info` says."""
    try:
        info = json.loads(text.get("attachment-info") or "{}")
    except (ValueError, RecursionError):
        info = {}
    info = info if isinstance(info, dict) else {}
    found = []
    for upload in request.files:
        if not upload.file:
            continue
        named = info.get(upload.name)
        about: dict[str, Any] = named if isinstance(named, dict) else {}
        found.append(
            Attachment(
                name=upload.filename or str(about.get("filename") or about.get("name") or ""),
                content_type=upload.content_type
                or str(about.get("type") or "application/octet-stream"),
                path=upload.path,
                content_id=str(about.get("content-id") or ""),
            )
        )
    return tuple(found)


def _fields(request: Request) -> dict[str, bytes | str]:
    """Form fields other than files: as sent, when the body was read part by part; bytes from
    a raw multipart body; else the parsed form."""
    fields: dict[str, bytes | str] = {}
    if request.parts or request.files:
        for name, value in request.parts:
            fields.setdefault(name, value)
        return fields
    content_type = request.content_type or request.headers.get("content-type", "")
    if request.body and content_type.lower().startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode("ascii", "replace")
        form, _ = parse_mail(head + request.body, policy.compat32)  # a form is one level
        if form.is_multipart():
            parts: list[Message] = form.get_payload()  # type: ignore[assignment]
            for part in parts:
                name = email.utils.collapse_rfc2231_value(
                    part.get_param("name", "", header="content-disposition")
                )
                if name and part.get_filename() is None and name not in fields:
                    payload: bytes | None = part.get_payload(decode=True)  # type: ignore[assignment]
                    fields[name] = payload or b""
            return fields
    return dict(reversed(request.form))  # the first value of each name wins


def _decode(value: bytes | str, charset: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        codecs.lookup(str(charset or "utf-8"))
    except LookupError:
        charset = "utf-8"
    return value.decode(str(charset or "utf-8"), "replace")


def _body(message: Message, subtype: str) -> str:
    part = (
        message.get_body(preferencelist=(subtype,)) if isinstance(message, EmailMessage) else None
    )
    if part is None:
        return ""
    try:
        return part.get_content()
    except (LookupError, ValueError):  # an unknown charset: UTF-8 is the best guess
        payload: bytes | None = part.get_payload(decode=True)  # type: ignore[assignment]
        return (payload or b"").decode("utf-8", "replace")
