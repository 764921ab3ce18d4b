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
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parseaddr

import sqlalchemy as sa

from .campaigns import Campaign
from .config import Workspace
from .contacts import audiences, core
from .email.base import (
    Batch,
    Item,
    Outcome,
    Provider,
    ProviderError,
    TryLater,
    clean_header,
)
from .errors import EngageError
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
    total: int = 0
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    unknown: int = 0
    pending: int = 0
    this_run: int = 0
    problems: list[str] = field(default_factory=list)
    finished: bool = False


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
            members = audiences.member_ids(audience).add_columns(
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
            if self.options.resend_unknown:
                connection.execute(
                    deliveries.update()
                    .where(deliveries.c.send_id == send_id, deliveries.c.status == "unknown")
                    .values(status="pending", batch=None, owner=None, error=None)
                )

    # --- the loop -----------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> Report:
        built, sign = self.prepare()
        if self.options.dry_run:
            return self.rehearse(built, sign)
        send_id = self.start()
        self.recover(send_id)
        report = Report(campaign=self.campaign.slug)
        try:
            self._loop(built, sign, send_id, report, progress)
        finally:
            self._release(send_id)
        return self.finish(send_id, report)

    def _loop(
        self, built: Built, sign: Signer, send_id: int, report: Report, progress: Progress | None
    ) -> None:
        """Prepare the next batch while the provider works on this one (one call at a time)."""
        rate = self.workspace.config.email.rate_per_second
        started = time.monotonic()
        queued: list[tuple[Batch, Future[list[Outcome]]]] = []
        with self.provider, ThreadPoolExecutor(1, thread_name_prefix="engage-send") as pool:
            try:
                for batch in self._batches(built, sign, send_id):
                    queued.append((batch, pool.submit(self._hand_over, batch)))
                    if len(queued) == 2 and not self._settle(*queued.pop(0), report):
                        return
                    if progress and report.this_run:
                        progress(report.this_run, self.remaining_total(send_id))
                    if rate:
                        time.sleep(max(0.0, report.this_run / rate - (time.monotonic() - started)))
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
        hashes = {core.email_hash(r.email): r for r in rows}
        blocked = set(
            connection.execute(
                sa.select(suppressions.c.email_hash).where(
                    suppressions.c.email_hash.in_(list(hashes))
                )
            ).scalars()
        )
        skip = [r.id for h, r in hashes.items() if h in blocked or r.status != "subscribed"]
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

    def _mark_sending(self, batch: Batch) -> None:
        """Recorded before the provider sees the batch: if engage dies now, these are unknown."""
        with self.store.begin() as connection:  # type: ignore[union-attr]
            connection.execute(
                deliveries.update()
                .where(deliveries.c.id == sa.bindparam("id_"))
                .values(
                    status="sending",
                    message_id=sa.bindparam("mid"),
                    attempts=deliveries.c.attempts + 1,
                ),
                [{"id_": i.delivery_id, "mid": i.message_id} for i in batch.items],
            )

    def _hand_over(self, batch: Batch) -> list[Outcome]:
        """In the sending thread: mark the batch sending, then the provider call, retried
        with backoff and jitter. Only the batch being handed over is ever marked sending."""
        self._mark_sending(batch)
        wait = self.options.backoff
        for attempt in range(1, self.options.max_tries + 1):
            try:
                return self.provider.send_batch(batch)
            except TryLater as exc:
                if attempt == self.options.max_tries:
                    raise
                jitter = wait * (1 + random.random())
                delay = exc.retry_after if exc.retry_after is not None else jitter
                time.sleep(min(delay, self.options.max_wait))
                wait *= 2
        raise AssertionError("unreachable")

    def _settle(self, batch: Batch, future: Future[list[Outcome]], report: Report) -> bool:
        """Record how a batch went; False when the send must stop here."""
        ids = [item.delivery_id for item in batch.items]
        try:
            outcomes = future.result()
        except TryLater as exc:
            self._set(ids, status="pending", batch=None, owner=None, error=str(exc))
            report.problems.append(f"{exc}; {len(ids)} left for the next run")
            return False
        except ProviderError:
            self._set(ids, status="pending", batch=None, owner=None)
            raise
        except BaseException:
            self._set(ids, status="unknown", error="engage stopped while handing these over")
            raise
        self.record(outcomes)
        report.this_run += len(ids)
        return True

    def _abandon(self, batch: Batch, future: Future[list[Outcome]], report: Report) -> None:
        """A queued batch when the send stops: never started → pending; started → recorded."""
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
            report.problems.append(
                f"{report.unknown} message(s) may or may not have gone: the sender stopped while "
                f"handing them over. Check the provider's log; send them again with "
                f"`engage send {self.campaign.slug} --resend-unknown`."
            )
        return report


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
        raise SendError(f"--test-to: {exc}.") from None
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
