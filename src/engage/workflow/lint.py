"""Lint with every check: the render rules, and the checks on what a campaign asks of the
layers above rendering (its [social.NAME] tables, its stories). `engage lint`, a test copy
and every real send run this one list."""

from __future__ import annotations

from collections.abc import Iterable

from .. import campaigns as campaign_files
from .. import langs
from ..campaigns import OWN_KEYS, Campaign, front_matter_line
from ..config import Workspace
from ..contacts.audiences import reading_choices
from ..errors import CampaignError, EngageError, LintFailed
from ..render import lint as render_lint
from ..render import rules_audience
from ..render.findings import Finding, refusal, sort_key
from ..sending.editions import Editions, shortfalls
from ..social import channels
from ..store import open_store
from ..stories import usage as story_usage


def social(workspace: Workspace, campaign: Campaign, shown: str) -> Iterable[Finding]:  # noqa: ARG001
    """The campaign's [social.NAME] tables, checked as `engage post` and `engage run` check
    them (social/channels.py owns both rules)."""
    return [
        Finding(rule, p.where, p.message, p.fix)
        for rule, problems in (
            ("social-channel-unknown", channels.unknown_tables(workspace, campaign)),
            ("social-before-send", channels.early_posts(workspace, campaign)),
            ("social-easy-read", channels.misplaced_tables(workspace, campaign)),
        )
        for p in problems
    ]


CHECKS: tuple[render_lint.Check, ...] = (
    render_lint.front_matter,
    story_usage.check,
    social,
    render_lint.audience_findings,
    render_lint.base_url,
)


# A version (a translation, an Easy Read version) is checked as the campaign is, except for
# what it takes from the campaign (its audience, stories, the web address), checked there once.
VERSION_CHECKS: tuple[render_lint.Check, ...] = (render_lint.front_matter, social)


def lint(workspace: Workspace, campaign: Campaign) -> list[Finding]:
    """Every finding on the campaign, with every check, and on each of its versions."""
    if campaign.is_version:
        return render_lint.lint(workspace, campaign, VERSION_CHECKS) + _own_keys(
            workspace, campaign
        )
    findings = render_lint.lint(workspace, campaign, CHECKS)
    return sorted(render_lint.unique(findings + _versions(workspace, campaign)), key=sort_key)


def require_clean(workspace: Workspace, campaign: Campaign) -> list[Finding]:
    """Lint with every check before a real send: raise LintFailed on any error."""
    findings = lint(workspace, campaign)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise LintFailed(refusal(campaign.slug, errors))
    return findings


# Seconds apart that files count as saved together: a checkout or a copy writes a campaign and
# its versions in any order, moments apart; a person changes the campaign later than that.
SAVED_TOGETHER = 60


def _versions(workspace: Workspace, campaign: Campaign) -> list[Finding]:
    """Each version checked as the campaign is, each saved since the campaign changed, and
    who in the audience will not get the language or the Easy Read they asked for."""
    try:
        found = campaign_files.versions(workspace, campaign)
    except CampaignError as exc:
        return [Finding("version-unreadable", *_split(str(exc)))]
    findings: list[Finding] = []
    changed = campaign.path.stat().st_mtime
    for version in found:
        shown = workspace.relative(version.path)
        try:
            findings += lint(workspace, version)
        except EngageError as exc:  # it cannot be built: say why, and lint the rest
            where, what = _split(str(exc))
            findings.append(Finding("version-unreadable", where or shown, what))
        if version.path.stat().st_mtime < changed - SAVED_TOGETHER:
            findings.append(
                Finding(
                    "version-older",
                    shown,
                    f"{shown} was last saved before {workspace.relative(campaign.path)} changed, "
                    "so it may not say what the campaign says now.",
                    "Check it says the same as the campaign, then save it again.",
                )
            )
    return findings + _shortfalls(workspace, campaign)


def _own_keys(workspace: Workspace, version: Campaign) -> list[Finding]:
    """Front matter keys a version sets that are the campaign's own (and so left unused)."""
    shown = workspace.relative(version.path)
    original = workspace.relative(version.path.with_name(f"{version.slug}.md"))
    return [
        Finding(
            "version-own-key",
            f"{shown}:{front_matter_line(version, key)}",
            f"{key} is taken from {original}, so every version goes out together; this one is "
            "not used.",
            f"Take {key} out of {shown}, and set it in {original}.",
        )
        for key in version.own_keys
        if key not in OWN_KEYS
    ]


def _shortfalls(workspace: Workspace, campaign: Campaign) -> list[Finding]:
    """People in the audience who asked for a language the campaign is not in, or for Easy
    Read when it has no Easy Read version: how many, and what they get instead."""
    audience, _problem = rules_audience.load(workspace, campaign)
    if audience is None:
        return []  # the audience rules say why
    store = open_store(workspace)
    try:
        with store.connect() as connection:
            groups = reading_choices(connection, audience)
    finally:
        store.engine.dispose()
    editions = Editions.of(workspace, campaign)
    shown = workspace.relative(campaign.path)
    home = langs.english_name(editions.home)
    findings = []
    for short in shortfalls(editions, groups):
        people = "1 person" if short.people == 1 else f"{short.people} people"
        if not short.lang:
            findings.append(
                Finding(
                    "easy-read-missing",
                    shown,
                    f"{people} in the audience asked for Easy Read, and this campaign has no "
                    "Easy Read version for them, so they will get large print.",
                    f"Write {workspace.relative(campaign.path.with_suffix(''))}.easy-read.md: "
                    "see docs/easy-read.md.",
                )
            )
            continue
        name = langs.english_name(short.lang)
        findings.append(
            Finding(
                "translation-missing",
                shown,
                f"{people} in the audience asked for {name} ({short.lang}), and this campaign "
                f"is not in {name}, so they will get it in {home}.",
                f"Write {workspace.relative(campaign.path.with_suffix(''))}.{short.lang}.md, "
                "the campaign in their language: see docs/languages.md.",
            )
        )
    return findings


def _split(text: str) -> tuple[str, str]:
    """A CampaignError's text as (where, what): "campaigns/x.cy.md:3: ..." ."""
    where, _, what = text.partition(": ")
    return (where, what) if what and ".md" in where else ("", text)
