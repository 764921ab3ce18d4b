"""A story's life: opened from a reply (or by hand), worked on, approved by its contributor,
published, or declined or withdrawn, with every step in its history.

    received -> in-progress -> awaiting-approval -> approved -> published
    declined / withdrawn from any open status; a decline or publication undone within a day

`steps` is the one place that decides what can happen to a story next, and who takes each
step: the team (`engage stories set`, `draft`, `reopen`) or the contributor (on their page).
Every list of next steps and every check of a step ask it, so a step that is offered always
works. Publishing needs the contributor's approval of the current draft, unless the team
records why not (`--without-approval --note`).
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
REOPEN_WITHIN = dt.timedelta(hours=24)  # a decline or publication can be undone this long
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
        found = core.find(connection, reply.sender)
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
        .values(kind="story", contact_id=contact_id, updated_at=core.now())
    )


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


@dataclass(frozen=True)
class Step:
    """Something that can happen to a story now: its name, who takes it (the team or the
    contributor), the status it leads to, and for the team the command that takes it."""

    name: str  # a status for `engage stories set`; or draft, reopen; or approve, changes,
    # choices, withdraw for the contributor on their page
    by: str
    to: str
    command: str = ""
    note: str = ""  # a condition, like "until 2 December 09:00 UTC"

    def shown(self, story_id: int) -> str:
        """The step in a one-line list: its name, and how to take it when that is more than
        `engage stories set ID NAME`."""
        plain = f"engage stories set {story_id} {self.name}"
        how = self.command.removeprefix(plain).strip()
        extra = [how] if how else []
        extra += [self.note] if self.note else []
        return f"{self.name} ({'; '.join(extra)})" if extra else self.name


def steps(connection: sa.Connection, story: Story) -> list[Step]:
    """Every step that would be accepted for this story now, the team's first. The one place
    that decides: every list of next steps and every check asks it."""
    sid, status = story.id, story.status
    found: list[Step] = []
    if status in ("received", "awaiting-approval", "approved"):
        found.append(
            Step("in-progress", "team", "in-progress", f"engage stories set {sid} in-progress")
        )
    if status in ("in-progress", "awaiting-approval", "approved"):
        found.append(
            Step("draft", "team", "awaiting-approval", f"engage stories draft {sid} FILE.md")
        )
    if status in OPEN:
        found.append(_publish_step(connection, story))
        found.append(Step("declined", "team", "declined", f"engage stories set {sid} declined"))
    if status != "withdrawn":
        found.append(Step("withdrawn", "team", "withdrawn", f"engage stories set {sid} withdrawn"))
    found += _reopen_step(connection, story)
    if status == "awaiting-approval" and current_draft(connection, sid) is not None:
        found += [
            Step("approve", "contributor", "approved"),
            Step("changes", "contributor", "in-progress"),
        ]
    if status != "withdrawn":
        found += [
            Step("choices", "contributor", status),
            Step("withdraw", "contributor", "withdrawn"),
        ]
    return found


def team_steps(connection: sa.Connection, story: Story) -> list[Step]:
    return [step for step in steps(connection, story) if step.by == "team"]


def find_step(connection: sa.Connection, story: Story, name: str, by: str) -> Step | None:
    return next((s for s in steps(connection, story) if s.name == name and s.by == by), None)


def approved_draft(connection: sa.Connection, story: Story) -> bool:
    """The contributor said yes to the current draft (and nothing has changed since)."""
    draft = current_draft(connection, story.id)
    return story.status == "approved" and draft is not None and draft.decision == "approved"


def _publish_step(connection: sa.Connection, story: Story) -> Step:
    command = f"engage stories set {story.id} published"
    if approved_draft(connection, story):
        return Step("published", "team", "published", f"{command} --link URL")
    return Step(
        "published",
        "team",
        "published",
        f'{command} --without-approval --note "..." --link URL',
        "they have not approved it",
    )


def closing(connection: sa.Connection, story: Story) -> tuple[dt.datetime, str] | None:
    """When the story reached the status it has now, and the status it had before; None for
    a story that has had no other."""
    rows = connection.execute(
        sa.select(story_history.c.at, story_history.c.status)
        .where(story_history.c.story_id == story.id)
        .order_by(story_history.c.id.desc())  # the order things were written in
    ).all()
    since = None
    for row in rows:
        if row.status != story.status:
            return (since, row.status) if since is not None else None
        since = _aware(row.at)
    return None


def _reopen_step(connection: sa.Connection, story: Story) -> list[Step]:
    if story.status not in ("declined", "published"):
        return []
    closed = closing(connection, story)
    if closed is None or core.now() > closed[0] + REOPEN_WITHIN:
        return []
    until = closed[0] + REOPEN_WITHIN
    return [
        Step(
            "reopen",
            "team",
            closed[1],
            f"engage stories reopen {story.id}",
            f"until {until:%-d %B %H:%M} UTC",
        )
    ]


def next_steps(connection: sa.Connection, story: Story) -> str:
    """The team's next steps, in one line, for messages."""
    found = [step.shown(story.id) for step in team_steps(connection, story)]
    return ", ".join(found) or "none (this story is closed)"


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


