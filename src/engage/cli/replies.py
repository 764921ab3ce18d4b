"""`engage replies`: collecting replies from where they arrive."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import ConfigError
from ..workflow.replies import fetch_replies
from .common import printable, report_told, store, workspace

if TYPE_CHECKING:
    from ..replies import imap as mailbox
    from ..replies import social as social_replies


@click.group()
def replies() -> None:
    """Replies from every channel, in one place."""


@replies.command()
@click.option(
    "--imap", is_flag=True, help="Collect replies from the shared mailbox, [replies.imap]."
)
@click.option(
    "--social", is_flag=True, help="Collect replies and mentions from the social channels."
)
@click.pass_context
def fetch(ctx: click.Context, imap: bool, social: bool) -> None:
    """Collect the replies that are waiting.

    With no option, from every source engage.toml sets up: [replies.imap] and the social
    channels. Email replies sent to a provider arrive by its webhook instead.

    Prints one line for each source, with any notes under it. A source that fails is
    reported after the others have run, and engage exits 1.
    """
    settings = workspace(ctx).config
    if not imap and not social:
        imap, social = settings.replies.imap is not None, bool(settings.social)
        if not imap and not social:
            raise ConfigError(
                "There is nowhere to fetch replies from: engage.toml has no [replies.imap] "
                "table and no [social.*] channels. Email replies sent to a provider arrive "
                "by its webhook."
            )
    fetched = fetch_replies(store(ctx), workspace(ctx), mailbox=imap, social=social)
    problems = _show_imap(fetched.mailbox) if fetched.mailbox else 0
    problems += _show_social(fetched.social)
    problems += report_told(fetched.told)  # a story reply opens a story and thanks its contributor
    if problems:
        ctx.exit(1)


def _show_imap(result: mailbox.Fetched) -> int:
    if result.waiting is not None:
        counts = f"{result.new} new, {result.seen} already here"
        counts += f", {result.refused} refused" if result.refused else ""
        counts += f", {result.failed} failed" if result.failed else ""
        click.echo(f"imap ({printable(result.where)}): {counts}.")
        for note in result.notes:
            click.echo(f"  {printable(note)}")
    if result.problem:
        click.echo(f"Problem: imap: {printable(result.problem)}", err=True)
    return 1 if result.problem else 0


def _show_social(results: list[social_replies.Fetched]) -> int:
    problems = 0
    for result in results:
        if result.problem:
            click.echo(f"Problem: {result.channel}: {result.problem}", err=True)
            problems += 1
        else:
            click.echo(f"{result.channel}: {result.new} new, {result.seen} already here.")
    return problems


def register(cli: click.Group) -> None:
    cli.add_command(replies)
