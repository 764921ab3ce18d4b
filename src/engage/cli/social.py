"""`engage post`: social posts, checked, priced where a network charges, posted once."""

from __future__ import annotations

import click

from .. import campaigns as campaign_files
from .common import report_told, store, workspace


@click.command()
@click.argument("campaign")
@click.option(
    "--channel",
    "channels",
    multiple=True,
    help="Post only to this channel ([social.NAME] in engage.toml). Repeat for more.",
)
@click.option("--dry-run", is_flag=True, help="Check and show the posts; post nothing.")
@click.option("--yes", is_flag=True, help="Do not ask before posting (or before paying for X).")
@click.pass_context
def post(
    ctx: click.Context, campaign: str, channels: tuple[str, ...], dry_run: bool, yes: bool
) -> None:
    """Post CAMPAIGN to its social channels, each part once.

    Every post is checked first (length the way each network counts it, alt text on every
    image, a [social.NAME] table for each channel named); any error means nothing is posted.
    A translation (CAMPAIGN.cy.md) with [social.NAME] tables of its own posts those too, in
    its language. A post that links to the newsletter's web page waits until the campaign is
    sent. Running it again posts only what is missing.
    """
    from ..social import posting
    from ..workflow import posting as workflow_posting

    ws = workspace(ctx)
    found = campaign_files.load(ws, campaign)
    plans = workflow_posting.plans(ws, found, list(channels) or None, versions=True)
    several = len({plan.language for plan in plans}) > 1
    shown = ""
    for plan in plans:
        if several and plan.language != shown:
            shown = plan.language
            click.echo(f"In {shown}:")
        limits = plan.channel.limits()
        for part in plan.parts:
            measured = plan.channel.measure(part.text)
            click.echo(
                f"{plan.channel.name} ({plan.channel.network}), post {part.index + 1}: "
                f"{measured} of {limits.max_length} {limits.unit}, {len(part.images)} image(s)"
            )
            if dry_run:
                click.echo("    " + part.text.replace("\n", "\n    "))
        for warning in plan.warnings:
            click.echo(f"Warning: {warning}", err=True)
    posting.require_valid(plans)
    if dry_run:
        waiting = posting.page_problem(store(ctx), ws, found, plans)
        if waiting:
            click.echo(f"Note: posting now would be refused: {waiting}", err=True)
        click.echo("Dry run: nothing was posted.")
        return
    posting.require_page(store(ctx), ws, found, plans)
    costs = [(p.name, p.channel.cost(p.parts)) for p in plans]
    for name, cost in costs:
        if cost:
            click.echo(
                f"Posting to {name} costs about ${cost:.3f} (X charges per post, more with a link)."
            )
    if not yes:
        click.confirm("Post now?", abort=True)
    posts = workflow_posting.post_campaign(store(ctx), ws, found, plans)
    problems = 0
    for outcome in posts.outcomes:
        for done in outcome.posted:
            click.echo(f"Posted to {outcome.name}: {done.url}")
        if outcome.already and not outcome.posted:
            click.echo(f"{outcome.name}: already posted.")
        for problem in outcome.problems:
            click.echo(f"Problem: {problem}", err=True)
        problems += len(outcome.problems)
    problems += report_told(posts.told)
    if problems:
        ctx.exit(1)


def register(cli: click.Group) -> None:
    cli.add_command(post)