def _refuse(connection: sa.Connection, story: Story, wanted: str) -> StoryError:
    return StoryError(
        f"Story {story.id} is {story.status}; it cannot be set to {wanted} from there. "
        f"Next steps from {story.status}: {next_steps(connection, story)}."
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
    story = check_status(connection, story_id, status, without_approval=without_approval)
    if status == "published":
        if not approved_draft(connection, story) and not (without_approval and note_text.strip()):
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


def check_status(
    connection: sa.Connection, story_id: int, status: str, *, without_approval: bool = False
) -> Story:
    """The story, when the team may set it to `status` now; else why not, and what may be."""
    story = get(connection, story_id)
    if status not in STORY_STATUSES:
        raise StoryError(
            f"{status!r} is not a story status. Statuses: {', '.join(STORY_STATUSES)}. "
            f"Next steps from {story.status}: {next_steps(connection, story)}."
        )
    if status == story.status:
        raise StoryError(f"Story {story.id} is already {status}.")
    if without_approval and status != "published":
        raise StoryError("--without-approval is only for publishing.")
    if status == "approved":
        raise StoryError(
            f"Only the contributor approves their story, on the page their draft email links "
            f"to. Send a draft with: engage stories draft {story.id} FILE.md"
        )
    if status == "awaiting-approval" and find_step(connection, story, "draft", "team"):
        raise StoryError(
            f"A story is awaiting approval once its contributor has a draft to read. Send one "
            f"with: engage stories draft {story.id} FILE.md"
        )
    if find_step(connection, story, status, "team") is None:
        raise _refuse(connection, story, status)
    return story


def reopen(connection: sa.Connection, story_id: int, note_text: str = "") -> Story:
    """Undo a decline or a publication within REOPEN_WITHIN: the story goes back to the
    status it had before."""
    story = get(connection, story_id)
    step = find_step(connection, story, "reopen", "team")
    if step is None:
        raise _cannot_reopen(connection, story)
    values: dict[str, Any] = {"status": step.to, "updated_at": core.now()}
    if story.status == "published":
        values["link"] = ""  # the history keeps where it was
    connection.execute(stories.update().where(stories.c.id == story.id).values(**values))
    note(connection, story.id, "reopened", step.to, note_text.strip())
    return get(connection, story.id)


def _cannot_reopen(connection: sa.Connection, story: Story) -> StoryError:
    if story.status in OPEN:
        return StoryError(
            f"Story {story.id} is {story.status}: it is open, so there is nothing to reopen."
        )
    if story.status == "withdrawn":
        return StoryError(
            f"Story {story.id} was taken back by its contributor, so it cannot be reopened. "
            "If they ask to share it again, open a new story: engage stories open EMAIL"
        )
    closed = closing(connection, story)
    when = f" on {closed[0]:%-d %B at %H:%M} UTC" if closed else ""
    return StoryError(
        f"Story {story.id} was {story.status}{when}, more than a day ago, so it cannot be "
        f"reopened. To take it up again, open a new story: engage stories open {story.email}"
    )


TITLE_LIMIT = 200


def set_title(connection: sa.Connection, story_id: int, title: str) -> Story:
    """The few words the team knows a story by (its contributor sees them on their page)."""
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
    note(connection, story.id, "titled", story.status, title)
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
