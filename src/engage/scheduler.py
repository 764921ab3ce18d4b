"""`engage run`, for cron: take a lock, send what is due, resume what stopped, report.

The lock makes overlapping runs safe: on PostgreSQL it is a session advisory lock, released
if the process dies; on SQLite it is a row in `locks` with an owner and an expiry, taken over
once its owner is gone or it has expired.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa

from . import campaigns as campaign_files
from .config import Workspace
from .contacts import core
from .email import provider_for
from .errors import EngageError, sentence
from .sending import Options, Report, Sender, _alive, owner_name
from .store import Store
from .store.schema import locks, sends
from .tokens import signer

LOCK_NAME = "engage-run"
LOCK_LEASE = dt.timedelta(minutes=15)


class Busy(EngageError):
    """Another run holds the lock."""

    exit_code = 75  # EX_TEMPFAIL: try again later


@contextmanager
def run_lock(store: Store, name: str = LOCK_NAME) -> Iterator[str]:
    owner = owner_name()
    if store.engine.dialect.name == "postgresql":
        key = zlib.crc32(name.encode())
        with store.engine.connect() as connection:
            if not connection.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar():
                raise Busy("Another `engage run` is working right now; this one did nothing.")
            connection.commit()
            try:
                yield owner
            finally:
                connection.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                connection.commit()
        return
    _take_row_lock(store, name, owner)
    try:
        yield owner
    finally:
        with store.begin() as connection:
            connection.execute(locks.delete().where(locks.c.name == name, locks.c.owner == owner))


def _take_row_lock(store: Store, name: str, owner: str) -> None:
    now = core.now()
    with store.begin() as connection:
        row = connection.execute(sa.select(locks).where(locks.c.name == name)).first()
        if row is None:
            connection.execute(
                locks.insert().values(name=name, owner=owner, expires_at=now + LOCK_LEASE)
            )
            return
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
        if expires > now and _alive(row.owner):
            raise Busy(
                f"Another `engage run` ({row.owner}) is working right now; this one did nothing."
            )
        taken = connection.execute(
            locks.update()
            .where(locks.c.name == name, locks.c.owner == row.owner)
            .values(owner=owner, expires_at=now + LOCK_LEASE)
        )
        if taken.rowcount != 1:
            raise Busy(
                "Another `engage run` took the lock at the same moment; this one did nothing."
            )


@dataclass
class RunSummary:
    reports: list[Report] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    posts: int = 0
    replies: int = 0  # new replies fetched
    story_emails: int = 0  # emails to contributors (thanks, "it went out", follow-ups)

    @property
    def ok(self) -> bool:
        return not self.errors and not any(r.problems for r in self.reports)

    def line(self) -> str:
        sent = sum(r.this_run for r in self.reports)
        if not (self.reports or self.errors or self.posts or self.replies or self.story_emails):
            return "engage run: nothing was due."
        parts = [f"{len(self.reports)} campaign(s) worked on, {sent} message(s) handed over"]
        if self.posts:
            parts.append(f"{self.posts} social post(s) made")
        if self.replies:
            parts.append(f"{self.replies} new repl{'y' if self.replies == 1 else 'ies'}")
        if self.story_emails:
            parts.append(f"{self.story_emails} email(s) to story contributors")
        problems = self.errors + [p for r in self.reports for p in r.problems]
        if problems:
            parts.append(f"{len(problems)} problem(s): " + " | ".join(problems))
        return sentence("engage run: " + "; ".join(parts))  # a problem may end with "." itself


def due(store: Store, workspace: Workspace, now: dt.datetime) -> list[str]:
    """Campaigns whose send_at has passed and that are not sent, plus sends left unfinished."""
    with store.connect() as connection:
        status = dict(connection.execute(sa.select(sends.c.campaign, sends.c.status)).all())
    slugs = []
    for campaign in campaign_files.all_campaigns(workspace):
        if isinstance(campaign, EngageError):
            continue
        state = status.get(campaign.slug)
        scheduled = campaign.meta.send_at is not None and campaign.meta.send_at <= now
        if state == "sending" or (state is None and scheduled):
            slugs.append(campaign.slug)
    return slugs


def due_posts(store: Store, workspace: Workspace, now: dt.datetime) -> list[tuple[str, str]]:
    """(campaign, channel) pairs whose social post is due and not all posted yet. Only
    campaigns that declare [social.*] posts are posted by `engage run`."""
    from .social.posting import due_channels
    from .store.schema import posts

    with store.connect() as connection:
        done = {
            (c, ch)
            for c, ch, status in connection.execute(
                sa.select(posts.c.campaign, posts.c.channel, posts.c.status)
            )
            if status != "pending"
        }
    pairs = []
    for campaign in campaign_files.all_campaigns(workspace):
        if isinstance(campaign, EngageError):
            continue
        pairs += [(campaign.slug, name) for name in due_channels(workspace, campaign, now, done)]
    return pairs


def run(
    store: Store,
    workspace: Workspace,
    now: dt.datetime | None = None,
    options: Options | None = None,
) -> RunSummary:
    options = options or Options()
    summary = RunSummary()
    with run_lock(store):
        for slug in due(store, workspace, now or core.now()):
            try:
                campaign = campaign_files.load(workspace, slug)
                sender = Sender(store, workspace, campaign, provider_for(workspace), options)
                summary.reports.append(sender.run())
            except EngageError as exc:
                summary.errors.append(f"{slug}: {exc}")
            if summary.reports and summary.reports[-1].stopped:
                return summary  # asked to stop: nothing more this run
        try:
            posting_due = due_posts(store, workspace, now or core.now())
        except EngageError as exc:
            summary.errors.append(str(exc))
            posting_due = []
        for slug, name in posting_due:
            summary.errors += _post(store, workspace, slug, name, summary)
        _fetch_replies(store, workspace, summary)
        _keep_contributors_informed(store, workspace, summary)
    return summary


def _fetch_replies(store: Store, workspace: Workspace, summary: RunSummary) -> None:
    """Replies from every source engage.toml sets up: the shared mailbox and social channels
    (the inbound webhooks need no fetching)."""
    if workspace.config.replies.imap is not None:
        from .replies.imap import fetch as fetch_imap

        fetched = fetch_imap(store, workspace)
        summary.replies += fetched.new
        if fetched.problem:
            summary.errors.append(f"replies from imap: {fetched.problem}")
    if workspace.config.social:
        from .social.replies import fetch_all

        for result in fetch_all(store, workspace):
            summary.replies += result.new
            if result.problem:
                summary.errors.append(f"replies from {result.channel}: {result.problem}")


def _keep_contributors_informed(store: Store, workspace: Workspace, summary: RunSummary) -> None:
    """Open stories for story replies, say "your story went out", and (with [followups]
    auto = true) send the updates that are owed."""
    from .stories import service

    try:
        told = service.catch_up(store, workspace)
        if workspace.config.followups.auto:
            told.add(service.send_followups(store, workspace, signer(workspace)))
    except EngageError as exc:
        summary.errors.append(f"stories: {exc}")
        return
    summary.story_emails += len(told.sent)
    summary.errors += told.problems


def _post(
    store: Store, workspace: Workspace, slug: str, name: str, summary: RunSummary
) -> list[str]:
    from .social import posting

    try:
        campaign = campaign_files.load(workspace, slug)
        [plan] = posting.plans(workspace, campaign, [name])
        posting.require_valid([plan])
        posting.require_page(store, workspace, campaign, [plan])
        outcome = posting.post(store, campaign, plan)
    except EngageError as exc:
        return [f"{slug} on {name}: {exc}"]
    summary.posts += len(outcome.posted)
    return [f"{slug} on {name}: {p}" for p in outcome.problems]
