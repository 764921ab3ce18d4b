"""Commands for audiences: `audiences list` and `audiences show NAME`."""

from __future__ import annotations

import json
from typing import Any

import click

from ..contacts import audiences as audience_files
from ..contacts.audiences import AudienceError
from .common import format_option, people_csv, store, table, workspace

SHOW_COLUMNS = ["email", "name", "status", "format", "tags"]


@click.group()
def audiences() -> None:
    """The audiences in this workspace: who each campaign goes to."""


@audiences.command("list")
@format_option("table", "json")
@click.pass_context
def list_audiences(ctx: click.Context, fmt: str) -> None:
    """Show each audience with how many people are in it now.

    A file in audiences/ that cannot be read is reported after the others, and engage exits 1.
    """
    found = audience_files.all_audiences(workspace(ctx))
    good = [a for a in found if not isinstance(a, AudienceError)]
    rows: list[dict[str, Any]] = []
    if good:
        with store(ctx).connect() as connection:
            rows = [
                {
                    "name": a.name,
                    "count": audience_files.count(connection, a),
                    "description": a.description,
                }
                for a in good
            ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif rows:
        click.echo(table(["name", "count", "description"], rows))
    else:
        click.echo("No audiences yet. Add a TOML file to audiences/ to choose who to write to.")
    broken = [a for a in found if isinstance(a, AudienceError)]
    for error in broken:
        click.echo(f"Error: {error}", err=True)
    if broken:
        ctx.exit(1)


@audiences.command("show")
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Table to read, JSON for other programs, or CSV for a spreadsheet.",
)
@click.pass_context
def show(ctx: click.Context, name: str, fmt: str) -> None:
    """List the people in the audience NAME, ordered by email.

    NAME is a file in audiences/: `newsletter` is audiences/newsletter.toml.
    """
    audience = audience_files.load(workspace(ctx), name)
    with store(ctx).connect() as connection:
        members = audience_files.members(connection, audience)
    if fmt == "json":
        click.echo(json.dumps(members, indent=2))
    elif fmt == "csv":
        click.echo(people_csv(members), nl=False)
    elif members:
        rows = [{**m, "tags": ", ".join(m["tags"])} for m in members]
        click.echo(table(SHOW_COLUMNS, rows))
    else:
        click.echo(f"No one is in the audience {audience.name} yet.")


def register(cli: click.Group) -> None:
    cli.add_command(audiences)
