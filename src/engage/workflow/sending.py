"""Send a campaign, the whole job: lint with every check first (errors refuse the send), the
send itself (sending.Sender: the journal, exactly once per person), the campaign's stories
noted as used once it is sent, then contributors kept informed.

Also what the CLI and the console share around a send: a test copy (lint errors refuse it
unless forced), starting a send (checked, then handed to the next sender by its schedule),
and sending what is due (`engage run`, and the worker of `engage serve`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from functools import partial

from .. import campaigns as campaign_files
from ..campaigns import Campaign
from ..config import Workspace
from ..contacts import audiences, core
from ..email.base import Outcome, Provider
from ..errors import EngageError, LintFailed
from ..render import rules_audience
from ..render.build import sample_recipient
from ..render.findings import Finding
from ..render.personal import Recipient
from ..render.rules_audience import REFUSED_BY_SEND
from ..send_status import due
from ..sending import Options, Progress, Report, Sender, Stop, send_test
from ..sending import plan as plans
from ..sending import schedule as schedules
from ..sending.editions import Editions
from ..store import Store
from ..stories.telling import Told
from ..stories.usage import record_sent
from ..team import audit
from .lint import lint, require_clean
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
    stop: Stop | None = None,
) -> Sender:
    """A Sender for a real send: its check is lint with every check, so a campaign with an
    error is refused before anyone is asked anything. `stop`: to stop it from another thread."""
    return Sender(
        store,
        workspace,
        campaign,
        provider,
        options,
        check=partial(require_clean, workspace, campaign),
        stop=stop,
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


def send_due(
    store: Store,
    workspace: Workspace,
    slug: str,
    provider: Provider,
    options: Options | None,
    stop: Stop | None = None,
) -> Report:
    """Send one campaign that is due (`engage run`, the worker of `engage serve`): lint, then
    the journal. Contributors are told by the caller, once all its work is done. Raises Busy
    when another engage is sending it, EngageError on a problem."""
    campaign = campaign_files.load(workspace, slug)
    sender_ = sender(store, workspace, campaign, provider, options or Options(), stop)
    return send_campaign(store, sender_, inform=False).report


def send_scheduled(
    store: Store, workspace: Workspace, now: dt.datetime, stop: Stop | None = None
) -> list[str]:
    """The worker of `engage serve`: send each campaign whose time a person set (the console,
    `engage campaigns schedule`) has come, and carry on such a send when it was interrupted.
    A campaign only its file's send_at makes due is left to `engage run`. What went wrong,
    in words (a campaign another engage is sending is not wrong)."""
    from ..locks import Busy
    from ..providers import provider_for

    problems: list[str] = []
    finished = False
    for slug in due(store, workspace, now, people_only=True).slugs:
        if stop is not None and stop.is_set():
            break
        try:
            report = send_due(store, workspace, slug, provider_for(workspace), None, stop)
        except Busy:
            continue
        except EngageError as exc:
            problems.append(f"{slug}: {exc}")
            continue
        problems += [f"{slug}: {p}" for p in report.problems]
        finished = finished or report.finished
    if finished:  # its stories went out: contributors are told
        problems += keep_contributors_informed(store, workspace).problems
    return problems


@dataclass(frozen=True)
class Audience:
    """Who a send would go to now: how many will get it, and how many it skips, by reason."""

    name: str
    going: int
    skipped: dict[str | None, int]


def audience_now(store: Store, workspace: Workspace, campaign: Campaign) -> Audience:
    """Who a send of `campaign` would go to now, as `engage send` says before it asks. Raises
    SendError as the send would (no audience, nobody in it, stopped)."""
    with store.connect() as connection:
        found = plans.plan(connection, workspace, campaign, Options())
    return Audience(campaign.meta.audience, len(found.going), found.skipped)


def start_send(store: Store, workspace: Workspace, campaign: Campaign, actor: str) -> Audience:
    """Start sending `campaign` now, from the console: lint with every check (errors refuse
    it), count who it goes to (a send to nobody is refused), then set its schedule to now,
    so the next sender picks it up (the worker of `engage serve`, or `engage run`). The
    request that asks never sends anything itself."""
    require_clean(workspace, campaign)
    who = audience_now(store, workspace, campaign)
    schedules.start(store, campaign.slug, actor, who.going)
    return who


class CopyRefused(LintFailed):
    """A test copy refused for lint errors (`errors`), without force."""

    def __init__(self, slug: str, errors: list[Finding]) -> None:
        count = f"{len(errors)} lint error{'' if len(errors) == 1 else 's'}"
        super().__init__(f"{slug} has {count}. Fix them, or send the test copy anyway.")
        self.errors, self.count = errors, count


@dataclass(frozen=True)
class CopySent:
    outcome: Outcome
    errors: list[Finding]  # lint errors it went with (only when forced)


def send_test_copy(
    store: Store,
    workspace: Workspace,
    campaign: Campaign,
    provider: Provider,
    address: str,
    *,
    force: bool,
    actor: str,
) -> CopySent:
    """One copy marked [Test] to `address` (`engage send --test-to`, the console's "Send me a
    test"). Lint errors refuse it (CopyRefused) unless `force`. A copy the provider took is
    noted in the audit log."""
    errors = [f for f in lint(workspace, campaign) if f.severity == "error"]
    if errors and not force:
        raise CopyRefused(campaign.slug, errors)
    outcome = send_test(workspace, campaign, provider, address)
    if outcome.sent:
        with store.begin() as connection:
            audit.record(connection, actor, "test sent", campaign.slug, f"to {address}")
    return CopySent(outcome, errors)


def lint_summary(findings: list[Finding]) -> str:
    """Lint's findings counted, and whether the campaign may be sent (`engage lint`, the
    console's campaign page)."""
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}."
    if errors:
        return f"{counts} Fix the errors before this campaign can be sent."
    if _refused_by_send(findings):
        return f"{counts} Not ready to send: it would go to nobody now, and a send is refused."
    return f"{counts} Ready to send."


