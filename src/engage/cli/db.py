"""`engage db`: the database's schema version."""

from __future__ import annotations

import click

from ..store import current_revision, database_url, head_revision, open_url, upgrade
from .common import workspace


@click.group()
def db() -> None:
    """The database: its schema version and upgrades."""


@db.command("upgrade")
@click.pass_context
def upgrade_(ctx: click.Context) -> None:
    """Bring the database schema up to date. Your data is kept."""
    store = open_url(database_url(workspace(ctx)), upgrade_new=False)
    before, after = upgrade(store)
    if before == after:
        click.echo(f"The database is up to date (schema version {after}).")
    else:
        click.echo(f"Upgraded the database from schema version {before or 'none'} to {after}.")


@db.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show where the database is and its schema version."""
    store = open_url(database_url(workspace(ctx)), upgrade_new=False)
    current, head = current_revision(store), head_revision()
    click.echo(f"Database: {store.shown_url}")
    state = "up to date" if current == head else f"run `engage db upgrade` to reach {head}"
    click.echo(f"Schema version: {current or 'none'} ({state})")


def register(cli: click.Group) -> None:
    cli.add_command(db)
