"""The worker of `engage serve`: a thread that does, outside the web requests, the work they
set off. It sends engage's own emails the web app queued (outgoing.py), and when a reply came
in by webhook it keeps contributors informed (a story reply opens its story and its
contributor is thanked), so nobody waits for the next `engage run`."""

from __future__ import annotations

import logging
import threading

from .. import outgoing
from ..config import Workspace
from ..outgoing_claims import has_work
from ..store import Store
from ..tokens import Signer
from .own_emails import send_own_emails
from .stories import keep_contributors_informed

log = logging.getLogger("engage.outgoing")

# Set when a reply was stored in this process; the worker then runs the story chain.
_replies = threading.Event()


def replies_arrived() -> None:
    """A new reply is committed: wake the worker (if any) to keep contributors informed."""
    _replies.set()
    outgoing.wake()


class Worker:
    """A thread that does its work at once when this process asks (outgoing.wake,
    replies_arrived), and every `every` seconds for rows other processes queued or that wait
    to be tried again."""

    def __init__(
        self, store: Store, workspace: Workspace, signer: Signer, every: float = 5.0
    ) -> None:
        self.store, self.workspace, self.signer, self.every = store, workspace, signer, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="engage-outgoing", daemon=True)

    def start(self) -> Worker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the email in hand, then stop."""
        self._stop.set()
        outgoing.wake()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            outgoing.heard()
            self._inform()
            try:
                if has_work(self.store):  # a read: no write lock taken every few seconds
                    send_own_emails(self.store, self.workspace, self.signer)
            except Exception:  # noqa: BLE001 - a worker that dies sends nothing again
                log.exception("engage's own emails: the worker met a problem; it carries on")
            outgoing.wait_for_work(self.every)

    def _inform(self) -> None:
        """The story chain for the replies that came in since the last look."""
        if not _replies.is_set():
            return
        _replies.clear()
        try:
            told = keep_contributors_informed(self.store, self.workspace)
        except Exception:  # noqa: BLE001 - the next reply (or `engage run`) tries again
            log.exception("stories: the worker met a problem; it carries on")
            return
        for line in told.done:
            log.info("stories: %s", line)
        for problem in told.problems:
            log.error("stories: %s", problem)
