"""The send loop: one campaign going out through one provider, batch by batch.

The Sender holds the campaign's lock (engage/locks.py) for the whole send, so a second one is
told who has it. Batch by batch it claims rows (journal.py), builds their messages
(messages.py), waits for its slot in the shared pace (engage/pace.py), marks them sending, hands
them to the provider in a sending thread and records each answer as it arrives. Only what the
provider proves it did not take is tried again; what it may have taken is unknown.

Between batches it checks whether a person asked it to stop (`engage send CAMPAIGN --stop`);
Ctrl-C is a person stopping it too. A send a person stopped is `stopped` and only `--resume`
carries it on; one that ended any other way is carried on by the next `engage run`.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import sqlalchemy as sa

from .. import journal as owners
from .. import locks, pace
from ..archive import freeze
from ..campaigns import Campaign
from ..config import Workspace
from ..contacts import core
from ..email.base import Batch, Provider
from ..errors import CannotReconcile, ProviderError
from ..render.build import Built, build
from ..send_status import BUSY, lock_name
from ..store import Store
from ..tokens import Signer, signer
from . import journal
from . import plan as plans
from .handover import HandOver
from .journal import Reconciliation
from .messages import VARIANT, Envelope
from .results import Handed, Options, Report, SendError, sigterm_note, stop_note, unknown_advice

RENEW_EVERY = 30.0  # seconds between renewals of the campaign's lock while sending

Progress = Callable[[int, int], None]  # (messages handed over so far in this run, total)
Check = Callable[[], object]  # raises when the campaign may not be sent (lint, by the caller)


class Stop(threading.Event):
    """Set by SIGTERM or SIGINT, or when a person asks with --stop: finish and record what is
    with the provider, then stop."""

    reason = ""
    by = ""  # who asked, for --stop


@contextlib.contextmanager
def stop_on_signals(stop: Stop) -> Iterator[None]:
    """While sending from the main thread, SIGTERM and SIGINT ask for a clean stop; a second
    one stops at once (what is with the provider is then unknown, never lost)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def ask(signum: int, frame: object) -> None:
        stop.reason = signal.Signals(signum).name
        stop.set()
        # The second stops at once: Ctrl-C as Python's KeyboardInterrupt (the send is marked
        # stopped on the way out), SIGTERM as the system's. Set here rather than put back as
        # they were, because a process started in the background inherits both ignored, and
        # then a second signal would never stop it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    previous = {each: signal.getsignal(each) for each in (signal.SIGTERM, signal.SIGINT)}
    for each in previous:
        signal.signal(each, ask)
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


