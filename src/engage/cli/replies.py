"""`engage replies`: collecting replies from where they arrive."""

from __future__ import annotations

import click

from .common import store, workspace


@click.group()
def replies() -> None:
    """Replies from every channel, in one place."""


@replies.command()
@click.option(
    "--social", is_flag=True, help="Collect replies and mentions from the social channels."
)
@click.pass_context
def fetch(ctx: click.Context, social: bool) -> None:
    """Collect replies that are waiting. Email replies arrive by the providers' webhooks."""
    if not social:
        raise click.UsageError("Say where from: --social (email replies arrive by webhook).")
    from ..social.replies import fetch_all

    problems = 0
    for result in fetch_all(store(ctx), workspace(ctx)):
        if result.problem:
            click.echo(f"Problem: {result.channel}: {result.problem}", err=True)
            problems += 1
        else:
            click.echo(f"{result.channel}: {result.new} new, {result.seen} already here.")
    if problems:
        ctx.exit(1)


def register(cli: click.Group) -> None:
    cli.add_command(replies)
