"""Who a campaign goes to: the audience rules, which lint and send both run.

`check` is the one place that decides whether a campaign's audience can be used: lint reports
its findings, and a real send calls it too and refuses what it finds (every error, and an
empty audience: see REFUSED_BY_SEND), so lint and send always agree.
"""

from __future__ import annotations

import sqlalchemy as sa

from .. import subscriptions
from ..campaigns import Campaign, front_matter_line
from ..config import Workspace
from ..contacts import audiences
from ..store.schema import contacts
from .findings import Finding

# Warnings in lint that still stop a real send: a send to nobody is refused, never marked sent.
REFUSED_BY_SEND = frozenset({"audience-empty"})


def check(
    workspace: Workspace, campaign: Campaign, connection: sa.Connection, shown: str = ""
) -> list[Finding]:
    """Findings about the campaign's audience: none named, no such audience, a file that
    cannot be read, nobody in it now, and (for a newsletter) one that web sign-ups can never
    join, or earlier sign-ups left out of it."""
    audience, problem = load(workspace, campaign, shown)
    if audience is None:
        return [problem] if problem else []
    where = _where(workspace, campaign, shown)
    found = _empty(connection, audience, where)
    if campaign.meta.kind == "newsletter":
        found += _signups(workspace, connection, audience, where)
    return found


def load(
    workspace: Workspace, campaign: Campaign, shown: str = ""
) -> tuple[audiences.Audience | None, Finding | None]:
    """The campaign's audience, or the finding that says why it cannot be used. The one
    reading of `audience = ...` that lint and a real send (sending/plan.py) share."""
    where = _where(workspace, campaign, shown)
    name = campaign.meta.audience.strip()
    if not name:
        return None, _missing(workspace, where)
    try:
        return audiences.load(workspace, name), None
    except audiences.UnknownAudience as exc:
        return None, Finding(
            "audience-unknown",
            where,
            str(exc),
            "Change audience in the front matter to one of those, or add the audience "
            "file. See docs/audiences.md.",
        )
    except audiences.AudienceError as exc:
        return None, Finding("audience-invalid", where, str(exc), "Fix the audience file.")


def _where(workspace: Workspace, campaign: Campaign, shown: str) -> str:
    shown = shown or workspace.relative(campaign.path)
    return f"{shown}:{front_matter_line(campaign, 'audience')}"


def _missing(workspace: Workspace, where: str) -> Finding:
    known = ", ".join(p.stem for p in sorted(workspace.audiences_dir.glob("*.toml"))) or "none"
    return Finding(
        "audience-missing",
        where,
        "The campaign does not say who it goes to: it has no audience.",
        f'Add audience = "newsletter" (or another audience) to the front matter. The audiences '
        f"here are: {known}.",
    )


def _empty(connection: sa.Connection, audience: audiences.Audience, where: str) -> list[Finding]:
    if audiences.count(connection, audience) > 0:
        return []
    subscribed = connection.execute(
        sa.select(sa.func.count()).where(contacts.c.status == "subscribed")
    ).scalar_one()
    noun = "subscribed contact" if subscribed == 1 else "subscribed contacts"
    why = (
        f"none of your {subscribed} {noun} matches its rules"
        if subscribed
        else "there are no subscribed contacts yet"
    )
    return [
        Finding(
            "audience-empty",
            where,
            f"Nobody is in the audience {audience.name} now: {why}. This campaign would go to "
            "nobody.",
            f"See who its rules pick with `engage audiences show {audience.name}`, and check "
            "the tags people have. A send to nobody is refused.",
        )
    ]


def _signups(
    workspace: Workspace, connection: sa.Connection, audience: audiences.Audience, where: str
) -> list[Finding]:
    offer = subscriptions.offer(workspace)
    given = ", ".join(offer.tags) or "none"
    reason = audiences.why_no_signups(audience, list(offer.tags), list(offer.topics))
    if reason:
        return [
            Finding(
                "audience-no-signups",
                where,
                f"People who sign up on the web form can never be in the audience "
                f"{audience.name}: {reason}.",
                f"Sign-ups get the tags in [web] signup_tags (now: {given}) and the topics they "
                "choose. Give sign-ups a tag this audience picks, or choose another audience. "
                "See docs/audiences.md.",
            )
        ]
    earlier = [contact_id for contact_id, _ in subscriptions.earlier_signups(connection, offer)]
    if not earlier:
        return []
    inside = connection.execute(
        sa.select(sa.func.count()).where(
            contacts.c.id.in_(earlier), contacts.c.id.in_(audiences.member_ids(audience))
        )
    ).scalar_one()
    left_out = len(earlier) - inside
    if not left_out:
        return []
    people = "1 person" if left_out == 1 else f"{left_out} people"
    return [
        Finding(
            "audience-signups-untagged",
            where,
            f"{people} who confirmed on the sign-up form before sign-ups were given tags "
            f"{'is' if left_out == 1 else 'are'} not in the audience {audience.name}.",
            f"Run `engage contacts tag-signups` to give them the sign-up tags ({given}).",
        )
    ]
