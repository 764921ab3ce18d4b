"""`engage send` and `engage run`."""

from __future__ import annotations

import sys
import time

import click

from .. import campaigns as campaign_files
from .. import scheduler
from ..contacts import audiences
from ..email import provider_for
from ..email.base import CannotReconcile
from ..sending import Options, Report, Sender, send_test
from .common import store, workspace
from .stories import catch_up


@click.command()
@click.argument("campaign")
@click.option("--dry-run", is_flag=True, help="Render every message and send nothing.")
@click.option(
    "--test-to", metavar="ADDRESS", help="Send one copy marked [Test] to ADDRESS; record nothing."
)
@click.option("--limit", type=click.IntRange(min=1), help="Send at most N messages this time.")
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="Send again to people whose message may or may not have gone after a crash.",
)
@click.option(
    "--reconcile",
    is_flag=True,
    help="Ask the provider's own records about messages whose answer was lost; send nothing.",
)
@click.option("--yes", is_flag=True, help="Do not ask before sending.")
@click.pass_context
def send(
    ctx: click.Context,
    campaign: str,
    dry_run: bool,
    test_to: str | None,
    limit: int | None,
    resend_unknown: bool,
    reconcile: bool,
    yes: bool,
) -> None:
    """Send CAMPAIGN to its audience, exactly once per person.

    Runs lint first: errors stop the send. Running it again carries on where it stopped.
    SIGTERM or Ctrl-C stops it cleanly: what is with the provider is recorded first.
    """
    ws = workspace(ctx)
    found = campaign_files.load(ws, campaign)
    provider = provider_for(ws)
    if reconcile:
        if dry_run or test_to or limit or resend_unknown:
            raise click.UsageError(
                "--reconcile only asks the provider and sends nothing: use it on its own, "
                "then send."
            )
        _reconcile(ctx, Sender(store(ctx), ws, found, provider))
        return
    if test_to:
        outcome = send_test(ws, found, provider, test_to)
        if not outcome.sent:
            raise click.ClickException(f"The test copy was refused: {outcome.error}")
        click.echo(f"Sent a test copy of {found.slug} to {test_to} through {provider.name}.")
        return
    sender = Sender(
        store(ctx),
        ws,
        found,
        provider,
        Options(dry_run=dry_run, limit=limit, resend_unknown=resend_unknown),
    )
    if not yes and not dry_run:
        _confirm(ctx, sender)
    report = sender.run(progress=_progress())
    for line in describe(report, provider.name, dry_run):
        click.echo(line)
    untold = catch_up(ctx) if not dry_run else 0  # contributors whose story went out
    for problem in report.problems:
        click.echo(f"Problem: {problem}", err=True)
    if report.stopped:
        ctx.exit(STOPPED_EXIT[report.stopped])
    if report.problems or untold:
        ctx.exit(1)


STOPPED_EXIT = {"SIGINT": 130, "SIGTERM": 143}  # the shell's own codes for these signals


def _reconcile(ctx: click.Context, sender: Sender) -> None:
    send_id = sender.sent_before()
    if send_id is None:
        click.echo(f"{sender.campaign.slug} has not been sent, so there is nothing to check.")
        return
    try:
        sender.recover(send_id)
        found = sender.reconcile(send_id)
    except CannotReconcile as exc:
        raise click.ClickException(str(exc)) from None
    slug = sender.campaign.slug
    click.echo(
        f"{slug}: {found.sent} unknown message(s) were sent, {found.pending} were not "
        f"(pending again), {found.unknown} still unknown."
    )
    if found.note:
        click.echo(f"Problem: {found.note}", err=True)
    if found.pending:
        click.echo(f"Run `engage send {slug}` to send the {found.pending} pending.")
    if found.unknown:
        ctx.exit(1)


def _confirm(ctx: click.Context, sender: Sender) -> None:
    ws, campaign = sender.workspace, sender.campaign
    name = campaign.meta.audience or "(none)"
    count = "?"
    if campaign.meta.audience:
        with store(ctx).connect() as connection:
            count = str(audiences.count(connection, audiences.load(ws, name)))
    click.echo(f"Subject:  {campaign.meta.subject}")
    click.echo(f"Audience: {name} ({count} people now; anyone already sent to is skipped)")
    click.echo(f"Provider: {sender.provider.name}")
    click.confirm("Send it now?", abort=True)


def _progress():  # noqa: ANN202
    """A progress line with rate and time left on a terminal; a plain line per batch otherwise."""
    started = time.monotonic()

    def show(done: int, total: int) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        rate = done / elapsed
        left = (total - done) / rate if rate and total > done else 0
        line = f"{done:,} of {total:,} handed over, {rate:,.0f} a second, about {left:,.0f} s left"
        if sys.stderr.isatty():
            click.echo("\r" + line, nl=False, err=True)
        else:
            click.echo(line, err=True)

    return show


def describe(report: Report, provider: str, dry_run: bool) -> list[str]:
    if dry_run:
        return [
            f"Dry run: rendered {report.this_run} message(s) for {report.campaign}; "
            "nothing was sent."
        ]
    lines = [
        f"{report.campaign}: {report.this_run} handed to {provider} this time. "
        f"Of {report.total}: {report.sent} sent, {report.failed} failed, "
        f"{report.suppressed} skipped (unsubscribed), {report.unknown} unknown, "
        f"{report.pending} still to send."
    ]
    if report.finished:
        lines.append(f"{report.campaign} is sent.")
    return lines


@click.command("run")
@click.option("--quiet", is_flag=True, help="Print nothing unless something went wrong (for cron).")
@click.pass_context
def run_(ctx: click.Context, quiet: bool) -> None:
    """Do everything that is due: send campaigns whose send_at has passed, finish stopped sends.

    For cron. Safe to run twice at once: the second run does nothing. Exits 1 if any part failed.
    """
    summary = scheduler.run(store(ctx), workspace(ctx))
    stopped = next((r.stopped for r in summary.reports if r.stopped), "")
    if not summary.ok:
        click.echo(summary.line(), err=True)
        ctx.exit(STOPPED_EXIT[stopped] if stopped else 1)
    if not quiet:
        click.echo(summary.line())


def register(cli: click.Group) -> None:
    cli.add_command(send)
    cli.add_command(run_)