def ready(findings: list[Finding]) -> bool:
    """Whether lint says the campaign can be sent: no error, and no warning a real send
    refuses all the same."""
    return not any(f.severity == "error" for f in findings) and not _refused_by_send(findings)


def _refused_by_send(findings: list[Finding]) -> bool:
    """A warning that a real send refuses all the same (an empty audience): a test copy may
    still go, so it is not an error, but lint does not say the campaign is ready."""
    return any(f.rule in REFUSED_BY_SEND for f in findings)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def audience_size(store: Store, workspace: Workspace, campaign: Campaign) -> int | None:
    """How many people are in the campaign's audience now; None when it cannot be read
    (lint says why)."""
    found, _problem = rules_audience.load(workspace, campaign)
    if found is None:
        return None
    with store.connect() as connection:
        return audiences.count(connection, found)


def reader(
    store: Store, workspace: Workspace, campaign: Campaign, email: str = ""
) -> Recipient | None:
    """Who a preview is for: the contact with this email address (with the sample reader's
    links, so no real link is made), or the sample reader `engage build` uses when `email` is
    empty. None when nobody has that address."""
    sample = sample_recipient(workspace, campaign)
    if not email.strip():
        return sample
    with store.connect() as connection:
        found = core.find(connection, email)
    if found is None:
        return None
    return dataclasses.replace(
        sample, email=found.email, name=found.name, first_name=found.first_name
    )


def languages(workspace: Workspace, campaign: Campaign) -> list[str]:
    """The languages a campaign is in: its own first, then its translations' (file order)."""
    return [lang for lang, form in Editions.of(workspace, campaign).files if not form]


def easy_read_instead(workspace: Workspace, campaign: Campaign, lang: str = "") -> bool:
    """Whether someone reading `lang` who asked for Easy Read gets large print instead (the
    campaign has no Easy Read version for them)."""
    return Editions.of(workspace, campaign).choose("easy-read", lang).instead


def preview(
    workspace: Workspace, campaign: Campaign, person: Recipient, fmt: str, lang: str = ""
) -> str:
    """The campaign as `person` would get it in `fmt` (html, large-print, easy-read or plain)
    and `lang` ("" for the organisation's): the version a reader with those choices gets
    (sending/editions.py), as an HTML document or the plain text. Raises EngageError when it
    cannot be built (lint says why)."""
    editions = Editions.of(workspace, campaign)
    choice = editions.choose(fmt, lang)
    built = editions.built(choice)
    if choice.variant == "plain":
        return built.personalise(person).text
    return built.html[choice.variant].render(person)
