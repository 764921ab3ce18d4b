"""`engage send` and `engage run`."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from .. import campaigns as campaign_files
from ..send_status import send_time_of
from .common import format_finding, report_told, store, workspace

if TYPE_CHECKING:
    from ..email.base import Outcome, Provider
    from ..sending import Options, Report, Sender

# Sending's modules are imported in the functions that use them, so `engage run` with
# nothing due does not load them (see cli/__init__.py).

STOPPED_EXIT = {"SIGINT": 130, "SIGTERM": 143, "asked": 1}  # the shell's codes for the signals


@click.command()
@click.argument("campaign")
@click.option("--dry-run", is_flag=True, help="Render every message and send nothing.")
@click.option(
    "--test-to",
    metavar="ADDRESS",
    help="Send one copy marked [Test] to ADDRESS, with a name if you like "
    '("Zoë Brontë <zoe@example.org>"); record nothing.',
)
@click.option(
    "--force", is_flag=True, help="With --test-to: send the test copy even with lint errors."
)
@click.option("--limit", type=click.IntRange(min=1), help="Send at most N messages this time.")
@click.option("--now", is_flag=True, help="Send now, even before the campaign's send_at.")
@click.option(
    "--stop",
    is_flag=True,
    help="Stop this campaign's send, which is running elsewhere, after its current batch.",
)
@click.option(
    "--cancel",
    is_flag=True,
    help="Stop this campaign's send for good: nothing carries it on, not even --resume.",
)
@click.option(
    "--resume", is_flag=True, help="Carry on a send that was stopped (--stop, Ctrl-C, --limit)."
)
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
def send(ctx: click.Context, campaign: str, **flags: object) -> None:
    """Send CAMPAIGN to its audience, exactly once per person.

    Runs lint first: errors stop the send. Before the campaign's send time (its send_at, or
    the time set with `engage campaigns schedule`) it asks whether to send now instead (with
    --yes, add --now). Ctrl-C, or `engage send CAMPAIGN --stop` from another terminal, stops
    it after the batch in hand: it is then stopped, and only --resume carries it on.
    `--cancel` stops it for good: nothing carries it on. A send that was killed carries on
    when you run this again (or at the next `engage run`).

    Several `engage send` of one campaign, on this computer or on others sharing one
    PostgreSQL database, share the work: each sends its own batches, and nobody gets it twice.

    Exits 0 when it is sent (or --limit was reached), 1 on a problem, a refusal or a stop
    asked with --stop, 75 when another engage is sending this campaign and this one must wait
    (--resume, --resend-unknown, --reconcile), 130 after Ctrl-C and 143 after SIGTERM.
    """
    from ..providers import provider_for
    from ..sending import Sender
    from ..workflow import sending as workflow

    ws = workspace(ctx)
    found = campaign_files.load(ws, campaign)
    _check_together(flags)
    if flags["stop"] or flags["cancel"]:
        _stop(ctx, found.slug, cancel=bool(flags["cancel"]))
        return
    provider = provider_for(ws)
    if flags["reconcile"]:
        _reconcile(ctx, Sender(store(ctx), ws, found, provider))
        return
    if flags["test_to"]:
        _test_copy(ctx, found, provider, str(flags["test_to"]), bool(flags["force"]))
        return
    _send(ctx, workflow.sender(store(ctx), ws, found, provider, _options(flags)), flags)


ALONE = {
    "stop": "--stop only asks the send to stop: use it on its own.",
    "cancel": "--cancel only asks the send to stop for good: use it on its own.",
    "reconcile": "--reconcile only asks the provider and sends nothing: use it on its own, "
    "then send.",
}


def _check_together(flags: dict[str, object]) -> None:
    for flag, message in ALONE.items():
        others = [k for k, v in flags.items() if v and k not in (flag, "yes")]
        if flags[flag] and others:
            raise click.UsageError(message)
    if flags["force"] and not flags["test_to"]:
        raise click.UsageError(
            "--force only goes with --test-to: a real send never goes with lint errors."
        )


def _options(flags: dict[str, object]) -> Options:
    from ..sending import Options

    return Options(
        dry_run=bool(flags["dry_run"]),
        limit=flags["limit"],  # type: ignore[arg-type]
        resend_unknown=bool(flags["resend_unknown"]),
        resume=bool(flags["resume"]),
        join=True,  # several `engage send` share one campaign, each claiming its own batches
    )


def _send(ctx: click.Context, sender: Sender, flags: dict[str, object]) -> None:
    from ..sending import SendError
    from ..workflow import sending as workflow

    dry_run = sender.options.dry_run
    workflow.check(sender)  # lint first: its refusals, in its words, before any question
    early = _early(sender)
    if early and flags["yes"] and not flags["now"] and not dry_run:
        raise SendError(
            f"{sender.campaign.slug} is scheduled for {_when(sender)}, and `engage run` sends "
            "it then. To send it now instead, add --now."
        )
    if not flags["yes"] and not dry_run:
        _confirm(ctx, sender, early)
    try:
        sent = workflow.send_campaign(store(ctx), sender, progress=_progress())
    except KeyboardInterrupt:  # before the send began, or a second Ctrl-C during it
        slug = sender.campaign.slug
        said = _stopped_at_once(slug) if sender.started else "Stopped: nothing was sent."
        click.echo(said, err=True)
        ctx.exit(130)
    report = sent.report
    for line in describe(report, sender.provider.name, dry_run):
        click.echo(line)
    untold = report_told(sent.told)  # contributors whose story went out
    if report.stop_note:
        click.echo(report.stop_note)
    for problem in report.problems:
        click.echo(f"Problem: {problem}", err=True)
    if report.stopped:
        ctx.exit(STOPPED_EXIT[report.stopped])
    if report.problems or untold:
        ctx.exit(1)


def _early(sender: Sender) -> bool:
    """Sending now would be before its send time, and the send has not started yet."""
    from .. import clock

    when = send_time_of(sender.store, sender.campaign)
    return when is not None and when > clock.now() and sender.sent_before() is None


def _when(sender: Sender) -> str:
    return campaign_files.when_text(send_time_of(sender.store, sender.campaign))  # type: ignore[arg-type]


def _stopped_at_once(slug: str) -> str:
    return (
        f"Stopped at once by a second Ctrl-C. {slug} is stopped. Anything that was with the "
        f"provider at that moment is recorded as unknown, never sent twice. To send the rest, "
        f"run `engage send {slug} --resume`."
    )


def _stop(ctx: click.Context, slug: str, cancel: bool) -> None:
    from ..contacts import core
    from ..sending.stopping import ask_to_stop
    from ..team.audit import command_line

    answer = ask_to_stop(store(ctx), slug, core.actor(), actor=command_line(), cancel=cancel)
    rest = f"To send the rest, run `engage send {slug} --resume`."
    if cancel:
        _cancelled(slug, answer)
    elif answer.outcome == "finished":
        click.echo(f"{slug} finished before it could stop: {answer.sent} of {answer.total} went.")
    elif answer.outcome == "asked":
        click.echo(
            f"Asked the send of {slug} to stop. It is waiting for the answer to the batch it is "
            "sending, and stops once that is recorded. `engage campaigns list` shows when it "
            f"has stopped. {rest}"
        )
    else:
        already = "was already stopped" if answer.outcome == "already" else "is stopped"
        by = f" (by {answer.by})" if answer.outcome == "already" and answer.by else ""
        click.echo(
            f"{slug} {already}{by}: {answer.sent} of {answer.total} went. Nobody will get it "
            f"twice. {rest} `engage run` leaves it alone until then."
        )


def _cancelled(slug: str, answer) -> None:  # noqa: ANN001 - a stopping.StopAnswer
    if answer.outcome == "finished":
        click.echo(f"{slug} finished before it could stop: {answer.sent} of {answer.total} went.")
        return
    went = f"{answer.sent} of {answer.total} went"
    if answer.outcome == "already":
        by = f" by {answer.by}" if answer.by else ""
        click.echo(f"{slug} was already cancelled{by}: {went}.")
    elif answer.outcome == "asked":
        click.echo(
            f"Cancelled {slug}: its send stops once the batch it is sending is recorded. "
            "`engage campaigns list` shows when it has stopped. Nothing carries it on."
        )
    else:
        click.echo(
            f"{slug} is cancelled: {went}. Nobody will get it twice, and nothing carries it "
            "on: not `engage run`, not the console, not --resume."
        )


def _reconcile(ctx: click.Context, sender: Sender) -> None:
    from ..errors import CannotReconcile

    slug = sender.campaign.slug
    try:
        found = sender.check_records()
    except CannotReconcile as exc:
        raise click.ClickException(str(exc)) from None
    if found is None:
        click.echo(f"{slug} has not been sent, so there is nothing to check.")
        return
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


def _test_copy(ctx: click.Context, campaign, provider: Provider, address: str, force: bool) -> None:  # noqa: ANN001
    """One copy marked [Test]: lint errors are shown, and stop it unless --force."""
    from ..team.audit import command_line
    from ..workflow.sending import CopyRefused, send_test_copy

    ws = workspace(ctx)
    try:
        copy = send_test_copy(
            store(ctx), ws, campaign, provider, address, force=force, actor=command_line()
        )
    except CopyRefused as exc:
        for finding in exc.errors:
            click.echo(format_finding(finding), err=True)
        raise click.ClickException(
            f"{campaign.slug} has {exc.count}, shown above. Fix them, or add --force to send the "
            "test copy anyway."
        ) from None
    for finding in copy.errors:
        click.echo(format_finding(finding), err=True)
    outcome = copy.outcome
    if not outcome.sent:
        raise click.ClickException(f"The test copy was refused: {outcome.error}")
    click.echo(f"Sent a test copy of {campaign.name} to {address} through {provider.name}.")
    click.echo(_where(ws, provider, outcome, address))
    if copy.errors:
        count = f"{len(copy.errors)} lint error{'' if len(copy.errors) == 1 else 's'}"
        click.echo(f"It has {count}: the real send refuses to go until they are fixed.")


def _where(ws, provider: Provider, outcome: Outcome, address: str) -> str:  # noqa: ANN001
    if provider.name == "outbox":
        return f"It is the file {ws.root / outcome.provider_id}"
    said = f" Its id there is {outcome.provider_id}." if outcome.provider_id else ""
    return f"{provider.name} took it, to deliver to {address}.{said}"


def _confirm(ctx: click.Context, sender: Sender, early: bool) -> None:
    campaign = sender.campaign
    plan = sender.plan()
    click.echo(f"Subject:  {campaign.meta.subject}")
    click.echo(f"Audience: {campaign.meta.audience} ({_people(plan)})")
    click.echo(f"Provider: {sender.provider.name}")
    click.echo(f"When:     {_timing(sender, early)}")
    question = (
        f"It is scheduled for {_when(sender)}. Send it now instead?" if early else "Send it now?"
    )
    try:
        sure = click.confirm(question)
    except click.Abort:  # Ctrl-C at the question
        click.echo("\nNothing was sent.")
        ctx.exit(130)
    if not sure:
        click.echo("Nothing was sent.")
        ctx.exit(1)


def _people(plan) -> str:  # noqa: ANN001
    from .. import recipients

    going = f"{len(plan.going)} {'person' if len(plan.going) == 1 else 'people'}"
    said = f"{going} to send to now" if plan.started else f"{going} will get it"
    if plan.started:
        said += "; anyone already sent to is skipped"
    if plan.skipped:
        count = sum(plan.skipped.values())
        said += f"; {count} will be skipped: {recipients.describe(plan.skipped)}"
    return said


def _timing(sender: Sender, early: bool) -> str:
    if sender.campaign.meta.send_at is None:
        return "now (it has no send_at)"
    if early:
        return f"now, instead of {_when(sender)} as scheduled"
    return f"now (it was due on {_when(sender)})"


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
    skipped = _skipped(report)
    if dry_run:
        skip = skipped.replace(" skipped", "", 1) if report.suppressed else "nobody"
        return [
            f"Dry run: {report.campaign} would go to {report.this_run} "
            f"{'person' if report.this_run == 1 else 'people'} now, and would skip {skip}. "
            f"Rendered {report.this_run} message(s); nothing was sent."
        ]
    lines = [
        f"{report.campaign}: {report.this_run} handed to {provider} this time. "
        f"Of {report.total}: {report.sent} sent, {report.failed} failed, "
        f"{skipped}, {report.unknown} unknown, {report.pending} still to send."
    ]
    if report.finished:
        lines.append(f"{report.campaign} is sent.")
    elif report.others:
        lines.append(
            f"Still sending the rest: {', '.join(report.others)}. The last sender to finish "
            f"marks {report.campaign} sent."
        )
    return lines


def _skipped(report: Report) -> str:
    from .. import recipients

    if not report.suppressed:
        return "0 skipped"
    return f"{report.suppressed} skipped ({recipients.describe(report.skipped_because)})"


@click.command("run")
@click.option(
    "--quiet",
    is_flag=True,
    help="Print nothing unless something went wrong (for cron). Another run at work is not "
    "wrong: then it prints nothing and exits 0.",
)
@click.pass_context
def run_(ctx: click.Context, quiet: bool) -> None:
    """Do everything that is due: send the emails the web app queued (like sign-up links), send
    campaigns whose send_at has passed, carry on sends that were interrupted (never ones a
    person stopped), post, fetch replies.

    For cron. Safe to run twice at once: the second run does nothing and exits 0 (with --quiet
    it prints nothing). Exits 1 if any part failed, and reports every campaign file it cannot
    read; 130 or 143 when Ctrl-C or SIGTERM stopped it.
    """
    from .. import scheduler
    from ..locks import Busy

    try:
        summary = scheduler.run(store(ctx), workspace(ctx))
    except Busy as exc:
        if not quiet:
            click.echo(f"engage run: {exc} That is normal during a long send.")
        return
    if not summary.ok or summary.stopped:
        click.echo(summary.line(), err=True)
        ctx.exit(STOPPED_EXIT.get(summary.stopped, 1))
    if not quiet:
        click.echo(summary.line())


def register(cli: click.Group) -> None:
    cli.add_command(send)
    cli.add_command(run_)
