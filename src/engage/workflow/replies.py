"""Fetch replies, the whole job: from the shared mailbox ([replies.imap]) and the social
channels, then contributors kept informed (a story reply opens its story and is thanked).
Replies sent to a provider arrive by its webhook instead (workflow/inbound.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Workspace
from ..replies import imap
from ..replies import social as social_replies
from ..store import Store
from ..stories.telling import Told
from .stories import keep_contributors_informed


@dataclass
class Fetched:
    mailbox: imap.Fetched | None = None  # None: the mailbox was not asked
    social: list[social_replies.Fetched] = field(default_factory=list)
    told: Told = field(default_factory=Told)

    @property
    def new(self) -> int:
        return (self.mailbox.new if self.mailbox else 0) + sum(r.new for r in self.social)

    def problems(self) -> list[str]:
        """Each source that failed, named: `imap: ...`, `mastodon: ...`."""
        found = [f"imap: {self.mailbox.problem}"] if self.mailbox and self.mailbox.problem else []
        return found + [f"{r.channel}: {r.problem}" for r in self.social if r.problem]


def fetch_replies(
    store: Store, workspace: Workspace, *, mailbox: bool, social: bool, inform: bool = True
) -> Fetched:
    """Collect what waits in each source asked for, then (`inform`) tell contributors what is
    owed. `engage run` informs once after all its work."""
    done = Fetched()
    if mailbox:
        done.mailbox = imap.fetch(store, workspace)
    if social:
        done.social = social_replies.fetch_all(store, workspace)
    if inform:
        done.told = keep_contributors_informed(store, workspace)
    return done
