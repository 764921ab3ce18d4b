"""The channels `[social.NAME]` in engage.toml sets up; the outbox when none is set."""

from __future__ import annotations

from ..config import SocialChannel, Workspace
from ..errors import ConfigError
from .base import Channel


def configured(workspace: Workspace) -> dict[str, SocialChannel]:
    return workspace.config.social or {"outbox": SocialChannel(network="outbox")}


def channel(workspace: Workspace, name: str) -> Channel:
    settings = configured(workspace).get(name)
    if settings is None:
        known = ", ".join(sorted(configured(workspace)))
        raise ConfigError(f"No social channel '{name}' in engage.toml. Channels: {known}.")
    if settings.network == "outbox":
        from .outbox import OutboxChannel

        return OutboxChannel(name, settings, workspace)
    if settings.network == "mastodon":
        from .mastodon import MastodonChannel

        return MastodonChannel(name, settings, workspace)
    if settings.network == "bluesky":
        from .bluesky import BlueskyChannel

        return BlueskyChannel(name, settings, workspace)
    from .x import XChannel

    return XChannel(name, settings, workspace)
