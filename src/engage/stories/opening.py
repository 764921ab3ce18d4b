"""Opening stories: for each story reply from a known person, for a reply the team files as a
story from the inbox, or by hand for a story that came some other way. One story per reply,
however many processes open it at once."""

from __future__ import annotations

import sqlalchemy as sa

from ..contacts import core as people
from ..store.schema import inbound, stories
from .core import StoryError, note


def story_for_reply(connection: sa.Connection, reply_id: int) -> int | None:
    """The story a reply opened, if any. Locks the reply first (on PostgreSQL; SQLite locks
    the whole file), so two processes opening it at once make one story: the second waits,
    then finds the first's."""
    connection.execute(sa.select(inbound.c.id).where(inbound.c.id == reply_id).with_for_update())
    return connection.execute(
        sa.select(stories.c.id).where(stories.c.reply_id == reply_id)
    ).scalar()


def open_replies(
    connection: sa.Connection, actor: str, only: int | None = None, title: str = ""
) -> list[int]:
    """Open a story for each story reply from a known person that has none (or for reply
    `only`). Returns the stories opened now, never one another process opened."""
    opened = []
    for reply in unopened_story_replies(connection):
        if only is not None and reply.id != only:
            continue
        if story_for_reply(connection, reply.id) is not None:
            continue
        opened.append(
            open_story(
                connection,
                reply.contact_id,
                reply_id=reply.id,
                campaign=reply.campaign,
                title=title,
                actor=actor,
            )
        )
    return opened


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
        found = story_for_reply(connection, reply_id)
        if found is not None:
            return found
    at = people.now()
    story_id = connection.execute(
        stories.insert()
        .values(
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
        .returning(stories.c.id)
    ).scalar_one()
    if reply_id is not None:  # the reply is dealt with: the story carries it on
        connection.execute(
            inbound.update().where(inbound.c.id == reply_id).values(status="done", updated_at=at)
        )
    how = f"from reply {reply_id}" if reply_id is not None else "by hand"
    note(connection, story_id, "opened", "received", f"Opened {how}.", actor=actor)
    return story_id


# Replies that cannot become a story, and why.
NOT_A_STORY = {
    "bounce": "is a delivery failure notice from a mail system, not from a person",
    "auto-reply": "is an automatic reply (like an out-of-office), not from a person",
    "unsubscribe": "asked us to stop writing, and a story means writing to them about it",
}


def file_as_story(connection: sa.Connection, reply_id: int) -> None:
    """The team says a reply in the inbox is a story after all: it is filed as one, for its
    sender, so the next opening of story replies takes it."""
    reply = connection.execute(
        sa.select(inbound.c.id, inbound.c.contact_id, inbound.c.sender, inbound.c.kind).where(
            inbound.c.id == reply_id
        )
    ).first()
    if reply is None:
        raise StoryError(f"There is no reply {reply_id}. See the replies with: engage replies list")
    opened = story_for_reply(connection, reply_id)
    if opened is not None:
        raise StoryError(
            f"Reply {reply_id} already opened story {opened}. See it with: "
            f"engage stories show {opened}"
        )
    if reply.kind in NOT_A_STORY:
        raise StoryError(f"Reply {reply_id} {NOT_A_STORY[reply.kind]}, so it cannot open a story.")
    contact_id = reply.contact_id
    if contact_id is None:
        found = people.find(connection, reply.sender)
        if found is None:
            raise StoryError(
                f"Reply {reply_id} is from {reply.sender}, who is not in your contacts, so "
                "we cannot write to them about a story. Add them first (see: engage contacts "
                "add --help), then run this again."
            )
        contact_id = found.id
    connection.execute(
        inbound.update()
        .where(inbound.c.id == reply_id)
        .values(kind="story", contact_id=contact_id, updated_at=people.now())
    )


def unopened_story_replies(connection: sa.Connection) -> list[sa.Row]:
    """Story replies from a known person that have no story yet."""
    opened = sa.select(stories.c.reply_id).where(stories.c.reply_id.is_not(None))
    return list(
        connection.execute(
            sa.select(inbound.c.id, inbound.c.contact_id, inbound.c.campaign, inbound.c.subject)
            .where(
                inbound.c.kind == "story",
                inbound.c.contact_id.is_not(None),
                inbound.c.id.not_in(opened),
            )
            .order_by(inbound.c.id)
        ).all()
    )
