"""Sending a campaign exactly once per person: the deliveries journal.

A send snapshots the audience into `deliveries` (one row per campaign × contact). Then, batch
by batch: claim rows (pending → claimed), check the suppression list, personalise, mark them
sending, hand them to the provider, and record each outcome (sent or failed). Each step is
committed before the next, so after a crash every row says how far it got:

- claimed: never handed to the provider → safely pending again;
- sending: handed over, result never recorded → unknown: reported, not resent unless asked.

One process sends a campaign at a time: `engage send` and `engage run` both hold the
campaign's lock (engage/locks.py) for the whole send, and a second one is told who has it.
Claiming is still one UPDATE over a sub-select (FOR UPDATE SKIP LOCKED on PostgreSQL), so no
row is ever claimed twice whatever happens. Every sender books its batches against one shared
pace (engage/pace.py), so [email] rate_per_second holds for all of them together.

Between batches the sender checks whether a person asked it to stop (`engage send CAMPAIGN
--stop` from another terminal); Ctrl-C is a person stopping it too. A send a person stopped is
`stopped` and only `--resume` carries it on; one that ended any other way (killed, SIGTERM, a
provider that stayed down) is carried on by the next `engage run`. See engage/send_status.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import secrets
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from email.utils import parseaddr

import sqlalchemy as sa

from . import locks, pace, recipients
from .addresses import InvalidEmail, named_mailbox
from .campaigns import Campaign
from .config import Workspace
from .contacts import audiences, core
from .email.base import Batch, Item, Outcome, Provider, Unknown, Unsendable, clean_header
from .errors import CannotReconcile, EngageError, LostAnswer, ProviderError, TryLater, sentence
from .locks import alive as _alive  # noqa: F401  (social/posting.py uses these)
from .locks import owner_name
from .render import rules_audience, rules_source
from .render.build import Built, build
from .render.lint import refusal, require_clean
from .render.personal import Recipient
from .send_status import (  # noqa: F401  (CampaignState, campaign_states: for older imports)
    BUSY,
    CampaignState,
    campaign_states,
    is_stopped,
    lock_name,
    stopped_text,
)
from .store import Store
from .store.schema import contacts, deliveries, sends
from .tokens import Signer, signer

MAX_TRIES = 5
RENEW_EVERY = 30.0  # seconds between renewals of the campaign's lock while sending
VARIANT = {"html": "standard", "large-print": "large-print", "plain": "plain"}


class SendError(EngageError):
    """The send cannot start, or had to stop; the message says why and what to do."""


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    limit: int | None = None
    resend_unknown: bool = False
    resume: bool = False  # carry on a send a person stopped
    max_tries: int = MAX_TRIES
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    max_wait: float = 60.0


@dataclass
class Report:
    campaign: str
    stopped: str = ""  # SIGINT, SIGTERM or "asked" (--stop), when the send was stopped
    total: int = 0
    sent: int = 0
    failed: int = 0
    suppressed: int = 0  # skipped: see skipped_because
    skipped_because: dict[str | None, int] = field(default_factory=dict)
    unknown: int = 0
    pending: int = 0
    this_run: int = 0
    problems: list[str] = field(default_factory=list)
    stop_note: str = ""  # a person stopped it (or --limit was reached): what went, what next
    finished: bool = False


@dataclass
class Handed:
    """What the sending thread did with one batch: messages answered (or lost) and recorded,
    lost answers to report, and why the send must stop, when it must."""

    count: int = 0
    lost: list[str] = field(default_factory=list)
    stop: str = ""


@dataclass(frozen=True)
class Plan:
    """Who a send would go to now. `total`: everyone it would look at (the audience, or the
    people still waiting in a started send); `going`: those it would send to (within --limit);
    `skipped`: how many it would skip, by reason; `started`: the send had started before."""

    total: int
    going: list
    skipped: dict[str | None, int]
    started: bool


@dataclass(frozen=True)
class Reconciliation:
    """How many unknown messages the provider's records showed sent, showed not sent (now
    pending again), and could not settle (still unknown), with why."""

    sent: int = 0
    pending: int = 0
    unknown: int = 0
    note: str = ""


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
        for each in (signal.SIGTERM, signal.SIGINT):
            signal.signal(each, previous[each])

    previous = {each: signal.getsignal(each) for each in (signal.SIGTERM, signal.SIGINT)}
    for each in previous:
        signal.signal(each, ask)
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def _aware(value: dt.datetime | None) -> dt.datetime:
    if value is None:
        return core.now()
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


Progress = Callable[[int, int], None]  # (messages handed over so far in this run, total)


class Sender:
    """One campaign going out through one provider."""

    def __init__(
        self,
        store: Store | None,
        workspace: Workspace,
        campaign: Campaign,
        provider: Provider,
        options: Options = Options(),
    ) -> None:
        self.store, self.workspace, self.campaign = store, workspace, campaign
        self.provider, self.options = provider, options
        self.owner = owner_name()
        self.stop = Stop()
        self.held: locks.Held | None = None  # the campaign's lock, while sending
        self.renewed = 0.0  # when the lock was last renewed (time.monotonic)
        self.reached_limit = False  # --limit stopped the send
        self.started = False  # the send has begun (its rows are in deliveries)
        self.cannot_reconcile = ""  # why the provider could not be asked, when it could not
        email = workspace.config.email
        self.sender = clean_header(email.from_, "from address in [email] of engage.toml")
        if not parseaddr(self.sender)[1]:
            raise SendError(
                'Set from in [email] of engage.toml, like from = "Our news <news@example.org>".'
            )
        self.subject = campaign.meta.subject  # one line: lint's subject-line-break, run first
        self.linted = False  # lint has passed (check_campaign)
        self.domain = parseaddr(self.sender)[1].rpartition("@")[2]
        self.reply_domain = email.reply_domain
        self.base = workspace.config.web.base_url.rstrip("/")
        self.list_id = f"{workspace.config.organisation.name} <news.{self.domain}>"

    # --- starting ---------------------------------------------------------------------

    def check_campaign(self) -> None:
        """Lint, which refuses everything a send would refuse about the campaign itself (its
        subject, its audience, where its links point), in lint's own words. Once is enough."""
        if not self.linted:
            require_clean(self.workspace, self.campaign)
            self.linted = True

    def prepare(self) -> tuple[Built, Signer]:
        self.check_campaign()
        self.provider.check()
        return build(self.workspace, self.campaign), signer(self.workspace)

    def locked(self) -> contextlib.AbstractContextManager[locks.Held]:
        """The campaign's lock, held while this sender works; Busy if another process has it."""
        slug = self.campaign.slug
        return locks.hold(self.store, lock_name(slug), BUSY.replace("{slug}", slug))  # type: ignore[arg-type]

    def start(self) -> int:
        """The send's id; the first time, snapshot the audience into deliveries. Refuses a send
        to nobody, and a send a person stopped unless options.resume."""
        try:
            return self._start()
        except sa.exc.IntegrityError:  # another sender started it at the same moment
            return self._start()

    def _start(self) -> int:
        slug = self.campaign.slug
        with self.store.begin() as connection:  # type: ignore[union-attr]
            existing = connection.execute(sa.select(sends).where(sends.c.campaign == slug)).first()
            if existing is not None:
                self._carry_on(connection, existing)
                return existing.id
            if self.options.resume:
                raise SendError(
                    f"{slug} has not been sent, so there is nothing to resume. "
                    f"Leave out --resume to send it."
                )
            name, audience = self.audience()
            self.refuse_nobody(connection, name, audience)
            send_id = connection.execute(
                sends.insert().values(
                    campaign=slug,
                    subject=self.subject,
                    audience=name,
                    provider=self.provider.name,
                    status="sending",
                    total=0,
                    started_at=core.now(),
                )
            ).inserted_primary_key[0]
            from .archive import freeze  # the archive's copy of what went out, kept with the send

            freeze(connection, self.workspace, self.campaign, send_id)
            members = recipients.members(audience).add_columns(
                sa.literal(send_id), sa.literal("pending"), sa.literal(0)
            )
            connection.execute(
                deliveries.insert().from_select(
                    ["contact_id", "send_id", "status", "attempts"], members
                )
            )
            total = connection.execute(
                sa.select(sa.func.count()).where(deliveries.c.send_id == send_id)
            ).scalar()
            connection.execute(sends.update().where(sends.c.id == send_id).values(total=total))
            return send_id

    def _carry_on(self, connection: sa.Connection, send: sa.Row) -> None:
        """A send a person stopped goes on only with --resume, which clears the stop."""
        if not is_stopped(send):
            return
        if not self.options.resume:
            raise SendError(stopped_text(connection, send))
        connection.execute(
            sends.update()
            .where(sends.c.id == send.id)
            .values(status="sending", stop_asked_at=None, stop_asked_by=None)
        )

    def audience(self) -> tuple[str, audiences.Audience]:
        """The campaign's audience, read as lint reads it (rules_audience.load); a refusal
        says what lint says."""
        found, problem = rules_audience.load(self.workspace, self.campaign)
        if found is None:
            raise SendError(refusal(self.campaign.slug, [problem]))  # type: ignore[list-item]
        return found.name, found

    def refuse_nobody(
        self, connection: sa.Connection, name: str, audience: audiences.Audience
    ) -> None:
        """A send to nobody is refused before anything is stored, so the campaign stays as it
        was (not sent, not in the archive)."""
        if self.anyone(connection, audience):
            return
        people = self.people(connection, recipients.members(audience))
        skipped = Counter(recipients.skip_reasons(connection, people).values())
        everyone = f"all {len(people)} people" if len(people) > 1 else "the 1 person"
        why = (
            f"{everyone} in it would be skipped ({recipients.describe(skipped)})"
            if people
            else "it has nobody in it"
        )
        raise SendError(
            f"Nobody in the audience {name} can be sent {self.campaign.slug}: {why}. Nothing "
            f"was sent and the campaign stays as it was. See who is in it with `engage "
            f"audiences show {name}`, or choose another audience in its front matter."
        )

    def anyone(self, connection: sa.Connection, audience: audiences.Audience) -> bool:
        """Whether at least one person in the audience can be sent to now."""
        ids = connection.execute(recipients.members(audience).order_by(contacts.c.id)).scalars()
        for chunk in _chunks(list(ids), recipients.CHUNK):
            people = self.people(connection, chunk)
            if len(recipients.skip_reasons(connection, people)) < len(people):
                return True
        return False

    @staticmethod
    def people(connection: sa.Connection, within: object) -> list[sa.Row]:
        """(id, email, status) of the contacts whose ids are `within` (a list or a select)."""
        return connection.execute(
            sa.select(contacts.c.id, contacts.c.email, contacts.c.status)
            .where(contacts.c.id.in_(within))
            .order_by(contacts.c.id)
        ).all()

    def sent_before(self) -> int | None:
        """The id of this campaign's send, when it has been started."""
        with self.store.connect() as connection:  # type: ignore[union-attr]
            return connection.execute(
                sa.select(sends.c.id).where(sends.c.campaign == self.campaign.slug)
            ).scalar()

    def recover(self, send_id: int) -> None:
        """Rows left by a sender that ended before finishing: claimed ones go back to pending,
        sending ones are unknown. Called with the campaign's lock held, so no other process
        can be working on them."""
        with self.store.begin() as connection:  # type: ignore[union-attr]
            left = deliveries.c.send_id == send_id
            connection.execute(
                deliveries.update()
                .where(left, deliveries.c.status == "claimed")
                .values(status="pending", batch=None, owner=None)
            )
            connection.execute(
                deliveries.update()
                .where(left, deliveries.c.status == "sending")
                .values(
                    status="unknown",
                    error="The sender stopped after handing these to the provider "
                    "and before recording the result: they may or may not have been sent.",
                )
            )

    def _resend_unknown(self, send_id: int) -> None:
        """--resend-unknown: the team checked, so unknown rows go out again. Anyone the
        provider had in fact taken gets a second copy; that is the risk the flag names."""
        with self.store.begin() as connection:  # type: ignore[union-attr]
            connection.execute(
                deliveries.update()
                .where(deliveries.c.send_id == send_id, deliveries.c.status == "unknown")
                .values(status="pending", batch=None, owner=None, error=None)
            )

    # --- reconciling ------------------------------------------------------------------

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

    def check_records(self) -> Reconciliation | None:
        """`engage send CAMPAIGN --reconcile`: with the campaign's lock held (so no sender is
        working on it), settle rows a sender left and ask the provider about the unknown ones.
        None when the campaign has not been sent."""
        send_id = self.sent_before()
        if send_id is None:
            return None
        with self.locked():
            self.recover(send_id)
            return self.reconcile(send_id)

    def reconcile(self, send_id: int) -> Reconciliation:
        """Turn each unknown row into sent or pending from the provider's own records; what
        they cannot settle stays unknown. Raises CannotReconcile for providers without them."""
        with self.store.connect() as connection:  # type: ignore[union-attr]
            rows = connection.execute(
                sa.select(
                    deliveries.c.id,
                    deliveries.c.message_id,
                    deliveries.c.claimed_at,
                    contacts.c.email,
                )
                .join(contacts, contacts.c.id == deliveries.c.contact_id)
                .where(deliveries.c.send_id == send_id, deliveries.c.status == "unknown")
                .order_by(deliveries.c.id)
            ).all()
        if not rows:
            return Reconciliation()
        unknown = [
            Unknown(
                delivery_id=row.id,
                send_id=send_id,
                email=row.email,
                message_id=row.message_id or "",
                handed_at=_aware(row.claimed_at),
                campaign=self.campaign.slug,
            )
            for row in rows
        ]
        with self.provider:
            found = self.provider.reconcile(unknown)
        at = core.now()
        with self.store.begin() as connection:  # type: ignore[union-attr]
            only_unknown = deliveries.c.status == "unknown"  # never overrule a newer answer
            for delivery_id, provider_id in found.sent.items():
                connection.execute(
                    deliveries.update()
                    .where(deliveries.c.id == delivery_id, only_unknown)
                    .values(status="sent", provider_id=provider_id or None, error=None, sent_at=at)
                )
            if found.not_sent:
                connection.execute(
                    deliveries.update()
                    .where(deliveries.c.id.in_(sorted(found.not_sent)), only_unknown)
                    .values(status="pending", batch=None, owner=None, error=None)
                )
        left = len(rows) - len(found.sent) - len(found.not_sent)
        return Reconciliation(len(found.sent), len(found.not_sent), left, found.note)

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
                    self._mark_stopped(send_id, f"{core.actor()} (Ctrl-C)")
                    raise
                finally:
                    self._release(send_id)
            return self.finish(send_id, report)

    def _send(
        self, built: Built, sign: Signer, send_id: int, report: Report, progress: Progress | None
    ) -> None:
        self.recover(send_id)
        self._reconcile_on_resume(send_id, report)
        if self.options.resend_unknown:
            self._resend_unknown(send_id)
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
                    queued.append((batch, pool.submit(self._hand_over, batch)))
                    if len(queued) == 2 and not self._settle(*queued.pop(0), report):
                        return
                    if progress and report.this_run:
                        progress(report.this_run, self.remaining_total(send_id))
                while queued:
                    if not self._settle(*queued.pop(0), report):
                        return
                    if progress:
                        progress(report.this_run, self.remaining_total(send_id))
            finally:
                for batch, future in queued:  # stopping early: settle what was queued
                    self._abandon(batch, future, report)

    def _stopping(self, send_id: int) -> bool:
        """Whether to stop before the next batch: a signal came, or a person asked (--stop).
        Also keeps the campaign's lock from running out."""
        if not self.stop.is_set():
            with self.store.connect() as connection:  # type: ignore[union-attr]
                asked = connection.execute(
                    sa.select(sends.c.stop_asked_at, sends.c.stop_asked_by).where(
                        sends.c.id == send_id
                    )
                ).one()
            if asked.stop_asked_at is not None:
                self.stop.reason, self.stop.by = "asked", asked.stop_asked_by or "someone"
                self.stop.set()
        if time.monotonic() - self.renewed > RENEW_EVERY:
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
                claimed = self.claim(send_id, size, fmt)
                if not claimed:
                    break
                for batch in self.batches(built, sign, send_id, claimed):
                    handed += len(batch.items)
                    yield batch

    def _release(self, send_id: int) -> None:
        """Rows this sender claimed but never handed over go back to pending."""
        with self.store.begin() as connection:  # type: ignore[union-attr]
            connection.execute(
                deliveries.update()
                .where(
                    deliveries.c.send_id == send_id,
                    deliveries.c.status == "claimed",
                    deliveries.c.owner == self.owner,
                )
                .values(status="pending", batch=None, owner=None)
            )

    def _mark_stopped(self, send_id: int, by: str) -> None:
        """A person stopped this send: only --resume carries it on (`engage run` never does).
        Who asked first stays recorded."""
        with self.store.begin() as connection:  # type: ignore[union-attr]
            connection.execute(
                sends.update()
                .where(sends.c.id == send_id, sends.c.status == "sending")
                .values(
                    status="stopped",
                    stop_asked_at=sa.func.coalesce(sends.c.stop_asked_at, core.now()),
                    stop_asked_by=sa.func.coalesce(sends.c.stop_asked_by, by),
                )
            )

    # --- the dry run ----------------------------------------------------------------------

    def plan(self) -> Plan:
        """Who the real send would send to now, and who it would skip and why: what
        `--dry-run` renders and what `engage send` says before it asks."""
        with self.store.connect() as connection:  # type: ignore[union-attr]
            started, rows = self._would_send(connection)
            reasons = recipients.skip_reasons(connection, rows)
        going = [row for row in rows if row.id not in reasons]
        if self.options.limit is not None:
            going = going[: self.options.limit]
        return Plan(len(rows), going, dict(Counter(reasons.values())), started)

    def rehearse(self, built: Built, sign: Signer) -> Report:
        """--dry-run: render a message for exactly the people the real send would send to
        now, and count the ones it would skip, by reason; store nothing."""
        plan = self.plan()
        report = Report(campaign=self.campaign.slug)
        for batch in self.batches(built, sign, 0, plan.going):  # type: ignore[arg-type]
            for item in batch.items:
                batch.mime(item)
            report.this_run += len(batch.items)
        report.total, report.skipped_because = plan.total, plan.skipped
        report.suppressed = sum(plan.skipped.values())
        report.pending = plan.total - report.suppressed
        return report

    def _would_send(self, connection: sa.Connection) -> tuple[bool, list[_TestRow]]:
        """Who the real send would hand a message to now, before the skip check: the rest of
        a send already started (True), else everyone in the audience (refused if nobody can
        go). Refused, as the real send is, when a person stopped it and this is no --resume."""
        existing = connection.execute(
            sa.select(sends).where(sends.c.campaign == self.campaign.slug)
        ).first()
        if existing is not None:
            if is_stopped(existing) and not self.options.resume:
                raise SendError(stopped_text(connection, existing))
            waiting = ["pending", "claimed"] + (["unknown"] if self.options.resend_unknown else [])
            query = (
                sa.select(deliveries.c.id, contacts.c.id.label("contact_id"))
                .join(contacts, contacts.c.id == deliveries.c.contact_id)
                .where(deliveries.c.send_id == existing.id, deliveries.c.status.in_(waiting))
            )
        else:
            name, audience = self.audience()
            self.refuse_nobody(connection, name, audience)
            query = sa.select(contacts.c.id, contacts.c.id.label("contact_id")).where(
                contacts.c.id.in_(recipients.members(audience))
            )
        rows = connection.execute(
            query.add_columns(
                contacts.c.email,
                contacts.c.name,
                contacts.c.first_name,
                contacts.c.format,
                contacts.c.status,
            ).order_by(contacts.c.id)
        ).all()
        return existing is not None, [_TestRow(*row) for row in rows]

    # --- claiming ---------------------------------------------------------------------------

    def claim(self, send_id: int, size: int, fmt: str) -> list[sa.Row]:
        """Take up to `size` pending rows of people who want `fmt`, in one statement."""
        batch = uuid.uuid4().hex
        with self.store.begin() as connection:
            pick = (
                sa.select(deliveries.c.id)
                .join(contacts, contacts.c.id == deliveries.c.contact_id)
                .where(
                    deliveries.c.send_id == send_id,
                    deliveries.c.status == "pending",
                    contacts.c.format == fmt,
                )
                .order_by(deliveries.c.id)
                .limit(size)
            )
            if connection.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True, of=deliveries)
            connection.execute(
                deliveries.update()
                .where(deliveries.c.id.in_(pick.scalar_subquery()))
                .values(status="claimed", batch=batch, owner=self.owner, claimed_at=core.now())
            )
            rows = connection.execute(
                sa.select(
                    deliveries.c.id,
                    contacts.c.id.label("contact_id"),
                    contacts.c.email,
                    contacts.c.name,
                    contacts.c.first_name,
                    contacts.c.format,
                    contacts.c.status,
                )
                .join(contacts, contacts.c.id == deliveries.c.contact_id)
                .where(deliveries.c.batch == batch)
                .order_by(deliveries.c.id)
            ).all()
            return self._skip(connection, rows)

    def _skip(self, connection: sa.Connection, rows: list[sa.Row]) -> list[sa.Row]:
        """Checked at the moment of sending: anyone who may not be sent to now (unsubscribed
        since the start, never confirmed, on the suppression list...) is skipped, with why."""
        reasons = recipients.skip_reasons(connection, rows)
        for reason in sorted(set(reasons.values())):
            connection.execute(
                deliveries.update()
                .where(deliveries.c.id.in_([i for i, r in reasons.items() if r == reason]))
                .values(
                    status="suppressed",
                    skip_reason=reason,
                    error=f"skipped when their turn came: {recipients.SKIP_WORDS[reason]}",
                )
            )
        return [row for row in rows if row.id not in reasons]

    def batches(self, built: Built, sign: Signer, send_id: int, rows: list[sa.Row]) -> list[Batch]:
        by_variant: dict[str, list[Item]] = {}
        for row in rows:
            by_variant.setdefault(VARIANT.get(row.format, "standard"), []).append(
                self.item(sign, send_id, row)
            )
        return [
            Batch(
                built=built,
                variant=variant,
                items=items,
                sender=self.sender,
                subject=self.subject,
                list_id=self.list_id,
                campaign=self.campaign.slug,
                send_id=send_id,
                tags=[self.campaign.slug],
            )
            for variant, items in by_variant.items()
        ]

    def item(self, sign: Signer, send_id: int, row: sa.Row) -> Item:
        unsubscribe = sign.sign("u", row.contact_id, send_id)
        reply = f"reply+{sign.sign('r', row.id)}@{self.reply_domain}" if self.reply_domain else ""
        recipient = Recipient(
            email=row.email,
            name=row.name,
            first_name=row.first_name,
            unsubscribe_url=f"{self.base}/unsubscribe/{unsubscribe}",
            preferences_url=f"{self.base}/preferences/{sign.sign('p', row.contact_id)}",
            web_version_url=f"{self.base}/archive/{self.campaign.slug}",
            reply_to=reply,
        )
        mailbox = f"unsubscribe+{unsubscribe}@{self.reply_domain or self.domain}"
        return Item(
            delivery_id=row.id,
            email=row.email,
            name=row.name,
            recipient=recipient,
            message_id=f"<{self.campaign.slug}.{row.id}.{secrets.token_hex(4)}@{self.domain}>",
            unsubscribe_mailto=f"mailto:{mailbox}?subject=unsubscribe",
        )

    def _mark_sending(self, items: list[Item]) -> None:
        """Recorded before the provider sees them: if engage dies now, these are unknown."""
        with self.store.begin() as connection:  # type: ignore[union-attr]
            connection.execute(
                deliveries.update()
                .where(deliveries.c.id == sa.bindparam("id_"))
                .values(
                    status="sending",
                    message_id=sa.bindparam("mid"),
                    attempts=deliveries.c.attempts + 1,
                    claimed_at=core.now(),  # when it was handed over: reconciling counts from here
                ),
                [{"id_": i.delivery_id, "mid": i.message_id} for i in items],
            )

    def _hand_over(self, batch: Batch) -> Handed:
        """In the sending thread: hand the batch to the provider and record every answer the
        moment it arrives. Only what the provider proves it did not take is tried again (with
        backoff, honouring Retry-After); what it may have taken is marked unknown."""
        handed = Handed()
        items = self._addressable(batch, handed)
        wait, tries = self.options.backoff, 0
        while items:
            self._mark_sending(items)
            try:
                outcomes = self.provider.send_batch(replace(batch, items=items))
            except TryLater as exc:
                items = self._answered(items, exc.done, handed)
                self._set([i.delivery_id for i in items], status="claimed")
                tries += 1
                if tries >= self.options.max_tries or self.stop.is_set():
                    return self._give_back(items, str(exc), handed)
                delay = (
                    exc.retry_after if exc.retry_after is not None else wait * (1 + random.random())
                )
                if self.stop.wait(min(delay, self.options.max_wait)):
                    return self._give_back(items, str(exc), handed)
                wait *= 2
            except LostAnswer as exc:
                items = self._answered(items, exc.done, handed)
                doubt = set(exc.unknown)
                self._set(sorted(doubt), status="unknown", error=str(exc))
                handed.count += len(doubt)
                handed.lost.append(f"{exc}: {len(doubt)} message(s) may or may not have gone")
                items = [i for i in items if i.delivery_id not in doubt]
                if items:
                    self._set([i.delivery_id for i in items], status="claimed")
                tries += 1
                if items and (tries >= self.options.max_tries or self.stop.is_set()):
                    return self._give_back(items, str(exc), handed)
            except ProviderError as exc:  # a wrong key or domain, a refused sender: stop the send
                items = self._answered(items, exc.done, handed)  # what went before it did
                self._set([i.delivery_id for i in items], status="pending", batch=None, owner=None)
                raise
            except BaseException:  # engage itself failed while they were with the provider
                self._set(
                    [i.delivery_id for i in items],
                    status="unknown",
                    error="engage stopped while handing these over",
                )
                raise
            else:
                self._answered(items, outcomes, handed)
                items = []
        return handed

    def _addressable(self, batch: Batch, handed: Handed) -> list[Item]:
        """The batch's people with each address as the provider takes it; anyone whose
        address it cannot take is failed now, with the reason, and the rest go on."""
        items, refused = [], []
        for item in batch.items:
            try:
                address = self.provider.address(item.email)
            except Unsendable as exc:
                refused.append(Outcome(item.delivery_id, False, error=str(exc)))
                continue
            items.append(item if address == item.email else replace(item, email=address))
        if refused:
            self._answered([], refused, handed)
        return items

    def _answered(self, items: list[Item], outcomes: list[Outcome], handed: Handed) -> list[Item]:
        """Record these answers now; the items still without one."""
        if outcomes:
            self.record(outcomes)
            handed.count += len(outcomes)
        done = {o.delivery_id for o in outcomes}
        return [i for i in items if i.delivery_id not in done]

    def _give_back(self, items: list[Item], reason: str, handed: Handed) -> Handed:
        """Not taken, and no more tries now: pending again, for the next run."""
        self._set(
            [i.delivery_id for i in items], status="pending", batch=None, owner=None, error=reason
        )
        handed.stop = f"{reason}; {len(items)} left for the next run"
        return handed

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
            self._set(
                [i.delivery_id for i in batch.items], status="pending", batch=None, owner=None
            )
            return
        with contextlib.suppress(ProviderError):
            self._settle(batch, future, report)

    def record(self, outcomes: list[Outcome]) -> None:
        at = core.now()
        with self.store.begin() as connection:
            connection.execute(
                deliveries.update()
                .where(deliveries.c.id == sa.bindparam("id_"))
                .values(
                    status=sa.bindparam("st"),
                    provider_id=sa.bindparam("pid"),
                    error=sa.bindparam("err"),
                    sent_at=sa.bindparam("at"),
                ),
                [
                    {
                        "id_": o.delivery_id,
                        "st": "sent" if o.sent else "failed",
                        "pid": o.provider_id or None,
                        "err": o.error or None,
                        "at": at if o.sent else None,
                    }
                    for o in outcomes
                ],
            )

    def _set(self, ids: list[int], **values: object) -> None:
        with self.store.begin() as connection:
            connection.execute(deliveries.update().where(deliveries.c.id.in_(ids)).values(**values))

    def remaining_total(self, send_id: int) -> int:
        with self.store.connect() as connection:
            return (
                connection.execute(sa.select(sends.c.total).where(sends.c.id == send_id)).scalar()
                or 0
            )

    def finish(self, send_id: int, report: Report) -> Report:
        report.stopped = self.stop.reason
        stopped_by = self._stopped_by()
        with self.store.begin() as connection:
            counts = delivery_counts(connection, send_id)
            report.total = sum(counts.values())
            report.sent, report.failed = counts.get("sent", 0), counts.get("failed", 0)
            report.suppressed, report.unknown = (
                counts.get("suppressed", 0),
                counts.get("unknown", 0),
            )
            report.skipped_because = skip_counts(connection, send_id)
            report.pending = sum(counts.get(s, 0) for s in ("pending", "claimed", "sending"))
            report.finished = report.pending == 0 and not self.options.dry_run
            if report.finished:
                connection.execute(
                    sends.update()
                    .where(sends.c.id == send_id, sends.c.status != "sent")
                    .values(status="sent", finished_at=core.now())
                )
        if report.finished:
            from .stories.usage import record_sent  # its contributors hear it went out

            record_sent(self.store, self.workspace, self.campaign)
        elif stopped_by:
            self._mark_stopped(send_id, stopped_by)
            report.stop_note = self._stop_note(report)
        if report.unknown:
            report.problems.append(self._unknown_advice(report.unknown))
        if report.stopped == "SIGTERM":
            report.problems.append(
                "Stopped by SIGTERM: every answer that came was recorded. The next `engage run` "
                f"carries on from here, or run `engage send {self.campaign.slug}` to carry on now."
            )
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

    def _stop_note(self, report: Report) -> str:
        slug = self.campaign.slug
        how = {"SIGINT": "by Ctrl-C", "asked": f"as {self.stop.by} asked"}.get(
            self.stop.reason, f"as --limit {self.options.limit} asked"
        )
        more = " (add --limit again to send only a few more)" if not self.stop.reason else ""
        return (
            f"{slug} is stopped, {how}: {report.sent} of {report.total} went and "
            f"{report.pending} {'is' if report.pending == 1 else 'are'} still to send. Every "
            "answer that came was recorded, so nobody will get it twice. To send the rest, run "
            f"`engage send {slug} --resume`{more}. `engage run` leaves it alone until then."
        )

    def _unknown_advice(self, count: int) -> str:
        slug = self.campaign.slug
        said = (
            f"{count} message(s) may or may not have gone: engage handed them over and never "
            "learned the answer."
        )
        asks = type(self.provider).reconcile is not Provider.reconcile
        if asks and self.cannot_reconcile:  # a provider that can, an account that cannot
            return f"{said} {self.cannot_reconcile}"
        if asks:
            return (
                f"{said} engage asks {self.provider.name}'s records about them each time the "
                f"send starts; once those records are complete, `engage send {slug} "
                "--reconcile` settles them."
            )
        return (
            f"{said} {self.provider.name} keeps no records engage can ask: check them by hand "
            f"(the mail server's log), then `engage send {slug} --resend-unknown` sends them "
            "again, a second copy to anyone who did get one."
        )


