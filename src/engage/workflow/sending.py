"""Send a campaign, the whole job: lint with every check first (errors refuse the send), the
send itself (sending.Sender: the journal, exactly once per person), the campaign's stories
noted as used once it is sent, then contributors kept informed."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..sending import Progress, Report, Sender
from ..store import Store
from ..stories.telling import Told
from ..stories.usage import record_sent
from .lint import require_clean
from .stories import keep_contributors_informed

# A Sender that has this set does not lint again. Today's Sender lints with the render checks
# only (its own `check_campaign`); once lint is no longer the Sender's, this is all there is.
_LINTED = "linted"


@dataclass
class Sent:
    report: Report
    told: Told = field(default_factory=Told)  # what contributors were told after it


def check(sender: Sender) -> None:
    """Lint the campaign with every check, once: raise LintFailed (in lint's own words) when
    a send would be refused, before anyone is asked anything."""
    if not getattr(sender, _LINTED, False):
        require_clean(sender.workspace, sender.campaign)
        setattr(sender, _LINTED, True)


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
