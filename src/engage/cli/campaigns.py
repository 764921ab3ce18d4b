"""Commands for campaigns: build, preview, lint, and `campaigns list`."""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path

import click

from .. import campaigns as campaign_files
from ..errors import CampaignError
from ..render.build import build as build_campaign
from ..render.build import sample_recipient, write
from ..render.findings import Finding
from ..render.rules_audience import REFUSED_BY_SEND
from ..send_status import campaign_states
from ..workflow.lint import lint as lint_campaign
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
    folder = Path(out) if out else ws.root / "build" / campaign.slug
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
    if any(f.severity == "error" for f in findings) or _refused_by_send(findings):
        ctx.exit(1)


def summary(findings: list[Finding]) -> str:
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}."
    if errors:
        return f"{counts} Fix the errors before this campaign can be sent."
    if _refused_by_send(findings):
        return f"{counts} Not ready to send: it would go to nobody now, and a send is refused."
    return f"{counts} Ready to send."


def _refused_by_send(findings: list[Finding]) -> bool:
    """A warning that a real send refuses all the same (an empty audience): a test copy may
    still go, so it is not an error, but lint does not say the campaign is ready."""
    return any(f.rule in REFUSED_BY_SEND for f in findings)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@click.group()
def campaigns() -> None:
    """The campaigns in this workspace."""


@campaigns.command("list")
@format_option("table", "json")
@click.pass_context
def list_campaigns(ctx: click.Context, fmt: str) -> None:
    """Show each campaign's slug, subject, kind, send time, status and how many were sent.

    Status is draft (no send_at), scheduled (engage run sends it at send_at), sending (an
    engage is sending it now), stopped (a person stopped it: `engage send CAMPAIGN --resume`
    carries it on), interrupted (its sender ended part way: engage run carries it on) or sent.
    """
    found = campaign_files.all_campaigns(workspace(ctx))
    good = [c for c in found if not isinstance(c, CampaignError)]
    states = campaign_states(store(ctx), good) if good else {}
    rows = [
        {
            "slug": c.slug,
            "subject": c.meta.subject,
            "kind": c.meta.kind,
            "send_at": c.meta.send_at.isoformat() if c.meta.send_at else "",
            "status": states[c.slug].status,
            "sent": states[c.slug].sent,
            "total": states[c.slug].total,
        }
        for c in good
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif rows:
        shown = [{**r, "sent": f"{r['sent']} of {r['total']}" if r["total"] else ""} for r in rows]
        click.echo(table(["slug", "subject", "kind", "send_at", "status", "sent"], shown))
    else:
        click.echo("No campaigns yet. Add a Markdown file to campaigns/.")
    broken = [c for c in found if isinstance(c, CampaignError)]
    for error in broken:
        click.echo(f"Error: {error}", err=True)
    if broken:
        ctx.exit(1)


def register(cli: click.Group) -> None:
    for command in (build, preview, lint, campaigns):
        cli.add_command(command)
