"""Commands for campaigns: build, preview, lint, and `campaigns list`, `schedule` and
`unschedule`."""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path

import click

from .. import campaigns as campaign_files
from ..errors import CampaignError
from ..render.build import build as build_campaign
from ..render.build import sample_recipient, write
from ..send_status import CampaignState, campaign_states
from ..workflow.lint import lint as lint_campaign
from ..workflow.sending import lint_summary as summary
from ..workflow.sending import ready
from .common import format_finding, format_option, store, table, workspace

out_option = click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder to write to. Default: build/SLUG in the workspace.",
)


@click.command()
@click.argument("campaign")
@out_option
@click.pass_context
def build(ctx: click.Context, campaign: str, out: str | None) -> None:
    """Render CAMPAIGN (a slug or a path) for a sample recipient and write the files."""
    for path in _build(ctx, campaign, out):
        click.echo(path)


def _build(ctx: click.Context, ref: str, out: str | None) -> list[Path]:
    ws = workspace(ctx)
    campaign = campaign_files.load(ws, ref)
    built = build_campaign(ws, campaign)
    folder = Path(out) if out else ws.root / "build" / campaign.name  # slug.cy for a version
    return write(built, sample_recipient(ws, campaign), folder)


@click.command()
@click.argument("campaign")
@out_option
@click.pass_context
def preview(ctx: click.Context, campaign: str, out: str | None) -> None:
    """Build CAMPAIGN and open it in your web browser."""
    paths = _build(ctx, campaign, out)
    url = paths[0].resolve().as_uri()
    if webbrowser.open(url):
        click.echo(f"Opened {url} in your browser.")
    else:
        click.echo(f"No browser here. Open this address to see the email:\n{url}")
    for path in paths[1:]:
        click.echo(f"Also built: {path.resolve().as_uri()}")


@click.command()
@click.argument("campaign")
@format_option("text", "json")
@click.pass_context
def lint(ctx: click.Context, campaign: str, fmt: str) -> None:
    """Check CAMPAIGN for accessibility, readability and required parts.

    Exits 1 when any finding is an error, or when a send now would be refused all the same
    (its audience has nobody in it): the campaign cannot be sent until it is fixed.
    """
    ws = workspace(ctx)
    findings = lint_campaign(ws, campaign_files.load(ws, campaign))
    if fmt == "json":
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        for finding in findings:
            click.echo(format_finding(finding))
        click.echo(summary(findings))
    if not ready(findings):
        ctx.exit(1)


@click.group()
def campaigns() -> None:
    """The campaigns in this workspace."""


@campaigns.command("list")
@format_option("table", "json")
@click.pass_context
def list_campaigns(ctx: click.Context, fmt: str) -> None:
    """Show each campaign's slug, subject, kind, send time, status and how many were sent.

    The send time is the one set with `engage campaigns schedule` (or the console), else the
    file's send_at; a note under the table names each time a person set. Status is draft (no
    send time), scheduled (engage run sends it then), sending (an engage is sending it now),
    stopped (a person stopped it: `engage send CAMPAIGN --resume` carries it on), cancelled
    (a person cancelled it: nothing carries it on), interrupted (its sender ended part way:
    engage run carries it on) or sent.
    """
    found = campaign_files.all_campaigns(workspace(ctx))
    good = [c for c in found if not isinstance(c, CampaignError)]
    states = campaign_states(store(ctx), good) if good else {}
    rows = [_row(c, states[c.slug]) for c in good]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif rows:
        shown = [{**r, "sent": f"{r['sent']} of {r['total']}" if r["total"] else ""} for r in rows]
        click.echo(table(["slug", "subject", "kind", "send_at", "status", "sent"], shown))
        for c in good:
            note = schedule_note(c, states[c.slug])
            if note:
                click.echo(note)
    else:
        click.echo("No campaigns yet. Add a Markdown file to campaigns/.")
    broken = [c for c in found if isinstance(c, CampaignError)]
    for error in broken:
        click.echo(f"Error: {error}", err=True)
    if broken:
        ctx.exit(1)


def _row(campaign: campaign_files.Campaign, state: CampaignState) -> dict[str, object]:
    schedule = state.schedule
    return {
        "slug": campaign.slug,
        "subject": campaign.meta.subject,
        "kind": campaign.meta.kind,
        "send_at": state.send_at.isoformat() if state.send_at else "",
        "status": state.status,
        "sent": state.sent,
        "total": state.total,
        "scheduled_by": schedule.by if schedule else "",
    }


def schedule_note(campaign: campaign_files.Campaign, state: CampaignState) -> str:
    """A line on a time a person set (it wins over the file's send_at); "" when none."""
    schedule = state.schedule
    if schedule is None or state.went_out:
        return ""
    said = campaign.meta.send_at
    file = f"its file's send_at, {said.isoformat()}, is not used" if said else "its file has none"
    on = campaign_files.when_text(schedule.at)
    if schedule.send_at is None:
        return (
            f"{campaign.slug}: unscheduled by {schedule.by} on {on}: nothing sends it by "
            f"itself ({file})."
        )
    return f"{campaign.slug}: send time set by {schedule.by} on {on} ({file})."


@campaigns.command("schedule")
@click.argument("campaign")
@click.argument("when")
@click.pass_context
def schedule(ctx: click.Context, campaign: str, when: str) -> None:
    """Send CAMPAIGN at WHEN (like 2026-12-10T10:00Z), by `engage run` or `engage serve`.

    This time wins over the send_at in the campaign's file, until you change it again here
    or in the console.
    """
    from ..sending import schedule as schedules
    from ..team.audit import command_line

    found = campaign_files.load(workspace(ctx), campaign)
    at = schedules.parse_when(when)
    schedules.schedule(store(ctx), found.slug, at, command_line())
    click.echo(
        f"{found.slug} is scheduled for {campaign_files.when_text(at)}. "
        "`engage run` (or the worker of `engage serve`) sends it then."
    )


@campaigns.command("unschedule")
@click.argument("campaign")
@click.pass_context
def unschedule(ctx: click.Context, campaign: str) -> None:
    """Take CAMPAIGN off the schedule: nothing sends it by itself, whatever its file's send_at
    says, until you schedule it again (or send it with `engage send`)."""
    from ..sending import schedule as schedules
    from ..team.audit import command_line

    found = campaign_files.load(workspace(ctx), campaign)
    schedules.unschedule(store(ctx), found.slug, command_line())
    click.echo(
        f"{found.slug} is not scheduled: nothing sends it by itself. To send it, run "
        f"`engage campaigns schedule {found.slug} WHEN` or `engage send {found.slug}`."
    )


def register(cli: click.Group) -> None:
    for command in (build, preview, lint, campaigns):
        cli.add_command(command)
