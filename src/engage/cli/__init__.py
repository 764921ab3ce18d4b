"""The `engage` command: a thin skin over the library. Each command parses its options, calls
one library function and prints the result. `EngageError` becomes `Error: ...` and its exit
code; set ENGAGE_DEBUG=1 to see the traceback instead."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import __version__
from ..errors import EngageError
from . import (
    archive,
    audiences,
    campaigns,
    contacts,
    db,
    inbox,
    init,
    replies,
    report,
    send,
    serve,
    social,
    stories,
    webhooks,
)


class EngageGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EngageError as exc:
            if os.environ.get("ENGAGE_DEBUG") == "1":
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=EngageGroup)
@click.version_option(__version__, prog_name="engage")
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=True, dir_okay=True),
    envvar="ENGAGE_WORKSPACE",
    help="The folder with engage.toml. Default: the nearest one above the current folder.",
)
@click.pass_context
def cli(ctx: click.Context, workspace: str | None) -> None:
    """engage: newsletters, social posts and stories for a small media team."""
    ctx.obj = {"workspace": workspace}


init.register(cli)
campaigns.register(cli)
contacts.register(cli)
db.register(cli)
send.register(cli)
serve.register(cli)
social.register(cli)
replies.register(cli)
inbox.register(cli)  # import, list, show, assign and done, under `engage replies`
audiences.register(cli)
stories.register(cli)
report.register(cli)
archive.register(cli)
webhooks.register(cli)


def main() -> None:
    cli(prog_name="engage")
