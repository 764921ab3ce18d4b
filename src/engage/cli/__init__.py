"""The `engage` command: a thin skin over the library. Each command parses its options, calls
one library function and prints the result. `EngageError` becomes `Error: ...` and its exit
code; set ENGAGE_DEBUG=1 to see the traceback instead.

Each command's module is imported only when that command runs (or its help is asked for), so
`engage --help`, `engage --version` and a quick command do not pay for the whole library."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from .. import __version__
from ..errors import EngageError

# Each command: the modules that register it, in order, and its first paragraph of help as
# `engage --help` lists it. tests/test_cli_startup.py checks these against the commands.
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "archive": (
        ("archive",),
        "The public archive of sent newsletters: list it, take a page down, put it back.",
    ),
    "audiences": (("audiences",), "The audiences in this workspace: who each campaign goes to."),
    "build": (
        ("campaigns",),
        "Render CAMPAIGN (a slug or a path) for a sample recipient and write the files.",
    ),
    "campaigns": (("campaigns",), "The campaigns in this workspace."),
    "contacts": (("contacts",), "The people engage writes to, and the consent they gave."),
    "db": (("db",), "The database: its schema version and upgrades."),
    "followups": (
        ("stories",),
        "Contributors owed news: open stories they have not heard about for a while.",
    ),
    "init": (("init",), "Make a new workspace in FOLDER (default: this folder)."),
    "lint": (
        ("campaigns",),
        "Check CAMPAIGN for accessibility, readability and required parts.",
    ),
    "post": (("social",), "Post CAMPAIGN to its social channels, each part once."),
    "preview": (("campaigns",), "Build CAMPAIGN and open it in your web browser."),
    "replies": (("replies", "inbox"), "Replies from every channel, in one place."),
    "report": (("report",), "Show how CAMPAIGN went: emails, replies and the reply rate."),
    "run": (
        ("send",),
        "Do everything that is due: send the emails the web app queued (like sign-up links), "
        "send campaigns whose send_at has passed, carry on sends that were interrupted (never "
        "ones a person stopped), post, fetch replies.",
    ),
    "send": (("send",), "Send CAMPAIGN to its audience, exactly once per person."),
    "serve": (
        ("serve",),
        "Run the web app (sign-up, unsubscribe, preferences, webhooks, archive) with waitress.",
    ),
    "stories": (("stories",), "Contributors' stories, from their reply to publication."),
    "team": (
        ("team",),
        "The media team's accounts for the console (`engage serve`, /console), and the log of "
        "who did what.",
    ),
    "webhooks": (("webhooks",), "What the email providers told engage through its webhooks."),
}


class EngageGroup(click.Group):
    """The top group: loads a command's module when the command is needed, lists every command
    from COMMANDS without loading any, and turns `EngageError` into `Error: ...`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()  # the modules of cli/ whose commands are registered

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            # A name not in the table (a typo, or a command added without its line there)
            # loads every module, so such a command still runs.
            every = dict.fromkeys(m for modules, _ in COMMANDS.values() for m in modules)
            for module in COMMANDS[cmd_name][0] if cmd_name in COMMANDS else every:
                self._load(module)
        return self.commands.get(cmd_name)

    def _load(self, module: str) -> None:
        if module not in self._loaded:
            self._loaded.add(module)
            importlib.import_module(f"{__name__}.{module}").register(self)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        no_such: Any = getattr(click.exceptions, "NoSuchCommand", ())  # click 8.4 and later
        try:
            return super().resolve_command(ctx, args)
        except no_such as exc:  # its "Did you mean" from every command, not the loaded ones
            names = self.list_commands(ctx)
            raise no_such(exc.command_name, possibilities=names, ctx=ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands, written as click writes it, from COMMANDS' help texts."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self._short_help(ctx, name, limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _short_help(self, ctx: click.Context, name: str, limit: int) -> str:
        if name in COMMANDS and name not in self.commands:  # shortened as click shortens it
            return click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)
        command = self.get_command(ctx, name)
        return command.get_short_help_str(limit) if command else ""

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


def main() -> None:
    cli(prog_name="engage")
