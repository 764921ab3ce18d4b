"""Post a campaign to its social channels, the whole job: each channel's plan checked (the
post itself, and whether the campaign's stories may go there), posted once (social/posting.py:
taken, posted), noted where its stories went out once the whole thread is up, then contributors
kept informed. A campaign's translations with [social.*] tables of their own are plans too,
each in its own language; a story goes out once on each channel, whichever language is first."""

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
    workspace: Workspace,
    campaign: Campaign,
    names: list[str] | None = None,
    *,
    versions: bool = False,
) -> list[posting.Plan]:
    """What each channel (`names`, or every one) would post, with every problem found before
    anything is posted: the posts' own (social/posting.py), and a story its contributor has
    not agreed to see there. `versions`: its translations' posts too (`engage post`); without,
    only the posts written in this one file (`engage run` posts each file as it is due)."""
    found = posting.plans(workspace, campaign, names, versions=versions)
    refused: dict[str, list[str]] = {}
    for plan in found:
        name = plan.channel.name
        if name not in refused:  # a version's stories are the campaign's
            refused[name] = story_usage.refusals(workspace, campaign, name)
        plan.errors += [f"{plan.name}: {why}" for why in refused[name]]
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
        outcome = posting.post(store, plan)
        if outcome.complete:  # its stories went out there: their contributors will hear
            story_usage.record_posted(
                store, plan.campaign, plan.channel.name, outcome.link, plan.channel.network
            )
        done.outcomes.append(outcome)
    if inform:
        done.told = keep_contributors_informed(store, workspace)
    return done
