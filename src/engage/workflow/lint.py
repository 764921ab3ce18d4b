"""Lint with every check: the render rules, and the checks on what a campaign asks of the
layers above rendering (its [social.NAME] tables, its stories). `engage lint`, a test copy
and every real send run this one list."""

from __future__ import annotations

from collections.abc import Iterable

from ..campaigns import Campaign
from ..config import Workspace
from ..render import lint as render_lint
from ..render.findings import Finding
from ..social import channels
from ..stories import usage as story_usage


def social(workspace: Workspace, campaign: Campaign, shown: str) -> Iterable[Finding]:  # noqa: ARG001
    """The campaign's [social.NAME] tables, checked as `engage post` and `engage run` check
    them (social/channels.py owns both rules)."""
    return [
        Finding(rule, p.where, p.message, p.fix)
        for rule, problems in (
            ("social-channel-unknown", channels.unknown_tables(workspace, campaign)),
            ("social-before-send", channels.early_posts(workspace, campaign)),
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


def lint(workspace: Workspace, campaign: Campaign) -> list[Finding]:
    """Every finding on the campaign, with every check."""
    return render_lint.lint(workspace, campaign, CHECKS)


def require_clean(workspace: Workspace, campaign: Campaign) -> list[Finding]:
    """Lint with every check before a real send: raise LintFailed on any error."""
    return render_lint.require_clean(workspace, campaign, CHECKS)
