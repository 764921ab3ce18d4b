"""What every social channel shares: the post it is given and what it returns. Its errors
are the providers' family in errors.py (AuthFailed, TryLater, Rejected, ProviderError).

A channel declares its `network`, how it measures text (`measure`) and its limits, and
implements `publish` for one part of a thread. The posting journal (posting.py) decides what
to post and records it before and after, so a channel never needs to worry about repeats.
"""

from __future__ import annotations

import functools
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import SocialChannel, Workspace

if TYPE_CHECKING:
    from ..http import Client


@dataclass(frozen=True)
class Image:
    path: Path
    alt: str

    @property
    def mime(self) -> str:
        return mimetypes.guess_type(self.path.name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class Part:
    index: int  # 0 for the first post; a thread's later parts reply to the one before
    text: str
    images: list[Image] = field(default_factory=list)
    # The language it is written in, a BCP 47 tag (cy, en-GB): its campaign version's, or
    # [organisation] lang. A network that takes one is told it (Mastodon, Bluesky); X is not.
    lang: str = ""


@dataclass(frozen=True)
class Posted:
    remote_id: str  # whatever the channel needs to reply to it later
    url: str


@dataclass(frozen=True)
class Limits:
    max_length: int
    max_images: int = 4
    unit: str = "characters"


class Channel:
    network = "channel"
    # The network's name as a contributor knows it, in the emails about their story; "" for
    # the outbox, which to them is simply "our social media".
    title = ""

    def __init__(self, name: str, settings: SocialChannel, workspace: Workspace) -> None:
        self.name, self.settings, self.workspace = name, settings, workspace

    @functools.cached_property
    def http(self) -> Client:
        """The channel's HTTP session (the one HTTP base, engage/http.py), made when used: so
        `requests` loads only when a channel talks to its network, not for every command."""
        from ..http import Client

        return Client(self.settings.timeout)

    def limits(self) -> Limits:
        raise NotImplementedError

    def measure(self, text: str) -> int:
        raise NotImplementedError

    def problems(self, text: str) -> list[str]:
        """What the network would refuse in `text` other than its length, in plain words,
        so that nothing is posted until it is fixed."""
        return []

    def check(self) -> None:
        """Make sure the secrets this channel needs are set, before anything is posted."""

    def publish(self, part: Part, thread: list[Posted], key: str) -> Posted:
        """Post one part. `thread` holds the parts already posted; `key` is the same for
        every attempt at this part (an idempotency key where the network has them)."""
        raise NotImplementedError

    def fetch_replies(self, since: str | None) -> list:
        """Replies to and mentions of our posts since `since` (SocialReply items)."""
        return []

    def cost(self, parts: list[Part]) -> float | None:
        """What posting these would cost in US dollars, where the network charges."""
        return None
