"""The emails engage writes itself, apart from campaigns: the sign-up confirmation (from
templates/email/confirm.*.j2) and the story emails (their templates, subjects and checks are
stories/messages.py's; a story email queued by a web page is made again here from its row).
Every one is a SystemMessage, sent at once or from engage's queue (outgoing.py)."""

from __future__ import annotations

from typing import Any

import jinja2

from .config import Workspace
from .email.base import SystemMessage, system_message_id
from .stories.messages import StoryMessage

CONFIRM_SUBJECT = "Please confirm your email address"


def confirmation(workspace: Workspace, address: str, name: str, token: str) -> SystemMessage:
    """The email with a sign-up's confirmation link, from templates/email/confirm.*.j2."""
    base = workspace.config.web.base_url.rstrip("/")
    context = {
        "name": name.split(" ")[0] if name else "",
        "confirm_url": f"{base}/confirm/{token}",
        "organisation": workspace.config.organisation,
    }
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(workspace.templates_dir / "email")),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        undefined=jinja2.StrictUndefined,
    )
    sender = workspace.config.email.from_
    return SystemMessage(
        to=address,
        subject=CONFIRM_SUBJECT,
        text=env.get_template("confirm.txt.j2").render(context),
        html=env.get_template("confirm.html.j2").render(context),
        sender=sender,
        message_id=system_message_id(sender, "confirm"),
        kind="confirm",
    )


def queued_story_email(address: str, made: dict[str, Any]) -> SystemMessage:
    """A story email as it was made when a web page queued it (outgoing.add_story_email)."""
    return StoryMessage(
        to=address,
        subject=made["subject"],
        text=made["text"],
        html=made["html"],
        sender=made["sender"],
        message_id=made["message_id"],
        kind=made["kind"],
        reply_to=made["reply_to"],
    )
