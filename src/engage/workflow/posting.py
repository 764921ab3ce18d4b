"""Post a campaign to its social channels, the whole job: each channel's plan checked (the
post itself, and whether the campaign's stories may go there), posted once (social/posting.py:
taken, posted), noted where its stories went out once the whole thread is up, then contributors
kept informed."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..campaigns import Campaign
from ..config import Workspace
from ..social import posting
from ..store import Store
from ..stories import usage as story_usage
from ..stories.telling import Told
from .stories import keep_contributors_informed


@dataclass
class Posts:
    outcomes: list[posting.Outcome] = field(default_factory=list)  # one per plan, in order
    told: Told = field(default_factory=Told)

    @property
    def problems(self) -> int:
        return sum(len(o.problems) for o in self.outcomes) + len(self.told.problems)


def plans(
    workspace: Workspace, campaign: Campaign, names: list[str] | None = None
) -> list[posting.Plan]:
    """What each channel (`names`, or every one) would post, with every problem found before
    anything is posted: the posts' own (social/posting.py), and a story its contributor has
    not agreed to see there."""
    found = posting.plans(workspace, campaign, names)
    for plan in found:
        name = plan.channel.name
        plan.errors += [f"{name}: {why}" for why in story_usage.refusals(workspace, campaign, name)]
    return found


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
    done = Posts()
    for plan in plans:
        outcome = posting.post(store, campaign, plan)
        if outcome.complete:  # its stories went out there: their contributors will hear
            story_usage.record_posted(
                store, campaign, plan.channel.name, outcome.link, plan.channel.network
            )
        done.outcomes.append(outcome)
    if inform:
        done.told = keep_contributors_informed(store, workspace)
    return done
