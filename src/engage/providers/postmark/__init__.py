"""Postmark, one unit: sending (send.py), its event and inbound webhooks behind HTTP Basic
(events.py), and what it can do."""

from __future__ import annotations

from ...config import Email, secret
from ...models import Request
from ..base import MB, Hook, SeenToken, Unit
from . import events
from .send import Postmark


def _password(settings: Email) -> str:
    return secret(settings.postmark.webhook_password_env, "email.postmark.webhook_password_env")


def verify_events(request: Request, settings: Email, seen_token: SeenToken) -> None:
    events.verify_events(request, _password(settings), user=settings.postmark.webhook_user)


def verify_inbound(request: Request, settings: Email, seen_token: SeenToken) -> None:
    events.verify_inbound(request, _password(settings), user=settings.postmark.webhook_user)


UNIT = Unit(
    name="postmark",
    sender=Postmark,
    reports_delivery=True,
    sends_raw_message=False,
    reconciles=True,
    events=Hook(verify_events, events.parse_events),
    # JSON with attachments in base64 (a third bigger), up to 35 MB of attachments.
    inbound=Hook(verify_inbound, events.parse_inbound, body_limit=64 * MB),
)
