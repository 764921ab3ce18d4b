"""Who a send goes to: the campaign's audience as lint reads it, a refusal when nobody in it
can be sent to, and the plan `--dry-run` renders and `engage send` asks about first."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .. import recipients
from ..campaigns import Campaign
from ..config import Workspace
from ..contacts import audiences
from ..render import rules_audience
from ..render.findings import refusal
from ..send_status import is_stopped, stopped_text
from ..store.schema import contacts, deliveries, sends
from .messages import Row
from .results import Options, SendError


@dataclass(frozen=True)
class Plan:
    """Who a send would go to now. `total`: everyone it would look at (the audience, or the
    people still waiting in a started send); `going`: those it would send to (within --limit);
    `skipped`: how many it would skip, by reason; `started`: the send had started before."""

    total: int
    going: list
    skipped: dict[str | None, int]
    started: bool


def audience(workspace: Workspace, campaign: Campaign) -> tuple[str, audiences.Audience]:
    """The campaign's audience, read as lint reads it (rules_audience.load); a refusal
    says what lint says."""
    found, problem = rules_audience.load(workspace, campaign)
    if found is None:
        raise SendError(refusal(campaign.slug, [problem]))  # type: ignore[list-item]
    return found.name, found


def refuse_nobody(
    connection: sa.Connection, slug: str, name: str, audience: audiences.Audience
) -> None:
    """A send to nobody is refused before anything is stored, so the campaign stays as it
    was (not sent, not in the archive)."""
    if anyone(connection, audience):
        return
    everybody = people(connection, recipients.members(audience))
    skipped = Counter(recipients.skip_reasons(connection, everybody).values())
    everyone = f"all {len(everybody)} people" if len(everybody) > 1 else "the 1 person"
    why = (
        f"{everyone} in it would be skipped ({recipients.describe(skipped)})"
        if everybody
        else "it has nobody in it"
    )
    raise SendError(
        f"Nobody in the audience {name} can be sent {slug}: {why}. Nothing "
        f"was sent and the campaign stays as it was. See who is in it with `engage "
        f"audiences show {name}`, or choose another audience in its front matter."
    )


def anyone(connection: sa.Connection, audience: audiences.Audience) -> bool:
    """Whether at least one person in the audience can be sent to now. A page of ids at a
    time, so a million people are never all in memory (the first page usually answers)."""
    members = recipients.members(audience).order_by(contacts.c.id).limit(recipients.CHUNK)
    last = 0
    while True:
        chunk = list(connection.execute(members.where(contacts.c.id > last)).scalars())
        if not chunk:
            return False
        found = people(connection, chunk)
        if len(recipients.skip_reasons(connection, found)) < len(found):
            return True
        last = chunk[-1]


def people(connection: sa.Connection, within: Any) -> list[sa.Row]:
    """(id, email, status) of the contacts whose ids are `within` (a list or a select)."""
    return list(
        connection.execute(
            sa.select(contacts.c.id, contacts.c.email, contacts.c.status)
            .where(contacts.c.id.in_(within))
            .order_by(contacts.c.id)
        ).all()
    )


def plan(
    connection: sa.Connection, workspace: Workspace, campaign: Campaign, options: Options
) -> Plan:
    """Who the real send would send to now, and who it would skip and why: what
    `--dry-run` renders and what `engage send` says before it asks."""
    started, rows = _would_send(connection, workspace, campaign, options)
    reasons = recipients.skip_reasons(connection, rows)
    going = [row for row in rows if row.id not in reasons]
    if options.limit is not None:
        going = going[: options.limit]
    return Plan(len(rows), going, dict(Counter(reasons.values())), started)


def _would_send(
    connection: sa.Connection, workspace: Workspace, campaign: Campaign, options: Options
) -> tuple[bool, list[Row]]:
    """Who the real send would hand a message to now, before the skip check: the rest of
    a send already started (True), else everyone in the audience (refused if nobody can
    go). Refused, as the real send is, when a person stopped it and this is no --resume."""
    existing = connection.execute(sa.select(sends).where(sends.c.campaign == campaign.slug)).first()
    if existing is not None:
        if is_stopped(existing) and (not options.resume or existing.cancelled_at is not None):
            raise SendError(stopped_text(connection, existing))
        waiting = ["pending", "claimed"] + (["unknown"] if options.resend_unknown else [])
        query = (
            sa.select(deliveries.c.id, contacts.c.id.label("contact_id"))
            .join(contacts, contacts.c.id == deliveries.c.contact_id)
            .where(deliveries.c.send_id == existing.id, deliveries.c.status.in_(waiting))
        )
    else:
        name, found = audience(workspace, campaign)
        refuse_nobody(connection, campaign.slug, name, found)
        query = sa.select(contacts.c.id, contacts.c.id.label("contact_id")).where(
            contacts.c.id.in_(recipients.members(found))
        )
    rows = connection.execute(
        query.add_columns(
            contacts.c.email,
            contacts.c.name,
            contacts.c.first_name,
            contacts.c.format,
            contacts.c.status,
            contacts.c.lang,
        ).order_by(contacts.c.id)
    ).all()
    return existing is not None, [Row(*row) for row in rows]
