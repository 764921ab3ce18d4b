"""The worker of `engage serve`: threads that do, outside the web requests, the work they
set off. One sends engage's own emails the web app queued (outgoing.py), and when a reply came
in by webhook it keeps contributors informed (a story reply opens its story and its
contributor is thanked), so nobody waits for the next `engage run`. The other sends the
campaigns whose time a person set (the console's "Start sending" and "Schedule", `engage
campaigns schedule`) once it comes, through the journal as `engage run` does: the two may run
side by side, and nobody gets a campaign twice."""

from __future__ import annotations

import logging
import threading

from .. import clock, outgoing
from ..config import Workspace
from ..outgoing_claims import has_work
from ..sending import Stop
from ..store import Store
from ..tokens import Signer
from .own_emails import send_own_emails
from .sending import send_scheduled
from .stories import keep_contributors_informed

log = logging.getLogger("engage.outgoing")

# Set when a reply was stored in this process; the worker then runs the story chain.
_replies = threading.Event()
# Set when a person started or scheduled a send in this process; the campaigns thread looks.
_scheduled = threading.Event()


def replies_arrived() -> None:
    """A new reply is committed: wake the worker (if any) to keep contributors informed."""
    _replies.set()
    outgoing.wake()


def send_scheduled_soon() -> None:
    """A person started (or scheduled) a send: wake the campaigns thread (if any) to look."""
    _scheduled.set()


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
        self._sending = Stop()  # set to stop a campaign's send after its batch in hand
        self._campaigns = threading.Thread(
            target=self._send_campaigns, name="engage-campaigns", daemon=True
        )

    def start(self) -> Worker:
        self._thread.start()
        self._campaigns.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the email in hand, and a campaign's batch in hand, then stop. A campaign's
        send stopped here is carried on when the worker starts again (or by `engage run`)."""
        self._stop.set()
        self._sending.reason = "SIGTERM"  # the server is stopping: not a person's stop
        self._sending.set()
        outgoing.wake()
        _scheduled.set()
        self._thread.join(timeout)
        self._campaigns.join(timeout)

    def _send_campaigns(self) -> None:
        said: set[str] = set()  # a problem that stays (lint errors) is logged once
        while not self._stop.is_set():
            _scheduled.clear()
            try:
                problems = send_scheduled(self.store, self.workspace, clock.now(), self._sending)
            except Exception:  # noqa: BLE001 - a worker that dies sends nothing again
                log.exception("campaigns: the worker met a problem; it carries on")
                problems = []
            for problem in problems:
                if problem not in said:
                    log.error("campaigns: %s", problem)
            said = set(problems)
            _scheduled.wait(self.every)

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
