"""Post a campaign to its social channels, the whole job: each channel's plan posted once
(social/posting.py: checked, taken, posted, noted where its stories went out), then
contributors kept informed."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..campaigns import Campaign
from ..config import Workspace
from ..social import posting
from ..store import Store
from ..stories.telling import Told
from .stories import keep_contributors_informed


@dataclass
class Posts:
    outcomes: list[posting.Outcome] = field(default_factory=list)  # one per plan, in order
    told: Told = field(default_factory=Told)

    @property
    def problems(self) -> int:
        return sum(len(o.problems) for o in self.outcomes) + len(self.told.problems)


def post_campaign(
    store: Store,
    workspace: Workspace,
    campaign: Campaign,
    plans: list[posting.Plan],
    *,
    inform: bool = True,
) -> Posts:
    """Post each plan (checked already: posting.require_valid and require_page), then
    (`inform`) tell contributors what is owed. `engage run` informs once after all its work."""
    done = Posts([posting.post(store, campaign, plan) for plan in plans])
    if inform:
        done.told = keep_contributors_informed(store, workspace)
    return done
