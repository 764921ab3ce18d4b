"""A story's life: opened from a reply (or by hand), worked on, approved by its contributor,
published, or declined or withdrawn, with every step in its history.

    received -> in-progress -> awaiting-approval -> approved -> published
    declined / withdrawn from any open status; a decline or publication undone within a day

This module keeps the story and its records. Opening one is in `opening`; what may happen to
a story next, and the team's steps that move it on, are in `steps`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..contacts import core
from ..errors import EngageError
from ..store.schema import (
    consents,
    contacts,
    inbound,
    stories,
    story_drafts,
    story_history,
    story_uses,
)
from ..team import audit

OPEN = ("received", "in-progress", "awaiting-approval", "approved")
CLOSED = ("published", "declined", "withdrawn")
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
    lang: str = ""  # the contributor's language (contacts.lang): their emails and story page

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
        contacts.c.lang,
    ).join(contacts, contacts.c.id == stories.c.contact_id)


def _story(row: sa.Row) -> Story:
    return Story(**row._asdict())


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


def current_draft(connection: sa.Connection, story_id: int) -> sa.Row | None:
    return connection.execute(
        sa.select(story_drafts)
        .where(story_drafts.c.story_id == story_id)
        .order_by(story_drafts.c.version.desc())
        .limit(1)
    ).first()


TITLE_LIMIT = 200


def who(actor: str) -> str:
    """The name a story's history gives `actor` (who did something, as the audit log names
    them): the computer's user at the command line, the member's email in the console."""
    return core.actor() if actor == audit.command_line() else actor


def set_title(connection: sa.Connection, story_id: int, title: str, actor: str) -> Story:
    """The few words the team knows a story by (its contributor sees them on their page).
    `actor` did it (see team/audit.py)."""
    title = " ".join(title.split())
    if not title:
        raise StoryError(
            f'Give the title in quotes, like: engage stories title {story_id} "Sam finds her team"'
        )
    if len(title) > TITLE_LIMIT:
        raise StoryError(
            f"A title is a few words, at most {TITLE_LIMIT} characters; this one has "
            f"{len(title)}. Make it shorter."
        )
    story = get(connection, story_id)
    connection.execute(
        stories.update().where(stories.c.id == story.id).values(title=title, updated_at=core.now())
    )
    note(connection, story.id, "titled", story.status, title, actor=who(actor))
    audit.record(connection, actor, "story retitled", f"story {story.id}", title)
    return get(connection, story.id)


def assign(connection: sa.Connection, story_id: int, owner: str, actor: str) -> Story:
    """Give the story to `owner` on the team to look after. `actor` did it."""
    owner = " ".join(owner.split())
    if not owner:
        raise StoryError("Give the name of the person who will look after this story.")
    story = get(connection, story_id)
    connection.execute(
        stories.update().where(stories.c.id == story.id).values(owner=owner, updated_at=core.now())
    )
    note(connection, story.id, "assigned", story.status, f"Now with {owner}.", actor=who(actor))
    audit.record(connection, actor, "story assigned", f"story {story.id}", f"to {owner}")
    return get(connection, story.id)


def told(connection: sa.Connection, story_id: int, template: str, status: str) -> None:
    """The contributor has been sent news: the clock for follow-ups starts again."""
    connection.execute(stories.update().where(stories.c.id == story_id).values(told_at=core.now()))
    note(connection, story_id, "told", status, template)


def claim_told(connection: sa.Connection, story: Story) -> bool:
    """Take `story` to send it news, before the email goes: its clock starts again now. False
    (send nothing) when another process told them since `story` was read."""
    taken = connection.execute(
        stories.update()
        .where(stories.c.id == story.id, stories.c.told_at == story.told_at)
        .values(told_at=core.now())
    )
    return taken.rowcount == 1


def unclaim_told(connection: sa.Connection, story: Story) -> None:
    """The news surely did not go: the story is owed it again, as before the claim."""
    connection.execute(
        stories.update().where(stories.c.id == story.id).values(told_at=story.told_at)
    )


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
    waits = [(story, waited(story, now)) for story in found]
    return sorted(waits, key=lambda pair: (-pair[1], pair[0].id))


def waited(story: Story, now: dt.datetime | None = None) -> int:
    """Whole days since the contributor last heard from us about this story."""
    return ((now or core.now()) - story.told_at).days
