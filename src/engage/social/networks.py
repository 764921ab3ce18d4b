"""The social networks, each one unit found by its name: `get("mastodon")` gives the Channel
class that posts there, declaring its `network`, how it measures text and its limits (the
counting rules themselves are in counting.py). channels.py makes a channel for each
`[social.NAME]` in engage.toml by asking here; nothing else names a network.

To add one, add its module with a `CHANNEL` and its name to `NAMES`; see
docs/adding-a-provider.md.
"""

from __future__ import annotations

import importlib

from .base import Channel

NAMES = ("outbox", "x", "mastodon", "bluesky")


def names() -> tuple[str, ...]:
    return NAMES


def get(network: str) -> type[Channel]:
    """The Channel class for `network`; KeyError when there is none."""
    if network not in NAMES:
        raise KeyError(network)
    channel: type[Channel] = importlib.import_module(f"{__package__}.{network}").CHANNEL
    return channel


def title(network: str) -> str:
    """The network's name as a contributor knows it ("Mastodon"); "" for the outbox or a
    network engage does not know."""
    try:
        return get(network).title
    except KeyError:
        return ""
