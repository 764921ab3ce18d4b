"""The send loop: one campaign going out through one provider, batch by batch.

A Sender joins the send as one of its senders (journal.py: join; `engage send` may share a
campaign with senders already on it, on this computer or others, while `engage run` leaves it
to them), and renews its lease while it works. Batch by batch it claims rows (journal.py),
builds their messages (messages.py), waits for its slot in the shared pace (engage/pace.py),
marks them sending, hands them to the provider in sending threads (a few calls at once, as the
provider allows) and records each answer as it arrives. Only what the provider proves it did
not take is tried again; what it may have taken is unknown. When no batch is left it settles
what dead senders left (their claimed rows go back to pending, and it sends them) and leaves.

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
from .. import pace
from ..archive import freeze
from ..campaigns import Campaign
from ..config import Workspace
from ..contacts import core
from ..email.base import Batch, Provider
from ..errors import CannotReconcile, ProviderError
from ..locks import Busy
from ..send_status import BUSY, senders_of
from ..store import Store
from ..tokens import Signer, signer
from . import journal
from . import plan as plans
from .editions import Editions, version_refusal
from .handover import HandOver
from .journal import Reconciliation
from .messages import VARIANT, Envelope
from .results import Handed, Options, Report, SendError, sigterm_note, stop_note, unknown_advice

RENEW_EVERY = 30.0  # seconds between renewals of this sender's lease while sending

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
        stop: Stop | None = None,
    ) -> None:
        if campaign.is_version:
            raise SendError(version_refusal(workspace, campaign))
        self.store, self.workspace, self.campaign = store, workspace, campaign
        self.provider, self.options = provider, options or Options()
        self.check = check
        self.envelope = Envelope.of(workspace, campaign)
        self.owner = owners.owner_name()
        self.stop = stop or Stop()  # the caller's, to stop it from another thread
        self.renewed = 0.0  # when its lease was last renewed (time.monotonic)
        self.reached_limit = False  # --limit stopped the send
        self.started = False  # the send has begun (its rows are in deliveries)
        self.cannot_reconcile = ""  # why the provider could not be asked, when it could not
        self.checked = False  # the caller's check has passed (check_campaign)
        self.hand_over = HandOver(self.store, provider, self.options, self.stop, self.owner)

    # --- starting ---------------------------------------------------------------------

    def check_campaign(self) -> None:
        """The caller's check (lint, which refuses everything a send would refuse about the
        campaign itself, in lint's own words). Once is enough."""
        if not self.checked and self.check is not None:
            self.check()
        self.checked = True

    def prepare(self) -> tuple[Editions, Signer]:
        """The campaign's versions, each built once now, so a version that cannot be built
        stops the send before anything goes."""
        self.check_campaign()
        self.provider.check()
        editions = Editions.of(self.workspace, self.campaign)
        editions.all_built()
        return editions, signer(self.workspace)

    def start(self) -> int:
        """Join the send as one of its senders; the first time, snapshot the audience into
        deliveries (in the same transaction, so it happens once however many senders start at
        the same moment). Refuses a send to nobody, a send a person stopped unless
        options.resume, and a send others are working on unless this sender may join them."""
        try:
            send_id = self._start()
        except sa.exc.IntegrityError:  # another sender started it at the same moment
            send_id = self._start()
        self.renewed = time.monotonic()
        return send_id

    def _start(self) -> int:
        slug = self.campaign.slug
        with self.store.begin() as connection:
            existing = journal.existing(connection, slug, lock=True)
            if existing is not None:
                self._may_join(connection, existing.id, self.options.join)
                journal.carry_on(connection, existing, self.options.resume)
                journal.join(connection, existing.id, self.owner)
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
            journal.join(connection, send_id, self.owner)
            return send_id

    def _may_join(self, connection: sa.Connection, send_id: int, join: bool) -> None:
        """Busy when other senders are working on the send and this one may not share it:
        `engage run`, and whatever changes rows they may be working on (--resume after a stop,
        --resend-unknown, --reconcile) waits until they are done."""
        others = senders_of(connection, send_id)
        alone = self.options.resume or self.options.resend_unknown
        if others and (not join or alone):
            slug = self.campaign.slug
            who = f" ({', '.join(owners.shown(owner) for owner in others)})"
            raise Busy(BUSY.replace("{slug}", slug).replace("{who}", who), others[0])

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
        """`engage send CAMPAIGN --reconcile`: as the send's only sender (Busy while others
        work on it), settle rows dead senders left and ask the provider about the unknown ones.
        None when the campaign has not been sent."""
        send_id = self.sent_before()
        if send_id is None:
            return None
        with self.store.begin() as connection:
            journal.existing(connection, self.campaign.slug, lock=True)
            self._may_join(connection, send_id, join=False)
            journal.join(connection, send_id, self.owner)
        try:
            journal.recover(self.store, send_id)
            return self.reconcile(send_id)
        finally:
            journal.leave(self.store, send_id, self.owner)

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
        report = Report(campaign=self.campaign.slug)
        with stop_on_signals(self.stop):
            send_id = self.start()
            self.started = True
            try:
                try:
                    self._send(built, sign, send_id, report, progress)
                except KeyboardInterrupt:  # a second Ctrl-C stops at once: still a person's stop
                    journal.mark_stopped(self.store, send_id, f"{core.actor()} (Ctrl-C)")
                    raise
                finally:
                    journal.release(self.store, send_id, self.owner)
                return self.finish(send_id, report)
            finally:  # after finish, so `--stop` hears how the send ended once all have left
                journal.leave(self.store, send_id, self.owner)

    def _send(
        self, built: Editions, sign: Signer, send_id: int, report: Report, progress: Progress | None
    ) -> None:
        journal.recover(self.store, send_id)
        if self._alone(send_id):  # others on the send asked the provider when they started
            self._reconcile_on_resume(send_id, report)
        if self.options.resend_unknown:
            journal.resend_unknown(self.store, send_id)
        self._loop(built, sign, send_id, report, progress)

    def _alone(self, send_id: int) -> bool:
        with self.store.connect() as connection:
            return senders_of(connection, send_id) == [self.owner]

    def _loop(
        self, built: Editions, sign: Signer, send_id: int, report: Report, progress: Progress | None
    ) -> None:
        """Keep up to the provider's `in_flight` calls going while the next batch is prepared.
        Each sending thread records its batch's answers as they arrive; this thread only
        counts, in the order the batches went. Before each batch: stop if asked, and wait for
        the batch's slot in the shared pace."""
        rate = self.workspace.config.email.rate_per_second
        calls = max(1, self.provider.in_flight)
        queued: list[tuple[Batch, Future[Handed]]] = []
        with self.provider, ThreadPoolExecutor(calls, thread_name_prefix="engage-send") as pool:
            try:
                for batch in self._batches(built, sign, send_id):
                    if self._stopping(send_id):
                        return
                    if rate and self.stop.wait(pace.book(self.store, len(batch.items), rate)):
                        return  # this batch's rows are still claimed: released at the end
                    queued.append((batch, pool.submit(self.hand_over, batch)))
                    if len(queued) > calls and not self._settle(*queued.pop(0), report):
                        return
                    if progress and report.this_run:
                        progress(report.this_run, journal.total(self.store, send_id))
                if self._stopping(send_id):  # what is queued and not started stays pending
                    return
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
        Also renews this sender's lease, so the others never take it for dead."""
        if not self.stop.is_set():
            asked_at, asked_by = journal.stop_asked(self.store, send_id)
            if asked_at is not None:
                self.stop.reason, self.stop.by = "asked", asked_by or "someone"
                self.stop.set()
        if time.monotonic() - self.renewed > RENEW_EVERY:
            journal.renew(self.store, send_id, self.owner)
            self.renewed = time.monotonic()
        return self.stop.is_set()

    def _batches(self, built: Editions, sign: Signer, send_id: int) -> Iterator[Batch]:
        """Claim and prepare batches, one format at a time so each batch is one call. When
        none is left, settle what dead senders left and go round again for their rows."""
        handed = 0
        while True:
            for fmt in VARIANT:
                after = 0  # the highest id this sender has taken of this format
                while True:
                    size = self._size(handed)
                    if size == 0:
                        self.reached_limit = True
                        return
                    claimed, last = journal.claim(self.store, send_id, size, fmt, self.owner, after)
                    if not last and not after:
                        break  # none left of this format
                    if not last:  # none further on: rows given back earlier may be pending
                        after = 0
                        continue
                    after = last
                    for batch in self.envelope.batches(built, sign, send_id, claimed):
                        handed += len(batch.items)
                        yield batch
            if not journal.recover(self.store, send_id):
                return

    def _size(self, handed: int) -> int:
        """How many to claim next: the provider's batch, never more than a second's worth of
        the rate, nor more than --limit leaves (0: the limit is reached)."""
        rate = self.workspace.config.email.rate_per_second
        limit = self.options.limit
        size = self.provider.batch_size
        if rate:
            size = min(size, max(1, int(rate)))
        if limit is not None:
            size = min(size, limit - handed)
        return max(size, 0)

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
        if not report.finished:
            with self.store.connect() as connection:
                live = senders_of(connection, send_id)
            report.others = [owners.shown(o) for o in live if o != self.owner]
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

    def rehearse(self, built: Editions, sign: Signer) -> Report:
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
