"""The email providers, each one unit found by its name: `get("mailgun")` gives everything
engage knows about Mailgun (how it sends, its webhooks, what it can do). Nothing elsewhere
names a provider: the send, the webhook routes and the report ask the registry.

Each provider is a module here (or a package, when its unit would pass 400 lines) with a
`UNIT` (providers/base.py). To add one, add its module and its name to `NAMES`; see
docs/adding-a-provider.md.
"""

from __future__ import annotations

import importlib

from ..config import Workspace
from ..email.base import Provider
from .base import Hook, Unit

NAMES = ("outbox", "smtp", "mailgun", "postmark", "sendgrid")

__all__ = [
    "NAMES",
    "Hook",
    "Unit",
    "get",
    "names",
    "provider_for",
    "reports_delivery",
    "silent",
    "sending_raw",
]


def names() -> tuple[str, ...]:
    return NAMES


def get(name: str) -> Unit:
    """The provider called `name`; KeyError when there is none."""
    if name not in NAMES:
        raise KeyError(name)
    unit: Unit = importlib.import_module(f"{__name__}.{name}").UNIT
    return unit


def provider_for(workspace: Workspace) -> Provider:
    """The provider `[email] provider` names, set up from engage.toml."""
    return get(workspace.config.email.provider).sender(workspace)


def reports_delivery(name: str) -> bool:
    """Whether the provider tells engage that an email arrived (outbox and SMTP never do, so a
    report cannot count their deliveries). Only that provider's module is loaded. A name
    engage does not know (an old send's) is taken at its word: it may have reported."""
    try:
        return get(name).reports_delivery
    except KeyError:
        return True


def silent() -> frozenset[str]:
    """The providers that never say an email arrived (so a report cannot count deliveries)."""
    return frozenset(name for name in NAMES if not get(name).reports_delivery)


def sending_raw() -> frozenset[str]:
    """The providers that send the message engage composed as it is, every header kept."""
    return frozenset(name for name in NAMES if get(name).sends_raw_message)
