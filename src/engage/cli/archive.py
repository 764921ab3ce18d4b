"""`engage archive`: what the public archive shows, and taking a page down or putting it back."""

from __future__ import annotations

import json

import click

from .. import archive as archived
from .common import format_option, store, table, workspace


@click.group()
def archive() -> None:
    """The public archive of sent newsletters: list it, take a page down, put it back."""


@archive.command("list")
@format_option("table", "json")
@click.pass_context
def list_(ctx: click.Context, fmt: str) -> None:
    """List every sent campaign with its date, web address and whether its page is public.

    A page is public once its send reached someone, until it is taken down. Test copies
    (`engage send --test-to`) are never in the archive.
    """
    found = archived.entries(store(ctx), workspace(ctx))
    if fmt == "json":
        click.echo(json.dumps([e.as_dict() for e in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("Nothing has been sent yet, so the archive is empty.")
        return
    rows = [
        {"campaign": e.campaign, "sent": e.date, "page": e.state, "address": e.address, "": e.why}
        for e in found
    ]
    click.echo(table(list(rows[0]), rows))
    public = sum(e.state == "public" for e in found)
    click.echo(f"{public} of {len(found)} sent campaign(s) can be read in the archive.")


@archive.command()
@click.argument("campaign")
@click.option("--note", default="", help="Why it was taken down, for the team's records.")
@click.option("--yes", is_flag=True, help="Do not ask first.")
@click.pass_context
def remove(ctx: click.Context, campaign: str, note: str, yes: bool) -> None:
    """Take CAMPAIGN's page out of the public archive.

    The archive stops listing it, and its address shows a page that says it was taken down.
    Emails already sent cannot be taken back. `engage archive restore` puts the page back.
    """
    ws = workspace(ctx)
    found = archived.entry(store(ctx), ws, campaign)
    if found.removed_at is not None:
        click.echo(f"{found.campaign}'s page is already taken down ({found.why}).")
        return
    if not yes:
        click.confirm(f"Take down {found.address}?", abort=True)
    archived.remove(store(ctx), ws, campaign, note)
    click.echo(
        f"Took down {found.address}: it now says the newsletter was taken down, and the "
        f"archive no longer lists it. To put it back: engage archive restore {found.campaign}"
    )


@archive.command()
@click.argument("campaign")
@click.option("--yes", is_flag=True, help="Do not ask first.")
@click.pass_context
def restore(ctx: click.Context, campaign: str, yes: bool) -> None:
    """Put CAMPAIGN's page back in the public archive, as it was sent."""
    ws = workspace(ctx)
    found = archived.entry(store(ctx), ws, campaign)
    if found.removed_at is None:
        click.echo(f"{found.campaign}'s page is not taken down, so there is nothing to restore.")
        return
    if not yes:
        click.confirm(f"Put {found.address} back in the archive?", abort=True)
    archived.restore(store(ctx), ws, campaign)
    if found.reached:
        click.echo(f"Put back {found.address}: anyone can read it again.")
    else:
        click.echo(
            f"Put back {found.address}, but its send reached nobody, so the archive does not "
            "show it."
        )


def register(cli: click.Group) -> None:
    cli.add_command(archive)
