"""A campaign's report, with every section (the stories of a call for stories): what
`engage report CAMPAIGN` and the console's report pages both show, so the two never differ.
"""

from __future__ import annotations

from ..campaigns import Campaign, all_campaigns
from ..config import Workspace
from ..errors import CampaignError
from ..report import Report, build
from ..send_status import CampaignState, campaign_states
from ..store import Store
from ..stories.reporting import report_section


def campaign_report(workspace: Workspace, store: Store, campaign: Campaign) -> Report:
    """How `campaign` went: engage/report.py's figures, and the stories section."""
    with store.connect() as connection:
        return build(
            connection,
            campaign.slug,
            meta=campaign.meta,
            extras=[report_section(workspace.config.followups.days)],
        )


def sent_campaigns(workspace: Workspace, store: Store) -> list[tuple[Campaign, CampaignState]]:
    """The campaigns in campaigns/ whose send has started (so there is something to report),
    with where each stands, in the order `engage campaigns list` gives them. A file that
    cannot be read is left out: `engage campaigns list` names it."""
    found = [c for c in all_campaigns(workspace) if not isinstance(c, CampaignError)]
    states = campaign_states(store, found) if found else {}
    return [(c, states[c.slug]) for c in found if states[c.slug].went_out]