def delivery_counts(connection: sa.Connection, send_id: int) -> dict[str, int]:
    """How many of a send's deliveries are in each status."""
    return dict(
        connection.execute(
            sa.select(deliveries.c.status, sa.func.count())
            .where(deliveries.c.send_id == send_id)
            .group_by(deliveries.c.status)
        ).all()
    )


def skip_counts(connection: sa.Connection, send_id: int) -> dict[str | None, int]:
    """How many of a send's people were skipped, by reason (None: not recorded)."""
    return dict(
        connection.execute(
            sa.select(deliveries.c.skip_reason, sa.func.count())
            .where(deliveries.c.send_id == send_id, deliveries.c.status == "suppressed")
            .group_by(deliveries.c.skip_reason)
        ).all()
    )


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def send_test(
    workspace: Workspace, campaign: Campaign, provider: Provider, address: str
) -> Outcome:
    """One marked copy to `address`, for checking; nothing is recorded. Even with --force, a
    subject with a line break never goes: it would add headers of its own."""
    broken = rules_source.subject_line_break(campaign, workspace.relative(campaign.path))
    if broken:
        raise SendError(refusal(campaign.slug, [broken]))
    built = build(workspace, campaign)
    sign = signer(workspace)
    sender = Sender(None, workspace, campaign, provider)
    try:
        name, box = named_mailbox(address)
    except InvalidEmail as exc:
        raise SendError(f"--test-to: {sentence(str(exc))}") from None
    first = name.split(" ")[0] if name else ""
    row = _TestRow(
        id=0,
        contact_id=0,
        email=box.email,
        name=name,
        first_name=first,
        format="html",
        status="subscribed",
    )
    item = sender.item(sign, 0, row)  # type: ignore[arg-type]
    batch = Batch(
        built=built,
        variant="standard",
        items=[item],
        sender=sender.sender,
        subject=f"[Test] {sender.subject}",
        list_id=sender.list_id,
        campaign=campaign.slug,
        send_id=None,
        tags=["test"],
    )
    with provider:
        return provider.send_batch(batch)[0]


@dataclass
class _TestRow:
    id: int
    contact_id: int
    email: str
    name: str
    first_name: str
    format: str
    status: str
