"""A story's life: opened from a reply (or by hand), worked on, approved by its contributor,
published, or declined or withdrawn, with every step in its history.

The flow the team can move a story along (`engage stories set`):

    received -> in-progress -> awaiting-approval -> approved -> published
    declined / withdrawn from any open status

Two steps are not the team's to take: `awaiting-approval` comes from sending a draft
(`engage stories draft`), and `approved` comes from the contributor, on their private page.
Publishing needs the contributor's approval of the current draft, unless the team records why
not (`--without-approval --note`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..contacts import core
from ..errors import EngageError
from ..store.schema import (
    STORY_STATUSES,
    consents,
    contacts,
    inbound,
    stories,
    story_drafts,
    story_history,
    story_uses,
)

OPEN = ("received", "in-progress", "awaiting-approval", "approved")
CLOSED = ("published", "declined", "withdrawn")
NEXT: dict[str, tuple[str, ...]] = {
    "received": ("in-progress", "declined", "withdrawn"),
    "in-progress": ("awaiting-approval", "declined", "withdrawn"),
    "awaiting-approval": ("approved", "in-progress", "declined", "withdrawn"),
    "approved": ("published", "in-progress", "declined", "withdrawn"),
    "published": ("withdrawn",),
    "declined": (),
    "withdrawn": (),
}
# What the contributor is sent when their story reaches each status.
TEMPLATE_FOR = {
    "received": "acknowledgement",
    "in-progress": "update",
    "awaiting-approval": "draft",
    "approved": "update",
    "published": "published",
    "declined": "declined",
    "withdrawn": "update",
}


class StoryError(EngageError):
    """A story that is not there, or a step that cannot be taken now."""


@dataclass(frozen=True)
class Story:
    id: int
    contact_id: int
    email: str
    first_name: str
    name: str
    contact_status: str
    reply_id: int | None
    campaign: str | None
    title: str
    status: str
    owner: str
    link: str
    opened_at: dt.datetime
    updated_at: dt.datetime
    told_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "contributor": self.email,
            "name": self.name,
            "campaign": self.campaign,
            "title": self.title,
            "status": self.status,
            "owner": self.owner,
            "link": self.link,
            "opened_at": core.iso(self.opened_at),
            "updated_at": core.iso(self.updated_at),
            "told_at": core.iso(self.told_at),
        }


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _select() -> sa.Select:
    return sa.select(
        stories.c.id,
        stories.c.contact_id,
        contacts.c.email,
        contacts.c.first_name,
        contacts.c.name,
        contacts.c.status.label("contact_status"),
        stories.c.reply_id,
        stories.c.campaign,
        stories.c.title,
        stories.c.status,
        stories.c.owner,
        stories.c.link,
        stories.c.opened_at,
        stories.c.updated_at,
        stories.c.told_at,
    ).join(contacts, contacts.c.id == stories.c.contact_id)


def _story(row: sa.Row) -> Story:
    values = row._asdict()
    for key in ("opened_at", "updated_at", "told_at"):
        values[key] = _aware(values[key])
    return Story(**values)


def get(connection: sa.Connection, story_id: int) -> Story:
    row = connection.execute(_select().where(stories.c.id == story_id)).first()
    if row is None:
        raise StoryError(f"There is no story {story_id}. See the stories with: engage stories list")
    return _story(row)


def listing(
    connection: sa.Connection, status: str | None = None, owner: str | None = None
) -> list[Story]:
    query = _select().order_by(stories.c.id)
    if status:
        query = query.where(stories.c.status == status)
    if owner:
        query = query.where(sa.func.lower(stories.c.owner) == owner.strip().lower())
    return [_story(row) for row in connection.execute(query)]


def note(
    connection: sa.Connection,
    story_id: int,
    action: str,
    status: str,
    text: str = "",
    link: str = "",
    actor: str | None = None,
) -> None:
    connection.execute(
        story_history.insert().values(
            story_id=story_id,
            at=core.now(),
            action=action,
            status=status,
            note=text,
            link=link,
            actor=core.actor() if actor is None else actor,
        )
    )


def open_story(
    connection: sa.Connection,
    contact_id: int,
    *,
    reply_id: int | None = None,
    campaign: str | None = None,
    title: str = "",
    actor: str | None = None,
) -> int:
    """A new story, `received`. One story per reply: opening it again returns the same one."""
    if reply_id is not None:
        found = connection.execute(
            sa.select(stories.c.id).where(stories.c.reply_id == reply_id)
        ).scalar()
        if found is not None:
            return found
    at = core.now()
    story_id = connection.execute(
        stories.insert().values(
            contact_id=contact_id,
            reply_id=reply_id,
            campaign=campaign,
            title=title,
            status="received",
            owner="",
            link="",
            opened_at=at,
            updated_at=at,
            told_at=at,
        )
    ).inserted_primary_key[0]
    if reply_id is not None:  # the reply is dealt with: the story carries it on
        connection.execute(
            inbound.update().where(inbound.c.id == reply_id).values(status="done", updated_at=at)
        )
    how = f"from reply {reply_id}" if reply_id is not None else "by hand"
    note(connection, story_id, "opened", "received", f"Opened {how}.", actor=actor)
    return story_id


def unopened_story_replies(connection: sa.Connection) -> list[sa.Row]:
    """Story replies from a known person that have no story yet."""
    opened = sa.select(stories.c.reply_id).where(stories.c.reply_id.is_not(None))
    return connection.execute(
        sa.select(inbound.c.id, inbound.c.contact_id, inbound.c.campaign, inbound.c.subject)
        .where(
            inbound.c.kind == "story",
            inbound.c.contact_id.is_not(None),
            inbound.c.id.not_in(opened),
        )
        .order_by(inbound.c.id)
    ).all()


def allowed_next(story: Story) -> tuple[str, ...]:
    return NEXT[story.status]


def _not_approved(story: Story, without_approval: bool) -> StoryError:
    """Why a story cannot be published yet: its contributor has not approved it."""
    said = f"Story {story.id} has not been approved by its contributor"
    why = 'say why: --without-approval --note "..."'
    if without_approval:
        return StoryError(f"{said}. To publish it without their approval, {why}")
    if story.status == "awaiting-approval":
        return StoryError(
            f"{said}: they have the draft to read. Wait for their answer, or, if you must "
            f"publish without their approval, {why}"
        )
    return StoryError(
        f"{said}. Send them a draft to approve (engage stories draft {story.id} FILE.md), or, "
        f"if you must publish without their approval, {why}"
    )


def _refuse(story: Story, wanted: str, why: str) -> StoryError:
    steps = ", ".join(NEXT[story.status]) or "none (this story is closed)"
    return StoryError(
        f"Story {story.id} is {story.status}; it cannot be set to {wanted} {why}. "
        f"Next steps from {story.status}: {steps}."
    )


def current_draft(connection: sa.Connection, story_id: int) -> sa.Row | None:
    return connection.execute(
        sa.select(story_drafts)
        .where(story_drafts.c.story_id == story_id)
        .order_by(story_drafts.c.version.desc())
        .limit(1)
    ).first()


def set_status(
    connection: sa.Connection,
    story_id: int,
    status: str,
    *,
    note_text: str = "",
    link: str = "",
    without_approval: bool = False,
) -> Story:
    """The team moves a story on. Returns the story as it now is."""
    story = get(connection, story_id)
    if status not in STORY_STATUSES:
        raise StoryError(
            f"{status!r} is not a story status. Statuses: {', '.join(STORY_STATUSES)}. "
            f"Next steps from {story.status}: {', '.join(NEXT[story.status]) or 'none'}."
        )
    if status == story.status:
        raise StoryError(f"Story {story.id} is already {status}.")
    if without_approval and status != "published":
        raise StoryError("--without-approval is only for publishing.")
    # From any open step, publishing is a question of approval (or of a reason to go without
    # it), not of the steps in between; from a closed one it cannot be done at all.
    publishing = status == "published" and story.status in OPEN
    if status not in NEXT[story.status] and not publishing:
        raise _refuse(story, status, "from there")
    if status == "awaiting-approval":
        raise StoryError(
            f"A story is awaiting approval once its contributor has a draft to read. Send one "
            f"with: engage stories draft {story.id} FILE.md"
        )
    if status == "approved":
        raise StoryError(
            f"Only the contributor approves their story, on the page their draft email links "
            f"to. Send a draft with: engage stories draft {story.id} FILE.md"
        )
    if status == "published":
        draft = current_draft(connection, story.id)
        approved = story.status == "approved" and draft is not None and draft.decision == "approved"
        if not approved and not (without_approval and note_text.strip()):
            raise _not_approved(story, without_approval)
        if not link.strip():
            raise StoryError(
                "Give the link to where it is published, so we can send it to the "
                "contributor: --link URL"
            )
    values: dict[str, Any] = {"status": status, "updated_at": core.now()}
    if link:
        values["link"] = link.strip()
    connection.execute(stories.update().where(stories.c.id == story.id).values(**values))
    action = (
        "published-without-approval" if status == "published" and without_approval else "status"
    )
    note(connection, story.id, action, status, note_text.strip(), link.strip())
    return get(connection, story.id)


def assign(connection: sa.Connection, story_id: int, owner: str) -> Story:
    owner = " ".join(owner.split())
    if not owner:
        raise StoryError("Give the name of the person who will look after this story.")
    story = get(connection, story_id)
    connection.execute(
        stories.update().where(stories.c.id == story.id).values(owner=owner, updated_at=core.now())
    )
    note(connection, story.id, "assigned", story.status, f"Now with {owner}.")
    return get(connection, story.id)


def told(connection: sa.Connection, story_id: int, template: str, status: str) -> None:
    """The contributor has been sent news: the clock for follow-ups starts again."""
    connection.execute(stories.update().where(stories.c.id == story_id).values(told_at=core.now()))
    note(connection, story_id, "told", status, template)


def history(connection: sa.Connection, story_id: int) -> list[dict[str, Any]]:
    rows = connection.execute(
        sa.select(story_history)
        .where(story_history.c.story_id == story_id)
        .order_by(story_history.c.at, story_history.c.id)
    ).all()
    return [
        {
            "at": core.iso(row.at),
            "action": row.action,
            "status": row.status,
            "note": row.note,
            "link": row.link,
            "actor": row.actor,
        }
        for row in rows
    ]


def thread(connection: sa.Connection, story: Story) -> list[dict[str, Any]]:
    """What the contributor wrote: the reply that opened the story and every reply of theirs
    since, oldest first."""
    mine = inbound.c.contact_id == story.contact_id
    since = sa.or_(inbound.c.id == story.reply_id, inbound.c.received_at >= story.opened_at)
    rows = connection.execute(
        sa.select(inbound.c.id, inbound.c.received_at, inbound.c.kind, inbound.c.clean_text)
        .where(mine, since)
        .order_by(inbound.c.received_at, inbound.c.id)
    ).all()
    return [
        {"reply": r.id, "at": core.iso(r.received_at), "kind": r.kind, "text": r.clean_text}
        for r in rows
    ]


def story_consents(connection: sa.Connection, story_id: int) -> dict[str, bool]:
    """Where the story may appear (and whether name and photo may be used), as the
    contributor last said; a channel never answered is not allowed."""
    rows = connection.execute(
        sa.select(consents.c.channel, consents.c.action)
        .where(consents.c.story_id == story_id)
        .order_by(consents.c.recorded_at, consents.c.id)
    ).all()
    found: dict[str, bool] = {}
    for channel, action in rows:
        found[channel] = action == "given"
    return found


def uses(connection: sa.Connection, story_id: int) -> list[dict[str, Any]]:
    rows = connection.execute(
        sa.select(story_uses).where(story_uses.c.story_id == story_id).order_by(story_uses.c.id)
    ).all()
    return [
        {"campaign": r.campaign, "channel": r.channel, "link": r.link, "at": core.iso(r.at)}
        for r in rows
    ]


def owed(
    connection: sa.Connection, days: int, now: dt.datetime | None = None
) -> list[tuple[Story, int]]:
    """Open stories whose contributor has not heard from us for `days` days or more, with how
    many days each has waited; longest wait first. Nobody who withdrew or unsubscribed."""
    now = now or core.now()
    cutoff = now - dt.timedelta(days=days)
    found = [
        story
        for story in listing(connection)
        if story.status in OPEN
        and story.told_at <= cutoff
        and story.contact_status not in core.SUPPRESSED_STATUSES
    ]
    waits = [(story, (now - story.told_at).days) for story in found]
    return sorted(waits, key=lambda pair: (-pair[1], pair[0].id))
