"""Replies and mentions of our posts, collected from each social channel into the same
store as email replies (the inbound table), each stored once."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..config import Workspace
from ..errors import EngageError
from ..models import InboundMessage, SocialReply
from ..social.channels import channel as make_channel
from ..social.channels import configured
from ..store import Store
from ..store.schema import inbound
from .inbox import Inbox, for_workspace


@dataclass
class Fetched:
    channel: str
    new: int = 0
    seen: int = 0
    problem: str = ""


def fetch_all(store: Store, workspace: Workspace, inbox: Inbox | None = None) -> list[Fetched]:
    inbox = inbox or for_workspace(workspace)
    results = []
    for name in sorted(configured(workspace)):
        chan = make_channel(workspace, name)
        result = Fetched(name)
        try:
            chan.check()
            found = chan.fetch_replies(_latest(store, name))
        except EngageError as exc:
            result.problem = str(exc)
            results.append(result)
            continue
        with store.begin() as connection:
            for reply in found:
                if _take(connection, inbox, name, chan.network, reply):
                    result.new += 1
                else:
                    result.seen += 1
        results.append(result)
    return results


def _latest(store: Store, channel: str) -> str | None:
    """The newest reply id we have from this channel (for since_id), if any."""
    with store.connect() as connection:
        ids = (
            connection.execute(sa.select(inbound.c.message_id).where(inbound.c.provider == channel))
            .scalars()
            .all()
        )
    numeric = [i for i in ids if i.isdigit()]
    return max(numeric, key=int) if numeric else None


def _take(
    connection: sa.Connection, inbox: Inbox, channel: str, network: str, reply: SocialReply
) -> bool:
    message = InboundMessage(
        provider=channel,
        sender=reply.author,
        sender_name=reply.author,
        recipient="",
        subject="",
        text=reply.text,
        html="",
        message_id=reply.remote_id,
        in_reply_to=reply.in_reply_to,
        references="",
        headers=[],
        raw={"network": network, "url": reply.url, **reply.raw},
    )
    return inbox.take(connection, message, network=network).new
