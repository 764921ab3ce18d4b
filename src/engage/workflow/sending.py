"""Send a campaign, the whole job: lint with every check first (errors refuse the send), the
send itself (sending.Sender: the journal, exactly once per person), the campaign's stories
noted as used once it is sent, then contributors kept informed."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from ..campaigns import Campaign
from ..config import Workspace
from ..email.base import Provider
from ..sending import Options, Progress, Report, Sender
from ..store import Store
from ..stories.telling import Told
from ..stories.usage import record_sent
from .lint import require_clean
from .stories import keep_contributors_informed


@dataclass
class Sent:
    report: Report
    told: Told = field(default_factory=Told)  # what contributors were told after it


def sender(
    store: Store,
    workspace: Workspace,
    campaign: Campaign,
    provider: Provider,
    options: Options | None = None,
) -> Sender:
    """A Sender for a real send: its check is lint with every check, so a campaign with an
    error is refused before anyone is asked anything."""
    return Sender(
        store,
        workspace,
        campaign,
        provider,
        options,
        check=partial(require_clean, workspace, campaign),
    )


def check(sender: Sender) -> None:
    """Lint the campaign with every check, once: raise LintFailed (in lint's own words) when
    a send would be refused."""
    sender.check_campaign()


def send_campaign(
    store: Store, sender: Sender, progress: Progress | None = None, *, inform: bool = True
) -> Sent:
    """Lint, send through `sender` (made on `store`), note where the campaign's stories went
    out, and (`inform`, not for a dry run) tell contributors what is owed. `engage run`
    informs once after all its work."""
    check(sender)
    report = sender.run(progress=progress)
    if report.finished:
        record_sent(store, sender.workspace, sender.campaign)  # once: it adds no twin
    if not inform or sender.options.dry_run:
        return Sent(report)
    return Sent(report, keep_contributors_informed(store, sender.workspace))
