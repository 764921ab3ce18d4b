"""Take an inbound message, the whole job: the mail is kept once through the replies inbox
(matched, cleaned, triaged; a mail to the unsubscribe address unsubscribes), whether it came
by a provider's webhook or as an .eml file. From the webhook, the worker of `engage serve` is
then woken to open its story and thank its contributor (workflow/worker.py), so nobody waits
for the next `engage run`; `engage replies import` keeps contributors informed itself."""

from __future__ import annotations

import sqlalchemy as sa

from ..models import InboundMessage
from ..replies.inbox import Inbox, Taken
from ..store import Store
from . import worker


def record_inbound(connection: sa.Connection, message: InboundMessage, inbox: Inbox) -> bool:
    """Keep the mail whole, once, through the replies inbox. True if new. The caller commits,
    then calls `arrived`."""
    return inbox.take(connection, message).new


def arrived() -> None:
    """A new reply is stored (committed): the worker in this process, if any, opens its story
    and thanks its contributor now."""
    worker.replies_arrived()


def take_file(store: Store, inbox: Inbox, raw: bytes) -> Taken:
    """A saved or forwarded mail (an .eml file), kept once. Raises mime.NotAMail for bytes
    that are not a mail."""
    with store.begin() as connection:
        return inbox.take_raw(connection, raw, "import")
