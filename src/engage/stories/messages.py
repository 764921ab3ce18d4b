"""The story emails as messages, and the one function that sends them. What each says (its
templates, subject lines and checks) is rendered by own_emails.py, which renders every email
engage writes itself; this module makes a rendered email into a message to a contributor or
to the team, with a Reply-To where the provider can carry one, and sends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

from .. import providers
from ..config import Workspace
from ..email.base import Outcome, clean_header, system_message_id
from ..errors import LostAnswer, ProviderError, TryLater
from ..own_emails import Rendered, StoryMailError, StoryMessage, render_story
from ..providers import provider_for

# Providers whose send_system sends `message.raw()`, so a Reply-To header goes with it.


def send(
    workspace: Workspace,
    to: str,
    template: str,
    context: Mapping[str, Any],
    *,
    reply_to: str | None = None,
) -> Outcome:
    """Render one story email and send it to `to`; raise StoryMailError when it does not go."""
    message = build(workspace, to, template, context, reply_to=reply_to)
    try:
        with provider_for(workspace) as provider:
            outcome = provider.send_system(message)
    except LostAnswer as exc:  # maybe sent: never "not sent", and never sent again by itself
        raise StoryMailError(
            f"The {template} story email to {to} may or may not have gone ({exc}); engage "
            "does not send it again by itself. Check the provider's log.",
            maybe_sent=True,
        ) from exc
    except ProviderError as exc:
        raise StoryMailError(
            f"The {template} story email to {to} was not sent: {exc}",
            try_later=isinstance(exc, TryLater),
        ) from exc
    if not outcome.sent:
        raise StoryMailError(
            f"The {template} story email to {to} was refused by the {provider.name} "
            f"provider: {outcome.error or 'no reason given'}"
        )
    return outcome


def build(
    workspace: Workspace,
    to: str,
    template: str,
    context: Mapping[str, Any],
    *,
    reply_to: str | None = None,
) -> StoryMessage:
    """One story email to `to`, ready to send (now, or later from engage's queue: see
    outgoing.py); StoryMailError when it cannot be made."""
    rendered = render_story(workspace, template, context)
    return _message(workspace, to, template, rendered, reply_to or "")


def _message(
    workspace: Workspace, to: str, template: str, rendered: Rendered, reply_to: str
) -> StoryMessage:
    settings = workspace.config.email
    sender = settings.from_
    if not sender:
        raise StoryMailError(
            'Set from in [email] of engage.toml (like from = "Name <news@example.org>"): '
            "story emails are sent from it."
        )
    clean_header(to, "contributor's address")
    if "@" not in parseaddr(to)[1]:
        raise StoryMailError(f"{to!r} is not an email address, so the {template} email can't go.")
    if reply_to:
        clean_header(reply_to, "reply-to address")
        if not providers.get(settings.provider).sends_raw_message:
            # Unsupported options raise rather than being dropped without a word.
            raise StoryMailError(
                f"A Reply-To on story emails works with the outbox and smtp providers, not "
                f"{settings.provider} yet. Send without reply_to: replies then come to {sender}."
            )
    return StoryMessage(
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        sender=sender,
        message_id=system_message_id(sender, f"story-{template}"),
        kind=f"story-{template}",
        reply_to=reply_to,
        lang=rendered.lang,
    )
