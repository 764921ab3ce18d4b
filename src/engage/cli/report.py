"""`engage report CAMPAIGN`: how a campaign went, as a table, JSON or a web page."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import campaigns as campaign_files
from .. import report as reports
from .. import report_page
from ..workflow.reports import campaign_report
from .common import printable, store, table, workspace


@click.command()
@click.argument("campaign")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "html"]),
    default="table",
    show_default=True,
    help="Table to read, JSON for other programs, or HTML: a web page with charts.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file instead of showing it.",
)
@click.pass_context
def report(ctx: click.Context, campaign: str, fmt: str, out: Path | None) -> None:
    """Show how CAMPAIGN went: emails, replies and the reply rate.

    Counts recipients, sent, failed, delivered, bounced, complained and unsubscribed, the
    replies of each kind, and the reply rate: the people it was sent to who wrote back
    themselves (not automatic replies or bounce notices), out of everyone it was sent to.
    docs/report.md says where each number comes from.
    """
    ws = workspace(ctx)
    result = campaign_report(ws, store(ctx), campaign_files.load(ws, campaign))
    if fmt == "json":
        text = json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "html":
        org = ws.config.organisation
        text = report_page.as_html(result, organisation=org.name, lang=org.lang)
    else:
        text = describe(result) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    report_page.save(text, out)
    click.echo(f"Wrote the report to {out}.")


def describe(result: reports.Report) -> str:
    """The report for people at a terminal: two tables and a few sentences."""
    total = sum(result.replies.values())
    lines = [
        printable(f"{result.campaign}: {result.subject}"),
        result.summary(),
        "",
        table(
            ["what", "number", "what it means"],
            [
                {
                    "what": name,
                    "number": "not available" if n is None else f"{n:,}",
                    "what it means": result.meaning(name),
                }
                for name, n in result.counts()
            ],
        ),
        "",
        table(
            ["replies", "number", "what it means"],
            [
                {"replies": kind, "number": f"{n:,}", "what it means": reports.KIND_MEANINGS[kind]}
                for kind, n in result.replies.items()
            ]
            + [{"replies": "all", "number": f"{total:,}", "what it means": ""}],
        ),
        "",
        _rate(result),
    ]
    for section in result.sections:
        lines += ["", printable(section.title)]
        lines += [printable(section.note)] if section.note else []
        rows = [{"what": label, "number": f"{n:,}"} for label, n in section.rows]
        lines.append(table(["what", "number"], rows))
    lines += [f"Note: {note}" for note in result.notes()]
    return "\n".join(lines)


def _rate(result: reports.Report) -> str:
    if result.reply_rate is None:
        return "Reply rate: none yet, because nothing was sent."
    return (
        f"Reply rate: {result.reply_rate:.1f}%. {result.replied:,} of the {result.sent:,} people "
        "it was sent to wrote back."
    )


def register(cli: click.Group) -> None:
    cli.add_command(report)
