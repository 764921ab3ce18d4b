"""`engage run`, for cron: take a lock, send what is due, carry on interrupted sends, report.

The run lock makes overlapping runs safe: the second one does nothing, and that is not a
problem (a long send keeps the first busy). Each campaign is sent under its own lock too, the
one `engage send` takes, so a campaign being sent from a terminal is left alone.

What `engage run` sends: campaigns whose send time has passed and that were never sent (the
time a person set with the console or `engage campaigns schedule`, else the file's send_at:
send_status.send_time), and sends that were interrupted (their sender ended without finishing
and without anyone stopping it: killed, the power went, SIGTERM). Never a send a person
stopped: only `engage send CAMPAIGN --resume` carries that on, and nothing carries on one a
person cancelled. Every campaign file it cannot read is a problem.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import campaigns as campaign_files
from . import clock, journal
from .config import Workspace
from .errors import EngageError, sentence
from .locks import Busy, hold
from .outgoing_claims import has_work
from .send_status import Due, due
from .store import Store

if TYPE_CHECKING:
    from .sending import Options, Report

# Each action is imported where it runs: with nothing due, `engage run` loads none of sending,
# rendering or replies.

LOCK_NAME = "engage-run"
RUN_BUSY = "another `engage run`{who} is working right now, so this one did nothing."
SIGNALS = ("SIGINT", "SIGTERM")

__all__ = ["Busy", "Due", "RunSummary", "due", "run", "run_lock"]


@contextmanager
def run_lock(store: Store, name: str = LOCK_NAME) -> Iterator[str]:
    """The lock one `engage run` holds; Busy when another run has it."""
    with hold(store, name, RUN_BUSY) as held:
        yield held.owner


@dataclass
class RunSummary:
    reports: list[Report] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)  # campaigns another process is sending
    posts: int = 0
    replies: int = 0  # new replies fetched
    story_emails: int = 0  # emails to contributors (thanks, "it went out", follow-ups)
    own_emails: int = 0  # engage's own emails the web app queued (outgoing.py)
    webhook_problems: int = 0  # provider events in the last day engage could not use

    @property
    def ok(self) -> bool:
        return not self.errors and not any(r.problems for r in self.reports)

    @property
    def stopped(self) -> str:
        """The signal that stopped this run, when one did."""
        return next((r.stopped for r in self.reports if r.stopped in SIGNALS), "")

    def line(self) -> str:
        sent = sum(r.this_run for r in self.reports)
        worked = self.reports or self.errors or self.elsewhere
        if not (
            worked
            or self.posts
            or self.replies
            or self.story_emails
            or self.own_emails
            or self.webhook_problems
        ):
            return "engage run: nothing was due."
        parts = [f"{len(self.reports)} campaign(s) worked on, {sent} message(s) handed over"]
        if self.elsewhere:
            parts.append(
                "left alone because another engage is sending it: " + ", ".join(self.elsewhere)
            )
        if self.posts:
            parts.append(f"{self.posts} social post(s) made")
        if self.replies:
            parts.append(f"{self.replies} new repl{'y' if self.replies == 1 else 'ies'}")
        if self.story_emails:
            parts.append(f"{self.story_emails} email(s) to story contributors")
        if self.own_emails:
            parts.append(f"{self.own_emails} email(s) the web app queued (like sign-up links)")
        if self.webhook_problems:
            parts.append(
                f"{self.webhook_problems} provider event(s) in the last day engage could not "
                "read or match to their own person (engage webhooks problems lists them)"
            )
        parts += [r.stop_note for r in self.reports if r.stop_note]
        problems = self.errors + [p for r in self.reports for p in r.problems]
        if problems:
            parts.append(f"{len(problems)} problem(s): " + " | ".join(problems))
        return sentence("engage run: " + "; ".join(parts))  # a problem may end with "." itself


def due_posts(store: Store, workspace: Workspace, now: dt.datetime) -> list[tuple[str, str]]:
    """(campaign, channel) pairs whose social post is due and not all posted yet. Only
    campaigns that declare [social.*] posts are posted by `engage run`, so without one
    posting's modules are not even loaded."""
    declared = [
        campaign
        for campaign in campaign_files.all_campaigns(workspace)
        if not isinstance(campaign, EngageError)  # `due` reports errors
        and (campaign.meta.social or _versions_post(workspace, campaign))
    ]
    if not declared:
        return []
    from .social.posting import due
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
    for campaign in declared:
        pairs += due(workspace, campaign, now, done)  # its own posts, and its translations'
    return pairs