class Sender:
    """One campaign going out through one provider. `check` is called once before anything
    is sent and raises to refuse the campaign: the caller passes lint (render.lint's
    require_clean), which this package does not import. The returned Report's `finished`
    tells the caller the send is complete (its contributors are then told: the caller's job)."""

    def __init__(
        self,
        store: Store,
        workspace: Workspace,
        campaign: Campaign,
        provider: Provider,
        options: Options | None = None,
        check: Check | None = None,
    ) -> None:
        self.store, self.workspace, self.campaign = store, workspace, campaign
        self.provider, self.options = provider, options or Options()
        self.check = check
        self.envelope = Envelope.of(workspace, campaign)
        self.owner = owners.owner_name()
        self.stop = Stop()
        self.held: locks.Held | None = None  # the campaign's lock, while sending
        self.renewed = 0.0  # when the lock was last renewed (time.monotonic)
        self.reached_limit = False  # --limit stopped the send
        self.started = False  # the send has begun (its rows are in deliveries)
        self.cannot_reconcile = ""  # why the provider could not be asked, when it could not
        self.checked = False  # the caller's check has passed (check_campaign)
        self.hand_over = HandOver(self.store, provider, self.options, self.stop)

    # --- starting ---------------------------------------------------------------------

    def check_campaign(self) -> None:
        """The caller's check (lint, which refuses everything a send would refuse about the
        campaign itself, in lint's own words). Once is enough."""
        if not self.checked and self.check is not None:
            self.check()
        self.checked = True

    def prepare(self) -> tuple[Built, Signer]:
        self.check_campaign()
        self.provider.check()
        return build(self.workspace, self.campaign), signer(self.workspace)

    def locked(self) -> contextlib.AbstractContextManager[locks.Held]:
        """The campaign's lock, held while this sender works; Busy if another process has it."""
        slug = self.campaign.slug
        return locks.hold(self.store, lock_name(slug), BUSY.replace("{slug}", slug))

    def start(self) -> int:
        """The send's id; the first time, snapshot the audience into deliveries. Refuses a send
        to nobody, and a send a person stopped unless options.resume."""
        try:
            return self._start()
        except sa.exc.IntegrityError:  # another sender started it at the same moment
            return self._start()

    def _start(self) -> int:
        slug = self.campaign.slug
        with self.store.begin() as connection:
            existing = journal.existing(connection, slug)
            if existing is not None:
                journal.carry_on(connection, existing, self.options.resume)
                return existing.id
            if self.options.resume:
                raise SendError(
                    f"{slug} has not been sent, so there is nothing to resume. "
                    f"Leave out --resume to send it."
                )
            name, audience = plans.audience(self.workspace, self.campaign)
            plans.refuse_nobody(connection, slug, name, audience)
            send_id = journal.open_send(
                connection, slug, self.envelope.subject, name, self.provider.name
            )
            freeze(connection, self.workspace, self.campaign, send_id)  # the archive's copy
            journal.snapshot(connection, send_id, audience)
            return send_id

    def sent_before(self) -> int | None:
        """The id of this campaign's send, when it has been started."""
        with self.store.connect() as connection:
            found = journal.existing(connection, self.campaign.slug)
        return found.id if found is not None else None

    def plan(self) -> plans.Plan:
        """Who the real send would send to now, and who it would skip and why."""
        with self.store.connect() as connection:
            return plans.plan(connection, self.workspace, self.campaign, self.options)

    # --- reconciling ------------------------------------------------------------------

    def check_records(self) -> Reconciliation | None:
        """`engage send CAMPAIGN --reconcile`: with the campaign's lock held (so no sender is
        working on it), settle rows a sender left and ask the provider about the unknown ones.
        None when the campaign has not been sent."""
        send_id = self.sent_before()
        if send_id is None:
            return None
        with self.locked():
            journal.recover(self.store, send_id)
            return self.reconcile(send_id)

    def reconcile(self, send_id: int) -> Reconciliation:
        return journal.reconcile(self.store, self.provider, send_id, self.campaign.slug)

    def _reconcile_on_resume(self, send_id: int, report: Report) -> None:
        """At the start of a resumed send: ask the provider about any unknown rows."""
        try:
            found = self.reconcile(send_id)
        except CannotReconcile as exc:
            self.cannot_reconcile = str(exc)  # the report at the end says what to check
            return
        except ProviderError as exc:  # a key that may send but not read records, an outage:
            # the unknown stay unknown and the send goes on; a key that cannot send stops it
            # at the first batch.
            report.problems.append(
                f"Could not ask {self.provider.name} about unknown messages: {exc}"
            )
            return
        if found.note:
            report.problems.append(found.note)

    # --- the loop -----------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> Report:
        built, sign = self.prepare()
        if self.options.dry_run:
            return self.rehearse(built, sign)
        with self.locked() as held:
            self.held, self.renewed = held, time.monotonic()
            report = Report(campaign=self.campaign.slug)
            with stop_on_signals(self.stop):
                send_id = self.start()
                self.started = True
                try:
                    self._send(built, sign, send_id, report, progress)
                except KeyboardInterrupt:  # a second Ctrl-C stops at once: still a person's stop
                    journal.mark_stopped(self.store, send_id, f"{core.actor()} (Ctrl-C)")
                    raise
                finally:
                    journal.release(self.store, send_id, self.owner)
            return self.finish(send_id, report)

    def _send(
        self, built: Built, sign: Signer, send_id: int, report: Report, progress: Progress | None
    ) -> None:
        journal.recover(self.store, send_id)
        self._reconcile_on_resume(send_id, report)
        if self.options.resend_unknown:
            journal.resend_unknown(self.store, send_id)
        self._loop(built, sign, send_id, report, progress)

    def _loop(
        self, built: Built, sign: Signer, send_id: int, report: Report, progress: Progress | None
    ) -> None:
        """Prepare the next batch while the provider works on this one (one call at a time).
        The sending thread records each answer as it arrives; this thread only counts. Before
        each batch: stop if asked, and wait for the batch's slot in the shared pace."""
        rate = self.workspace.config.email.rate_per_second
        queued: list[tuple[Batch, Future[Handed]]] = []
        with self.provider, ThreadPoolExecutor(1, thread_name_prefix="engage-send") as pool:
            try:
                for batch in self._batches(built, sign, send_id):
                    if self._stopping(send_id):
                        return
                    if rate and self.stop.wait(pace.book(self.store, len(batch.items), rate)):
                        return
                    queued.append((batch, pool.submit(self.hand_over, batch)))
                    if len(queued) == 2 and not self._settle(*queued.pop(0), report):
                        return
                    if progress and report.this_run:
                        progress(report.this_run, journal.total(self.store, send_id))
                while queued:
                    if not self._settle(*queued.pop(0), report):
                        return
                    if progress:
                        progress(report.this_run, journal.total(self.store, send_id))
            finally:
                for batch, future in queued:  # stopping early: settle what was queued
                    self._abandon(batch, future, report)

    def _stopping(self, send_id: int) -> bool:
        """Whether to stop before the next batch: a signal came, or a person asked (--stop).
        Also keeps the campaign's lock from running out."""
        if not self.stop.is_set():
            asked_at, asked_by = journal.stop_asked(self.store, send_id)
            if asked_at is not None:
                self.stop.reason, self.stop.by = "asked", asked_by or "someone"
                self.stop.set()
        if self.held is not None and time.monotonic() - self.renewed > RENEW_EVERY:
            self.held.renew()
            self.renewed = time.monotonic()
        return self.stop.is_set()

    def _batches(self, built: Built, sign: Signer, send_id: int) -> Iterator[Batch]:
        """Claim and prepare batches, one format at a time so each batch is one call."""
        rate = self.workspace.config.email.rate_per_second
        limit = self.options.limit
        handed = 0
        for fmt in VARIANT:
            while True:
                if limit is not None and handed >= limit:
                    self.reached_limit = True
                    return
                size = self.provider.batch_size
                if rate:  # never more in one go than a second's worth
                    size = min(size, max(1, int(rate)))
                if limit is not None:
                    size = min(size, limit - handed)
                claimed = journal.claim(self.store, send_id, size, fmt, self.owner)
                if not claimed:
                    break
                for batch in self.envelope.batches(built, sign, send_id, claimed):
                    handed += len(batch.items)
                    yield batch

    def _settle(self, batch: Batch, future: Future[Handed], report: Report) -> bool:
        """Count how a batch went (the sending thread recorded it); False to stop here."""
        handed = future.result()  # re-raises what stopped the sending thread
        report.this_run += handed.count
        report.problems += handed.lost
        if handed.stop:
            report.problems.append(handed.stop)
            return False
        return True

    def _abandon(self, batch: Batch, future: Future[Handed], report: Report) -> None:
        """A queued batch when the send stops: never started → pending; started → counted."""
        if future.cancel():
            journal.give_back(self.store, [i.delivery_id for i in batch.items])
            return
        with contextlib.suppress(ProviderError):
            self._settle(batch, future, report)

    # --- the end ----------------------------------------------------------------------------

    def finish(self, send_id: int, report: Report) -> Report:
        """Count how the send stands; mark it sent when nobody is left (report.finished), or
        stopped when a person stopped it."""
        slug = self.campaign.slug
        report.stopped = self.stop.reason
        stopped_by = self._stopped_by()
        counts, report.skipped_because = journal.close(
            self.store, send_id, not self.options.dry_run
        )
        report.total = sum(counts.values())
        report.sent, report.failed = counts.get("sent", 0), counts.get("failed", 0)
        report.suppressed, report.unknown = counts.get("suppressed", 0), counts.get("unknown", 0)
        report.pending = sum(counts.get(s, 0) for s in ("pending", "claimed", "sending"))
        report.finished = report.pending == 0 and not self.options.dry_run
        if not report.finished and stopped_by:
            journal.mark_stopped(self.store, send_id, stopped_by)
            report.stop_note = stop_note(
                slug, report, self.stop.reason, self.stop.by, self.options.limit
            )
        if report.unknown:
            asks = type(self.provider).reconcile is not Provider.reconcile
            report.problems.append(
                unknown_advice(
                    slug, self.provider.name, report.unknown, asks, self.cannot_reconcile
                )
            )
        if report.stopped == "SIGTERM":
            report.problems.append(sigterm_note(slug))
        return report

    def _stopped_by(self) -> str:
        """Who stopped this send, when a person did: Ctrl-C, --stop, or --limit reached."""
        if self.stop.reason == "SIGINT":
            return f"{core.actor()} (Ctrl-C)"
        if self.stop.reason == "asked":
            return self.stop.by
        if self.reached_limit and not self.stop.reason:
            return f"{core.actor()} (--limit {self.options.limit})"
        return ""

    def rehearse(self, built: Built, sign: Signer) -> Report:
        """--dry-run: render a message for exactly the people the real send would send to
        now, and count the ones it would skip, by reason; store nothing."""
        plan = self.plan()
        report = Report(campaign=self.campaign.slug)
        for batch in self.envelope.batches(built, sign, 0, plan.going):
            for item in batch.items:
                batch.mime(item)
            report.this_run += len(batch.items)
        report.total, report.skipped_because = plan.total, plan.skipped
        report.suppressed = sum(plan.skipped.values())
        report.pending = plan.total - report.suppressed
        return report
