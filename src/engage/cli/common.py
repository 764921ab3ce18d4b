"""What several commands share: finding the workspace, shared options."""

from __future__ import annotations

import click

from ..config import Workspace, find_workspace
from ..store import Store, open_store


def workspace(ctx: click.Context) -> Workspace:
    root = ctx.find_root()
    cached = root.meta.get("engage.workspace")
    if cached is None:
        cached = find_workspace((root.obj or {}).get("workspace"))
        root.meta["engage.workspace"] = cached
    return cached


def format_option(*choices: str):  # noqa: ANN201
    """--format, with the first choice as the default: one for people, JSON for programs."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=f"{choices[0].capitalize()} to read, or {choices[1].upper()} for other programs.",
    )


def store(ctx: click.Context) -> Store:
    """The workspace's database, opened once per command (and given its schema if new)."""
    root = ctx.find_root()
    cached = root.meta.get("engage.store")
    if cached is None:
        cached = open_store(workspace(ctx))
        root.meta["engage.store"] = cached
    return cached
