"""What several commands share: finding the workspace."""

from __future__ import annotations

import click

from ..config import Workspace, find_workspace


def workspace(ctx: click.Context) -> Workspace:
    root = ctx.find_root()
    cached = root.meta.get("engage.workspace")
    if cached is None:
        cached = find_workspace((root.obj or {}).get("workspace"))
        root.meta["engage.workspace"] = cached
    return cached
