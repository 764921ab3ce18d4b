"""Sending a campaign exactly once per person: the deliveries journal.

A send snapshots the audience into `deliveries` (one row per campaign × contact). Then, batch
by batch: claim rows (pending → claimed), check the suppression list, personalise, mark them
sending, hand them to the provider, and record each outcome (sent or failed). Each step is
committed before the next, so after a crash every row says how far it got:

- claimed: never handed to the provider → safely pending again;
- sending: handed over, result never recorded → unknown: reported, not resent unless asked.

Claiming is one UPDATE over a sub-select (FOR UPDATE SKIP LOCKED on PostgreSQL), so several
senders can share a campaign and no row is ever claimed twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import secrets
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from email.utils import parseaddr

import sqlalchemy as sa

from .campaigns import Campaign
from .config import Workspace
from .contacts import audiences, core
from .email.base import (
    Batch,
    CannotReconcile,
    Item,
    LostAnswer,
    Outcome,
    Provider,
    ProviderError,
    TryLater,
    Unknown,
    Unsendable,
    clean_header,
)
from .errors import EngageError, sentence
from .render.build import Built, build
from .render.lint import require_clean
from .render.personal import Recipient
from .store import Store
from .store.schema import contacts, deliveries, sends, suppressions
from .tokens import Signer, signer

STALE_AFTER = dt.timedelta(minutes=10)
MAX_TRIES = 5
VARIANT = {"html": "standard", "large-print": "large-print", "plain": "plain"}


class SendError(EngageError):
    """The send cannot start, or had to stop; the message says why and what to do."""


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    limit: int | None = None
    resend_unknown: bool = False
    max_tries: int = MAX_TRIES
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    max_wait: float = 60.0


@dataclass
class Report:
    campaign: str
    stopped: str = ""  # the signal that stopped the send, when one did
    total: int = 0
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    unknown: int = 0
    pending: int = 0
    this_run: int = 0
    problems: list[str] = field(default_factory=list)
    finished: bool = False


@dataclass
class Handed:
    """What the sending thread did with one batch: messages answered (or lost) and recorded,
    lost answers to report, and why the send must stop, when it must."""

    count: int = 0
    lost: list[str] = field(default_factory=list)
    stop: str = ""


@dataclass(frozen=True)
class Reconciliation:
    """How many unknown messages the provider's records showed sent, showed not sent (now
    pending again), and could not settle (still unknown), with why."""

    sent: int = 0
    pending: int = 0
    unknown: int = 0
    note: str = ""


class Stop(threading.Event):
    """Set by SIGTERM or SIGINT: finish and record what is with the provider, then stop."""

    reason = ""


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


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(owner: str | None) -> bool:
    """Whether the process that claimed a row may still be working on it."""
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: trust the claim until it is stale
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        self.cannot_reconcile = ""  # why the provider could not be asked, when it could not
        email = workspace.config.email
        self.sender = clean_header(email.from_, "from address in [email] of engage.toml")
        if not parseaddr(self.sender)[1]:
            raise SendError(
                'Set from in [email] of engage.toml, like from = "Our news <news@example.org>".'
            )
        self.subject = clean_header(campaign.meta.subject, f"subject of {campaign.slug}")
        self.domain = parseaddr(self.sender)[1].rpartition("@")[2]
        self.reply_domain = email.reply_domain
        self.base = workspace.config.web.base_url.rstrip("/")
        self.list_id = f"{workspace.config.organisation.name} <news.{self.domain}>"

    # --- starting ---------------------------------------------------------------------

    def prepare(self) -> tuple[Built, Signer]:
        require_clean(self.workspace, self.campaign)
        self.provider.check()
        return build(self.workspace, self.campaign), signer(self.workspace)

    def start(self) -> int:
        """The send's id; the first time, snapshot the audience into deliveries."""
        try:
            return self._start()
        except sa.exc.IntegrityError:  # another sender started it at the same moment
            return self._start()

    def _start(self) -> int:
        slug = self.campaign.slug
        with self.store.begin() as connection:  # type: ignore[union-attr]
            existing = connection.execute(
                sa.select(sends.c.id).where(sends.c.campaign == slug)
            ).scalar()
            if existing is not None:
                return existing
            name = self.campaign.meta.audience
            if not name:
                raise SendError(
                    f'{slug} has no audience: add audience = "newsletter" to its front matter.'
                )
            audience = audiences.load(self.workspace, name)
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
            # The last guard for "one mailbox, one copy": one row per identity, however the
            # contacts table came to hold it.
            one_each = (
                sa.select(sa.func.min(contacts.c.id))
                .where(contacts.c.id.in_(audiences.member_ids(audience)))
                .group_by(contacts.c.email_key)
            )
            members = (
                sa.select(contacts.c.id)
                .where(contacts.c.id.in_(one_each))
                .add_columns(sa.literal(send_id), sa.literal("pending"), sa.literal(0))
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

    def sent_before(self) -> int | None:
        """The id of this campaign's send, when it has been started."""
        with self.store.connect() as connection:  # type: ignore[union-attr]
            return connection.execute(
                sa.select(sends.c.id).where(sends.c.campaign == self.campaign.slug)
            ).scalar()

    def recover(self, send_id: int) -> None:
        """Rows left by a sender that stopped: claimed ones go back, sending ones are unknown."""
        stale_before = core.now() - STALE_AFTER
        with self.store.begin() as connection:
            rows = connection.execute(
                sa.select(
                    deliveries.c.id,
                    deliveries.c.status,
                    deliveries.c.owner,
                    deliveries.c.claimed_at,
                ).where(
                    deliveries.c.send_id == send_id, deliveries.c.status.in_(("claimed", "sending"))
                )
            ).all()
            back, unknown = [], []
            for row in rows:
                claimed = (
                    row.claimed_at
                    if row.claimed_at.tzinfo
                    else row.claimed_at.replace(tzinfo=dt.UTC)
                )
                if _alive(row.owner) and claimed > stale_before:
                    continue
                (back if row.status == "claimed" else unknown).append(row.id)
            if back:
                connection.execute(
                    deliveries.update()
                    .where(deliveries.c.id.in_(back))
                    .values(status="pending", batch=None, owner=None)
                )
            if unknown:
                connection.execute(
                    deliveries.update()
                    .where(deliveries.c.id.in_(unknown))
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
        send_id = self.start()
        self.recover(send_id)
        report = Report(campaign=self.campaign.slug)
        self._reconcile_on_resume(send_id, report)
        if self.options.resend_unknown:
            self._resend_unknown(send_id)
        with stop_on_signals(self.stop):
            try:
                self._loop(built, sign, send_id, report, progress)
            finally:
                self._release(send_id)
        if self.stop.reason:
            report.stopped = self.stop.reason
        return self.finish(send_id, report)

    def _loop(
        self, built: Built, sign: Signer, send_id: int, report: Report, progress: Progress | None
    ) -> None:
        """Prepare the next batch while the provider works on this one (one call at a time).
        The sending thread records each answer as it arrives; this thread only counts."""
        rate = self.workspace.config.email.rate_per_second
        started = time.monotonic()
        queued: list[tuple[Batch, Future[Handed]]] = []
        with self.provider, ThreadPoolExecutor(1, thread_name_prefix="engage-send") as pool:
            try:
                for batch in self._batches(built, sign, send_id):
                    queued.append((batch, pool.submit(self._hand_over, batch)))
                    if len(queued) == 2 and not self._settle(*queued.pop(0), report):
                        return
                    if progress and report.this_run:
                        progress(report.this_run, self.remaining_total(send_id))
                    if self.stop.is_set():
                        return
                    if rate:
                        self.stop.wait(report.this_run / rate - (time.monotonic() - started))
                    if self.stop.is_set():
                        return
                while queued:
                    if not self._settle(*queued.pop(0), report):
                        return
                    if progress:
                        progress(report.this_run, self.remaining_total(send_id))
            finally:
                for batch, future in queued:  # stopping early: settle what was queued
                    self._abandon(batch, future, report)

    def _batches(self, built: Built, sign: Signer, send_id: int) -> Iterator[Batch]:
        """Claim and prepare batches, one format at a time so each batch is one call."""
        rate = self.workspace.config.email.rate_per_second
        handed = 0
        for fmt in VARIANT:
            while self.options.limit is None or handed < self.options.limit:
                size = self.provider.batch_size
                if rate:  # never more in one go than a second's worth
                    size = min(size, max(1, int(rate)))
                if self.options.limit is not None:
                    size = min(size, self.options.limit - handed)
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

    def rehearse(self, built: Built, sign: Signer) -> Report:
        """--dry-run: render a message for everyone in the audience now; store nothing."""
        report = Report(campaign=self.campaign.slug)
        name = self.campaign.meta.audience
        if not name:
            raise SendError(f'{self.campaign.slug} has no audience: add audience = "newsletter".')
        with self.store.connect() as connection:  # type: ignore[union-attr]
            people = core.listing(
                connection, within=audiences.member_ids(audiences.load(self.workspace, name))
            )
        rows = [
            _TestRow(
                id=0,
                contact_id=p.id,
                email=p.email,
                name=p.name,
                first_name=p.first_name,
                format=p.format,
                status=p.status,
            )
            for p in people
        ]
        for batch in self.batches(built, sign, 0, rows):  # type: ignore[arg-type]
            for item in batch.items:
                batch.mime(item)
            report.this_run += len(batch.items)
        report.total = len(rows)
        return report

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
            return self._drop_suppressed(connection, rows)

    def _drop_suppressed(self, connection: sa.Connection, rows: list[sa.Row]) -> list[sa.Row]:
        """Checked at the moment of sending: anyone who unsubscribed since the start is skipped."""
        # An ASCII address has one hash; another may also be listed under older spellings.
        pairs = [
            (hashed, row.id)
            for row in rows
            for hashed in (
                [core.email_hash(row.email)]
                if row.email.isascii()
                else core.email_hashes(row.email)
            )
        ]
        blocked = set(
            connection.execute(
                sa.select(suppressions.c.email_hash).where(
                    suppressions.c.email_hash.in_({hashed for hashed, _ in pairs})
                )
            ).scalars()
        )
        skip = {row_id for hashed, row_id in pairs if hashed in blocked}
        skip |= {row.id for row in rows if row.status != "subscribed"}
        if skip:
            connection.execute(
                deliveries.update()
                .where(deliveries.c.id.in_(skip))
                .values(
                    status="suppressed",
                    error="unsubscribed or suppressed before this batch was sent",
                )
            )
        return [r for r in rows if r.id not in skip]

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
        with self.store.begin() as connection:
            counts = delivery_counts(connection, send_id)
            report.total = sum(counts.values())
            report.sent, report.failed = counts.get("sent", 0), counts.get("failed", 0)
            report.suppressed, report.unknown = (
                counts.get("suppressed", 0),
                counts.get("unknown", 0),
            )
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
        if report.unknown:
            report.problems.append(self._unknown_advice(report.unknown))
        if report.stopped:
            report.problems.append(
                f"Stopped by {report.stopped}: every answer that came was recorded. "
                f"Run `engage send {self.campaign.slug}` again to carry on."
            )
        return report

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


def send_test(
    workspace: Workspace, campaign: Campaign, provider: Provider, address: str
) -> Outcome:
    """One marked copy to `address`, for checking; nothing is recorded."""
    built = build(workspace, campaign)
    sign = signer(workspace)
    sender = Sender(None, workspace, campaign, provider)
    try:
        to = core.normalise_email(address)
    except core.InvalidEmail as exc:
        raise SendError(f"--test-to: {sentence(str(exc))}") from None
    row = _TestRow(
        id=0, contact_id=0, email=to, name="", first_name="", format="html", status="subscribed"
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


@dataclass(frozen=True)
class CampaignState:
    """Where a campaign stands: draft, scheduled, sending or sent, with counts."""

    status: str
    sent: int = 0
    total: int = 0


def campaign_states(store: Store, found: list[Campaign]) -> dict[str, CampaignState]:
    with store.connect() as connection:
        rows = connection.execute(
            sa.select(
                sends.c.campaign, sends.c.status, sends.c.total, sa.func.count(deliveries.c.id)
            )
            .select_from(
                sends.outerjoin(
                    deliveries,
                    sa.and_(deliveries.c.send_id == sends.c.id, deliveries.c.status == "sent"),
                )
            )
            .group_by(sends.c.campaign, sends.c.status, sends.c.total)
        ).all()
    known = {campaign: CampaignState(status, sent, total) for campaign, status, total, sent in rows}
    states = {}
    for campaign in found:
        default = "scheduled" if campaign.meta.send_at else "draft"
        states[campaign.slug] = known.get(campaign.slug, CampaignState(default))
    return states
