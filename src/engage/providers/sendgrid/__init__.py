"""SendGrid, one unit: sending (send.py), its signed event webhook and Inbound Parse behind
HTTP Basic (events.py), and what it can do."""

from __future__ import annotations

from ...config import Email, secret
from ...models import Request
from ..base import MB, Hook, SeenToken, Unit
from . import events
from .send import SendGrid


def verify_events(request: Request, settings: Email, seen_token: SeenToken) -> None:
    key = secret(settings.sendgrid.webhook_public_key_env, "email.sendgrid.webhook_public_key_env")
    events.verify_events(request, key)


def verify_inbound(request: Request, settings: Email, seen_token: SeenToken) -> None:
    password = secret(settings.sendgrid.inbound_password_env, "email.sendgrid.inbound_password_env")
    events.verify_inbound(request, password, user=settings.sendgrid.inbound_user)


UNIT = Unit(
    name="sendgrid",
    sender=SendGrid,
    reports_delivery=True,
    sends_raw_message=False,
    reconciles=True,  # with the Email Activity API; without it, it says it cannot
    events=Hook(verify_events, events.parse_events),
    # Inbound Parse takes messages of up to 30 MB, as a form; in raw mode the whole mail is
    # one field.
    inbound=Hook(verify_inbound, events.parse_inbound, body_limit=50 * MB),
)
