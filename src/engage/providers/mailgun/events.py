"""Mailgun: tracking webhooks (JSON, one event a request) and inbound routes (form posts).

Both are signed alike: HMAC-SHA256 keyed with the *webhook signing key* (not the API key;
`[email.mailgun] webhook_signing_key_env` names its variable) over `timestamp` + `token`, hex
digest in `signature`. Tracking webhooks carry the three in the body's "signature" object,
routes as form fields. The signature covers no part of the body, so the timestamp window and
the token check are what stop a captured request being sent again. Accounts that never moved
to the JSON webhooks still get the legacy ones: form fields, signed the same way in the
`timestamp`, `token` and `signature` fields; verify_events and parse_events take both.

    verify_events(request, secret, *, now=None, seen_token=None, tolerance=300.0) -> None
    verify_inbound(request, secret, *, now=None, seen_token=None, tolerance=300.0) -> None
    parse_events(request) -> list[Event | Unreadable]
    parse_inbound(request) -> InboundMessage

`secret` is the signing key. `now` is the time in epoch seconds (default: the clock); a
timestamp more than `tolerance` seconds before or after it is refused. `seen_token(token)` is
called once, and only when signature and timestamp are good: it records the token and returns
True if it was already recorded (a replay, refused). None skips that check.

Event ids: `event-data.id` is unique only within a day and the token is new each signing, so
event_id is "<event-data.id>:<event-data.timestamp>" (the same on every retry of one event);
without an id it falls back to the signature token. message_id is our Message-ID in <...>
form (Mailgun drops the brackets), and as Mailgun's own id for a message is that header too,
provider_message_id holds the same. description is the MTA's reply, or the URL for a click.
A `rejected` event has no recipient of its own: it is read from the message's To header when
that names one address. A signed event engage cannot read comes back as an Unreadable, kept
with the reason (see webhooks/store.py), never refused: Mailgun would send it again for hours.

parse_inbound reads parsed form fields (`request.form`, or an urlencoded body). The helpers
below are shared with the Postmark and SendGrid modules.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import WebhookRefused
from ...models import Attachment, Event, InboundMessage, Request, Unreadable, digest_id, unreadable
from ..common import (
    bracketed,
    check_time,
    choose_recipient,
    engage_metadata,
    epoch_time,
    first_header,
    header_addresses,
    json_body,
)

PROVIDER = "mailgun"
SIMPLE_EVENTS = {
    "accepted": "queued",
    "delivered": "delivered",
    "opened": "opened",
    "clicked": "clicked",
    "complained": "complained",
    "unsubscribed": "unsubscribed",
    "rejected": "rejected",
}
# Legacy webhook event names: (event type, hard).
LEGACY_EVENTS = {
    "delivered": ("delivered", False),
    "opened": ("opened", False),
    "clicked": ("clicked", False),
    "complained": ("complained", False),
    "unsubscribed": ("unsubscribed", False),
    "bounced": ("bounced", True),  # Mailgun calls only hard bounces "bounced"
    "dropped": ("rejected", False),  # not sent: on a suppression list, or given up on
}
SIGNATURE_FIELDS = ("timestamp", "token", "signature")


def verify_events(
    request: Request,
    secret: str,
    *,
    now: float | None = None,
    seen_token: Callable[[str], bool] | None = None,
    tolerance: float = 300.0,
) -> None:
    what = "Mailgun webhook"
    if _is_form(request):  # a legacy webhook: the signature fields are form fields
        _verify(_form(request), secret, now, seen_token, tolerance, f"{what} (legacy form)")
        return
    try:
        signature = json.loads(request.body).get("signature")
    except (ValueError, AttributeError, RecursionError):
        raise WebhookRefused(
            f"{what}: the body is neither a JSON object with a signature nor a signed form", 401
        ) from None
    _verify(
        signature if isinstance(signature, dict) else {}, secret, now, seen_token, tolerance, what
    )


def verify_inbound(
    request: Request,
    secret: str,
    *,
    now: float | None = None,
    seen_token: Callable[[str], bool] | None = None,
    tolerance: float = 300.0,
) -> None:
    _verify(_form(request), secret, now, seen_token, tolerance, "Mailgun inbound route")


def _verify(
    fields: Mapping[str, Any],
    secret: str,
    now: float | None,
    seen_token: Callable[[str], bool] | None,
    tolerance: float,
    what: str,
) -> None:
    if not secret:
        raise WebhookRefused(
            f"{what}: no signing key is set (the variable [email.mailgun] "
            "webhook_signing_key_env names is empty)",
            403,
        )
    given = {k: str(fields.get(k) or "") for k in ("timestamp", "token", "signature")}
    if missing := [k for k, v in given.items() if not v]:
        raise WebhookRefused(f"{what}: no {', '.join(missing)} in the request", 401)
    timestamp, token, signature = given.values()
    expected = hmac.new(secret.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise WebhookRefused(f"{what}: the signature does not match (wrong signing key?)", 403)
    check_time(timestamp, now, tolerance, what)
    if seen_token is not None and seen_token(token):
        raise WebhookRefused(f"{what}: this token was used before (a replayed request)", 403)


def parse_events(request: Request) -> list[Event | Unreadable]:
    """The one event in the request (JSON, or a legacy form), or it kept as Unreadable with
    the reason: a signed event is never refused for its content."""
    if _is_form(request):
        fields = _form(request)
        try:
            return [_legacy_event(fields)]
        except ValueError as exc:
            stable: Any = sorted((k, v) for k, v in fields.items() if k not in SIGNATURE_FIELDS)
            raw = json.dumps(fields, ensure_ascii=False)  # readable, addresses as written
            return [
                unreadable(
                    PROVIDER, str(exc), raw, stable=stable, recipient=fields.get("recipient")
                )
            ]
    try:
        payload = json_body(request.body, "Mailgun webhook")
    except ValueError as exc:
        return [unreadable(PROVIDER, str(exc), request.body)]
    try:
        return [_json_event(payload)]
    except ValueError as exc:
        data = _dict(payload).get("event-data")
        stable = (
            data
            if isinstance(data, dict)
            else {k: v for k, v in _dict(payload).items() if k != "signature"}
        )
        return [
            unreadable(
                PROVIDER,
                str(exc),
                request.body,
                stable=stable,
                recipient=_dict(data).get("recipient"),
            )
        ]


def _json_event(payload: Any) -> Event:
    data = payload.get("event-data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise ValueError("Mailgun webhook: no 'event-data' object in the body")
    name = data.get("event")
    if not isinstance(name, str) or not name:
        raise ValueError("Mailgun webhook: the event has no 'event' name")
    timestamp = epoch_time(data.get("timestamp"), f"Mailgun {name} event")
    event_type, hard = _classify(name, data)
    headers = _dict(_dict(data.get("message")).get("headers"))
    recipient = str(data.get("recipient") or "")
    if not recipient and name == "rejected":  # Mailgun refused the message: only its To says
        recipient = _only_address(headers.get("to"))
    if not recipient and event_type not in ("unknown", "rejected"):
        raise ValueError(f"Mailgun {name} event: no 'recipient'")
    if data.get("id"):
        event_id = f"{data['id']}:{data['timestamp']}"
    else:
        event_id = str(_dict(payload.get("signature")).get("token") or "")
    if not event_id:
        raise ValueError(f"Mailgun {name} event: neither an event id nor a signature token")
    message_id = bracketed(headers.get("message-id"))
    status = _dict(data.get("delivery-status"))
    description = data.get("url") if name == "clicked" else None
    description = description or status.get("message") or status.get("description") or ""
    reason = data.get("reason") or _dict(data.get("reject")).get("reason") or ""
    return Event(
        provider=PROVIDER,
        event_id=event_id,
        event_type=event_type,
        timestamp=timestamp,
        recipient=recipient,
        message_id=message_id,
        provider_message_id=message_id,
        metadata=engage_metadata(data.get("user-variables")),
        hard=hard,
        reason=str(reason),
        description=str(description),
        raw=payload,
    )


def _only_address(value: Any) -> str:
    """The address in a To header that names exactly one; else ""."""
    found = [a for _, a in email.utils.getaddresses([str(value or "")]) if a]
    return found[0] if len(found) == 1 else ""


def _legacy_event(fields: dict[str, str]) -> Event:
    """A legacy (form-encoded) webhook: `event`, `recipient`, `Message-Id` or `message-headers`,
    `reason`/`code`/`error`/`description`, our variables as extra fields. It has no event id or
    event time: the id is a digest of the fields but the signature, the time the signing one."""
    name = fields.get("event", "")
    if not name:
        raise ValueError("Mailgun legacy webhook: no 'event' field")
    event_type, hard = LEGACY_EVENTS.get(name, ("unknown", False))
    recipient = fields.get("recipient", "")
    if not recipient and event_type != "unknown":
        raise ValueError(f"Mailgun legacy {name} webhook: no 'recipient' field")
    try:
        pairs = json.loads(fields.get("message-headers") or "[]")
        headers = [(str(k), str(v)) for k, v in pairs]
    except (ValueError, TypeError, RecursionError):
        raise ValueError(
            f"Mailgun legacy {name} webhook: 'message-headers' is not a JSON list of pairs"
        ) from None
    given = next((v for k, v in fields.items() if k.lower() == "message-id" and v), "")
    message_id = bracketed(given or first_header(headers, "Message-Id"))
    stable = sorted((k, v) for k, v in fields.items() if k not in SIGNATURE_FIELDS)
    description = fields.get("url") if name == "clicked" else None
    description = description or fields.get("error") or fields.get("description") or ""
    return Event(
        provider=PROVIDER,
        event_id=f"legacy:{digest_id(stable)}",
        event_type=event_type,
        timestamp=epoch_time(fields.get("timestamp"), f"Mailgun legacy {name} webhook"),
        recipient=recipient,
        message_id=message_id,
        provider_message_id=message_id,
        metadata=engage_metadata(fields),
        hard=hard,
        reason=fields.get("reason") or fields.get("code") or "",
        description=str(description),
        raw={"legacy": True, "fields": dict(fields)},
    )


def _is_form(request: Request) -> bool:
    """A legacy webhook: form fields (urlencoded or multipart), not a JSON body."""
    kind = (request.content_type or request.headers.get("content-type", "")).lower()
    return bool(request.form) or "x-www-form-urlencoded" in kind or "multipart/form-data" in kind


def _classify(name: str, data: dict[str, Any]) -> tuple[str, bool]:
    """(event type, hard) for a Mailgun event name."""
    if name != "failed":
        return SIMPLE_EVENTS.get(name, "unknown"), False
    if str(data.get("reason") or "").startswith("suppress-"):
        return "rejected", False  # not sent: the address is on a Mailgun suppression list
    severity = data.get("severity")
    if severity == "permanent":
        return "bounced", True
    if severity == "temporary":
        return "deferred", False
    return "failed", False


def parse_inbound(request: Request) -> InboundMessage:
    fields = _form(request)
    if not fields:
        raise ValueError(
            "Mailgun inbound route: no form fields (a tracking webhook pointed at the inbound "
            "URL, or the form was not passed on?)"
        )
    try:
        pairs = json.loads(fields.get("message-headers") or "[]")
        headers = [(str(name), str(value)) for name, value in pairs]
    except (ValueError, TypeError, RecursionError):
        raise ValueError(
            "Mailgun inbound route: 'message-headers' is not a JSON list of pairs"
        ) from None
    name, address = email.utils.parseaddr(fields.get("from") or first_header(headers, "From"))
    address = address or fields.get("sender", "")
    if not address:
        raise ValueError("Mailgun inbound route: no 'from' or 'sender' field")
    envelope = [a.strip() for a in fields.get("recipient", "").split(",") if a.strip()]
    recipient = choose_recipient(envelope, header_addresses(headers))
    if not recipient:
        raise ValueError("Mailgun inbound route: no 'recipient' field and no To header")
    return InboundMessage(
        provider=PROVIDER,
        sender=address,
        sender_name=name,
        recipient=recipient,
        subject=fields.get("subject") or first_header(headers, "Subject"),
        text=fields.get("body-plain", ""),
        html=fields.get("body-html", ""),
        message_id=first_header(headers, "Message-Id"),
        in_reply_to=first_header(headers, "In-Reply-To"),
        references=first_header(headers, "References"),
        headers=headers,
        raw=fields,
        attachments=_attachments(request, fields),
    )


def _attachments(request: Request, fields: dict[str, str]) -> tuple[Attachment, ...]:
    """The file parts (attachment-1, attachment-2, ...), with the Content-IDs Mailgun maps to
    them in `content-id-map`."""
    try:
        ids = json.loads(fields.get("content-id-map") or "{}")
    except (ValueError, RecursionError):
        ids = {}
    by_field = {str(v): str(k) for k, v in ids.items()} if isinstance(ids, dict) else {}
    return tuple(
        Attachment(
            name=upload.filename,
            content_type=upload.content_type or "application/octet-stream",
            path=upload.path,
            content_id=by_field.get(upload.name, ""),
        )
        for upload in request.files
        if upload.file
    )


def _form(request: Request) -> dict[str, str]:
    """The first value of each form field: the parsed form, else an urlencoded body; a field
    too big to hold in memory is read from its file."""
    pairs = request.form
    if not pairs and "x-www-form-urlencoded" in (request.content_type or "").lower():
        pairs = urllib.parse.parse_qsl(
            request.body.decode("utf-8", "replace"), keep_blank_values=True
        )
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    for upload in request.files:
        if not upload.file:
            fields.setdefault(upload.name, upload.path.read_bytes().decode("utf-8", "replace"))
    return fields


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# Shared with postmark.py and sendgrid.py.
