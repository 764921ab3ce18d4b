"""`engage team`: the media team's accounts for the console, and the audit log."""

from __future__ import annotations

import click

from ..team import audit, members
from .common import printable, store, table, workspace


@click.group()
def team() -> None:
    """The media team's accounts for the console (`engage serve`, /console), and the log of
    who did what."""


@team.command("add")
@click.argument("email")
@click.option("--name", required=True, help="Their name, as the console shows it.")
@click.option(
    "--role",
    type=click.Choice(["editor", "sender", "admin"]),
    required=True,
    help="editor: campaigns, replies and stories; sender: also send, schedule and cancel; "
    "admin: also export and erase people, and manage the team.",
)
@click.pass_context
def add(ctx: click.Context, email: str, name: str, role: str) -> None:
    """Add EMAIL to the team, so they can sign in to the console."""
    with store(ctx).begin() as connection:
        member = members.add(connection, email, name, role, audit.command_line())
    click.echo(printable(f"Added {member.name} <{member.email}> as {member.role}."))
    if workspace(ctx).config.team.sign_in == "password":
        click.echo(f"They sign in with a password: set it with `engage team password {email}`.")
    else:
        click.echo(
            "They sign in at /console with a link we email them; it works once, for 15 minutes."
        )


@team.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Everyone on the team, with their role."""
    with store(ctx).connect() as connection:
        found = members.listing(connection)
    if not found:
        click.echo(
            "Nobody is on the team yet. Add someone with "
            "`engage team add EMAIL --name NAME --role admin`."
        )
        return
    rows = [
        {
            "email": m.email,
            "name": m.name,
            "role": m.role,
            "password": "set" if m.has_password else "-",
            "added": m.added_at.strftime("%Y-%m-%d"),
        }
        for m in found
    ]
    click.echo(table(["email", "name", "role", "password", "added"], rows))


@team.command("remove")
@click.argument("email")
@click.pass_context
def remove(ctx: click.Context, email: str) -> None:
    """Take EMAIL off the team: they are signed out everywhere and cannot sign in again."""
    with store(ctx).begin() as connection:
        member = members.remove(connection, email, audit.command_line())
    click.echo(
        printable(f"Removed {member.name} <{member.email}>; they are signed out everywhere.")
    )


@team.command("password")
@click.argument("email")
@click.password_option(
    "--password",
    prompt="New password",
    help="The new password (asked for, hidden, when not given).",
)
@click.pass_context
def password(ctx: click.Context, email: str, password: str) -> None:
    """Set EMAIL's password for the console (when [team] sign_in = "password"). It is kept
    only as an argon2 hash; every session they have ends."""
    with store(ctx).begin() as connection:
        member = members.set_password(connection, email, password, audit.command_line())
    click.echo(printable(f"Set the password for {member.email}; their other sessions have ended."))


@team.command("log")
@click.option(
    "--limit",
    type=click.IntRange(1, 100000),
    default=50,
    show_default=True,
    help="Show at most this many entries.",
)
@click.pass_context
def log(ctx: click.Context, limit: int) -> None:
    """Who did what, and when: newest first."""
    with store(ctx).connect() as connection:
        found = audit.entries(connection, limit=limit)
    if not found:
        click.echo("The log is empty.")
        return
    for entry in found:
        at = entry.at.strftime("%Y-%m-%d %H:%M UTC")
        what = entry.action + (f": {entry.subject}" if entry.subject else "")
        detail = f" ({entry.detail})" if entry.detail else ""
        click.echo(printable(f"{at}  {entry.actor}  {what}{detail}"))


def register(cli: click.Group) -> None:
    cli.add_command(team)
