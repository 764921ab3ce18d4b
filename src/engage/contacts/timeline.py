"""A person's whole history with us, in time order: consents, emails, what the providers told
us, their replies and the team's answers to them, and their stories with every draft, approval
and update."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from ..store.schema import (
    consents,
    contact_changes,
    deliveries,
    events,
    inbound,
    outgoing,
    sends,
    stories,
    story_history,
)
from .core import Contact, iso

_STORY_WORDS = {
    "opened": "story {story} opened",
    "status": "story {story} set to {status}",
    "assigned": "story {story} assigned",
    "draft": "story {story}: a draft sent to them to approve",
    "approved": "story {story}: they approved the draft",
    "changes": "story {story}: they asked for changes",
    "consent": "story {story}: their choices of where it may appear",
    "withdrawn": "story {story} withdrawn",
    "told": "story {story}: {note} email sent to them",
    "not-told": "story {story}: an email to them could not be sent",
    "went-out": "story {story} went out",
    "published-without-approval": "story {story} published without their approval",
    "reopened": "story {story} reopened, back to {status}",
    "titled": "story {story} given a title",
    "team-not-told": "story {story}: an email to the team about it could not be sent",
    "stop-asked": "story {story}: they asked us to stop writing (the team was told)",
}
# An answer to a reply (replies/answers.py), by the state of its row in engage's queue.
ANSWER_STATES = {
    "waiting": "waiting to be sent",
    "claimed": "waiting to be sent",
    "sending": "being sent",
    "sent": "sent",
    "failed": "not sent",
    "skipped": "not sent",
    "unknown": "may or may not have gone",
}
_CHANGE_WORDS = {"signup-tags": "tags given for signing up", "preferences": "choices changed"}


_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)  # where a row has no time: first


def timeline(connection: sa.Connection, contact: Contact) -> list[dict[str, Any]]:
    found: list[tuple[dt.datetime, int, dict[str, Any]]] = []

    def add(at: dt.datetime | None, order: int, what: str, detail: str) -> None:
        found.append((at or _NEVER, order, {"at": iso(at), "what": what, "detail": detail}))

    for row in connection.execute(
        sa.select(consents).where(consents.c.contact_id == contact.id).order_by(consents.c.id)
    ):
        if row.story_id:
            answer = "yes" if row.action == "given" else "no"
            add(row.recorded_at, row.id, f"story {row.story_id}: {row.channel} {answer}", "")
        else:
            by = f", by {row.actor}" if row.actor else ""
            add(
                row.recorded_at,
                row.id,
                f"consent {row.action}",
                f"{row.channel} ({row.method}){by}",
            )
    for row in connection.execute(
        sa.select(contact_changes)
        .where(contact_changes.c.contact_id == contact.id)
        .order_by(contact_changes.c.id)
    ):
        what = _CHANGE_WORDS.get(row.kind, row.kind)
        add(row.at, row.id, what, f"{row.detail}; by {row.actor}, from {row.source}")
    for row in connection.execute(
        sa.select(sends.c.campaign, deliveries.c.status, deliveries.c.sent_at, deliveries.c.id)
        .join(sends, sends.c.id == deliveries.c.send_id)
        .where(deliveries.c.contact_id == contact.id)
    ):
        add(row.sent_at, row.id, f"email {row.status}", row.campaign)
    for row in connection.execute(
        sa.select(events).where(events.c.contact_id == contact.id).order_by(events.c.id)
    ):
        add(row.occurred_at, row.id, f"provider said {row.event_type}", row.provider)
    for row in connection.execute(
        sa.select(inbound.c.id, inbound.c.kind, inbound.c.received_at, inbound.c.campaign)
        .where(inbound.c.contact_id == contact.id)
        .order_by(inbound.c.id)
    ):
        add(row.received_at, row.id, f"reply {row.id} ({row.kind})", row.campaign or "")
    for row in connection.execute(
        sa.select(outgoing)
        .where(outgoing.c.contact_id == contact.id, outgoing.c.kind == "answer")
        .order_by(outgoing.c.id)
    ):
        add(row.created_at, row.id, *answer_words(row))
    for row in connection.execute(
        sa.select(story_history, stories.c.id.label("sid"))
        .join(stories, stories.c.id == story_history.c.story_id)
        .where(stories.c.contact_id == contact.id)
        .order_by(story_history.c.id)
    ):
        words = _STORY_WORDS.get(row.action, "story {story}: " + row.action)
        what = words.format(story=row.sid, status=row.status, note=row.note)
        detail = " ".join(part for part in (row.note, row.link) if part and "{note}" not in words)
        add(row.at, row.id, what, detail)
    found.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in found]


def answer_words(row: sa.Row) -> tuple[str, str]:
    """What a timeline says of the team's answer to a reply (a row of `outgoing`): whether it
    went, who wrote it and what it said, on one line."""
    made = row.payload
    state = ANSWER_STATES.get(row.state, row.state)
    why = f" ({row.error})" if row.state in ("failed", "skipped", "unknown") and row.error else ""
    words = " ".join(str(made.get("text", "")).split())
    return f"answer to reply {made.get('reply')} {state}{why}", f"by {made.get('by')}: {words}"
