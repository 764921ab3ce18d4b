"""Mailgun, one unit: sending (send.py), its signed event webhook and inbound routes
(events.py), and what it can do. Its inbound route signs the form fields, so the body is read
before the request can be checked."""

from __future__ import annotations

from ...config import Email, secret
from ...models import Request
from ..base import MB, Hook, SeenToken, Unit
from . import events
from .send import Mailgun


def _signing_key(settings: Email) -> str:
    return secret(settings.mailgun.webhook_signing_key_env, "email.mailgun.webhook_signing_key_env")


def verify_events(request: Request, settings: Email, seen_token: SeenToken) -> None:
    events.verify_events(request, _signing_key(settings), seen_token=seen_token)


def verify_inbound(request: Request, settings: Email, seen_token: SeenToken) -> None:
    events.verify_inbound(request, _signing_key(settings), seen_token=seen_token)


UNIT = Unit(
    name="mailgun",
    sender=Mailgun,
    reports_delivery=True,
    sends_raw_message=False,
    reconciles=True,
    events=Hook(verify_events, events.parse_events),
    # Routes forward messages of up to 25 MB, as a form with each attachment a file part.
    inbound=Hook(verify_inbound, events.parse_inbound, body_limit=50 * MB, signed_in_body=True),
)