def _versions_post(workspace: Workspace, campaign: campaign_files.Campaign) -> bool:
    """Whether a version of the campaign (a translation) has [social.*] tables of its own."""
    try:
        found = campaign_files.versions(workspace, campaign)
    except EngageError:
        return True  # posting.due names it, so the run reports why
    return any("social" in version.own_keys and version.meta.social for version in found)


def run(
    store: Store,
    workspace: Workspace,
    now: dt.datetime | None = None,
    options: Options | None = None,
) -> RunSummary:
    summary = RunSummary()
    with run_lock(store):
        _send_own_emails(store, workspace, summary)
        found = due(store, workspace, now or clock.now())
        summary.errors += found.unreadable
        summary.elsewhere += found.elsewhere
        for slug in found.slugs:
            _send(store, workspace, slug, options, summary)
            if summary.stopped:
                return summary  # a signal: nothing more this run
        try:
            posting_due = due_posts(store, workspace, now or clock.now())
        except EngageError as exc:
            summary.errors.append(str(exc))
            posting_due = []
        for slug, name in posting_due:
            summary.errors += _post(store, workspace, slug, name, summary)
        _fetch_replies(store, workspace, summary)
        _keep_contributors_informed(store, workspace, summary)
        summary.webhook_problems = _webhook_problems(store, now or clock.now())
    return summary


def _send(
    store: Store, workspace: Workspace, slug: str, options: Options | None, summary: RunSummary
) -> None:
    from .providers import provider_for
    from .workflow.sending import send_due

    try:  # contributors are told at the end of the run
        summary.reports.append(send_due(store, workspace, slug, provider_for(workspace), options))
    except Busy as exc:  # `engage send` took it a moment ago
        summary.elsewhere.append(f"{slug} ({exc.owner and journal.shown(exc.owner)})")
    except EngageError as exc:
        summary.errors.append(f"{slug}: {exc}")


def _webhook_problems(store: Store, now: dt.datetime) -> int:
    """Provider events in the last day engage could not use."""
    from .webhooks.store import problems

    with store.connect() as connection:
        return len(problems(connection, now - dt.timedelta(days=1)))


def _send_own_emails(store: Store, workspace: Workspace, summary: RunSummary) -> None:
    """The emails the web app queued (sign-up links, story emails): cron setups with no
    `engage serve` worker send them here."""
    if not has_work(store):
        return
    from .workflow.own_emails import send_own_emails

    drained = send_own_emails(store, workspace)
    summary.own_emails += drained.sent
    summary.errors += drained.problems


def _fetch_replies(store: Store, workspace: Workspace, summary: RunSummary) -> None:
    """Replies from every source engage.toml sets up: the shared mailbox and social channels
    (the inbound webhooks need no fetching). Contributors are informed at the end of the run."""
    settings = workspace.config
    mailbox, social = settings.replies.imap is not None, bool(settings.social)
    if not (mailbox or social):
        return
    from .workflow.replies import fetch_replies

    fetched = fetch_replies(store, workspace, mailbox=mailbox, social=social, inform=False)
    summary.replies += fetched.new
    summary.errors += [f"replies from {problem}" for problem in fetched.problems()]


def _keep_contributors_informed(store: Store, workspace: Workspace, summary: RunSummary) -> None:
    """Open stories for story replies, say "your story went out", and (with [followups]
    auto = true) send the updates that are owed."""
    from .workflow.stories import keep_contributors_informed, owed

    if not owed(store, workspace, followups=True):
        return
    try:
        told = keep_contributors_informed(store, workspace, followups=True)
    except EngageError as exc:
        summary.errors.append(f"stories: {exc}")
        return
    summary.story_emails += len(told.sent)
    summary.errors += told.problems


def _post(
    store: Store, workspace: Workspace, slug: str, name: str, summary: RunSummary
) -> list[str]:
    from .social import posting  # posting's text rules load only when something is due
    from .workflow import posting as workflow_posting

    try:
        campaign = campaign_files.load(workspace, slug)
        [plan] = workflow_posting.plans(workspace, campaign, [name])
        posting.require_valid([plan])
        posting.require_page(store, workspace, campaign, [plan])
        [outcome] = workflow_posting.post_campaign(
            store, workspace, campaign, [plan], inform=False
        ).outcomes
    except EngageError as exc:
        return [f"{slug} on {name}: {exc}"]
    summary.posts += len(outcome.posted)
    return [f"{slug} on {name}: {p}" for p in outcome.problems]
