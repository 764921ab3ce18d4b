"""Commands for audiences: `audiences list` and `audiences show NAME`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import sqlalchemy as sa

from ..contacts import audiences as audience_files
from ..contacts.audiences import AudienceError, safe_cell
from ..store import open_store
from .campaigns import table
from .common import format_option, workspace

CSV_COLUMNS = ["email", "name", "first_name", "status", "format", "tags"]
SHOW_COLUMNS = ["email", "name", "status", "format", "tags"]


@contextmanager
def _connection(ctx: click.Context) -> Iterator[sa.Connection]:
    """A connection to the workspace's database, closed (with its pool) afterwards."""
    store = open_store(workspace(ctx))
    try:
        with store.connect() as connection:
            yield connection
    finally:
        store.engine.dispose()


@click.group()
def audiences() -> None:
    """The audiences in this workspace: who each campaign goes to."""


@audiences.command("list")
@format_option("table", "json")
@click.pass_context
def list_audiences(ctx: click.Context, fmt: str) -> None:
    """Show each audience, how many people are in it now, and what it is for."""
    found = audience_files.all_audiences(workspace(ctx))
    good = [a for a in found if not isinstance(a, AudienceError)]
    rows: list[dict[str, Any]] = []
    if good:
        with _connection(ctx) as connection:
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
        click.echo(table(["name", "count", "description"], [_printable(r) for r in rows]))
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
    """List the people in the audience NAME (audiences/NAME.toml), ordered by email."""
    audience = audience_files.load(workspace(ctx), name)
    with _connection(ctx) as connection:
        members = audience_files.members(connection, audience)
    if fmt == "json":
        click.echo(json.dumps(members, indent=2))
    elif fmt == "csv":
        click.echo(as_csv(members), nl=False)
    elif members:
        rows = [_printable({**m, "tags": ", ".join(m["tags"])}) for m in members]
        click.echo(table(SHOW_COLUMNS, rows))
    else:
        click.echo(f"No one is in the audience {audience.name} yet.")


def as_csv(members: list[dict[str, Any]]) -> str:
    """Members as CSV for a spreadsheet; no cell can start a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for member in members:
        cells = {**member, "tags": ";".join(member["tags"])}
        writer.writerow([safe_cell(str(cells[c])) for c in CSV_COLUMNS])
    return out.getvalue()


def _printable(row: dict[str, Any]) -> dict[str, str]:
    """Cells for a terminal table: control characters become spaces, so none can move the
    cursor or recolour the screen."""
    return {
        key: "".join(ch if ch.isprintable() else " " for ch in str(value))
        for key, value in row.items()
    }


def register(cli: click.Group) -> None:
    cli.add_command(audiences)
