"""Sending email: one interface, several providers (outbox, SMTP, Mailgun, Postmark, SendGrid)."""

from __future__ import annotations

from ..config import Workspace
from .base import Provider


def provider_for(workspace: Workspace) -> Provider:
    """The provider `[email] provider` names, set up from engage.toml."""
    name = workspace.config.email.provider
    if name == "outbox":
        from .outbox import Outbox

        return Outbox(workspace)
    if name == "smtp":
        from .smtp import Smtp

        return Smtp(workspace)
    if name == "mailgun":
        from .mailgun import Mailgun

        return Mailgun(workspace)
    if name == "postmark":
        from .postmark import Postmark

        return Postmark(workspace)
    from .sendgrid import SendGrid

    return SendGrid(workspace)
