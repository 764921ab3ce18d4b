"""Send engage's own queued emails, the whole job: each row sent once (outgoing.py), and a
story email's news kept in its story's history in the same transaction (sent: the follow-up
clock starts again; not sent: noted). The worker of `engage serve` and `engage run` call it."""

from __future__ import annotations

from .. import outgoing
from ..config import Workspace
from ..store import Store
from ..stories.telling import queued_email_done
from ..tokens import Signer


def send_own_emails(
    store: Store, workspace: Workspace, signer: Signer | None = None, limit: int = 200
) -> outgoing.Drained:
    """The rows that are due, up to `limit`, each once (see outgoing.drain)."""
    return outgoing.drain(store, workspace, signer, limit, after=queued_email_done)
