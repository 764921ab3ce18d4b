"""What an email provider declares about itself: one `Unit` per provider, found by name in the
registry (providers/__init__.py).

A unit says how to make its sender, what it can do, and which requests it takes from the
provider: its event webhook and its inbound mail, each a `Hook` that verifies the request
(reading the provider's own secrets through the env-var names engage.toml gives) and then
parses it. A provider without a webhook has no route; see docs/adding-a-provider.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import Email, Workspace
from ..email.base import Provider
from ..models import Request

SeenToken = Callable[[str], bool]  # True if a signature token was used before (and note it)
MB = 1024 * 1024


@dataclass(frozen=True)
class Hook:
    """One kind of request the provider posts to engage: its events, or inbound mail.

    `verify(request, settings, seen_token)` raises WebhookRefused (401/403) for a request that
    does not prove it came from the provider, or ConfigError when its secret is not set.
    `parse(request)` gives the events (or the inbound message); ValueError when the body cannot
    be read at all."""

    verify: Callable[[Request, Email, SeenToken], None]
    parse: Callable[[Request], Any]
    # Inbound mail only: the largest body engage takes (web/inbound_body.py spools it to disk),
    # and whether the proof is in the body (a signed form field) rather than in the headers,
    # so it can only be checked once the body has been read.
    body_limit: int = 0
    signed_in_body: bool = False


@dataclass(frozen=True)
class Unit:
    """One email provider, whole: how it sends, what it can do, the requests it takes."""

    name: str  # as `[email] provider` names it
    sender: Callable[[Workspace], Provider]
    reports_delivery: bool  # False: it never says an email arrived (a "silent" provider)
    sends_raw_message: bool  # send_system sends `message.raw()`: every header (Reply-To) goes
    reconciles: bool  # it keeps records engage can ask about when a send's answer was lost
    reply_to: bool = True  # it sends a Reply-To header for each person
    events: Hook | None = None
    inbound: Hook | None = None
