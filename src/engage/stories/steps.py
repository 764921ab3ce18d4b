"""What can happen to a story next, and who takes each step: the team (`engage stories set`,
`draft`, `reopen`) or the contributor (on their page).

`steps` is the one place that decides. Every list of next steps and every check of a step ask
it, so a step that is offered always works. Publishing needs the contributor's approval of
the current draft, unless the team records why not (`--without-approval --note`). A decline or
a publication can be undone for REOPEN_WITHIN, by engage's clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..contacts import core as people
from ..store.schema import STORY_STATUSES, stories, story_history
from ..team import audit
from .core import OPEN, Story, StoryError, current_draft, get, note, who

REOPEN_WITHIN = dt.timedelta(hours=24)  # a decline or publication can be undone this long


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
        since = row.at
    return None


def _reopen_step(connection: sa.Connection, story: Story) -> list[Step]:
    if story.status not in ("declined", "published"):
        return []
    closed = closing(connection, story)
    if closed is None or people.now() > closed[0] + REOPEN_WITHIN:
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


def set_status(
    connection: sa.Connection,
    story_id: int,
    status: str,
    *,
    note_text: str = "",
    link: str = "",
    without_approval: bool = False,
    actor: str,
) -> Story:
    """The team moves a story on; `actor` did it (see team/audit.py). Returns the story as it
    now is."""
    story = check_status(connection, story_id, status, without_approval=without_approval)
    if status == "published":
        if not approved_draft(connection, story) and not (without_approval and note_text.strip()):
            raise _not_approved(story, without_approval)
        if not link.strip():
            raise StoryError(
                "Give the link to where it is published, so we can send it to the "
                "contributor: --link URL"
            )
    values: dict[str, Any] = {"status": status, "updated_at": people.now()}
    if link:
        values["link"] = link.strip()
    connection.execute(stories.update().where(stories.c.id == story.id).values(**values))
    action = (
        "published-without-approval" if status == "published" and without_approval else "status"
    )
    note(connection, story.id, action, status, note_text.strip(), link.strip(), who(actor))
    moved(connection, actor, story, status, note_text)
    return get(connection, story.id)


def moved(connection: sa.Connection, actor: str, story: Story, status: str, note_text: str) -> None:
    """The audit log's entry for a story the team moved from its status to `status`."""
    said = f": {' '.join(note_text.split())}" if note_text.strip() else ""
    detail = f"{story.status} → {status}{said}"
    audit.record(connection, actor, "story moved", f"story {story.id}", detail)


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


def reopen(connection: sa.Connection, story_id: int, note_text: str, actor: str) -> Story:
    """Undo a decline or a publication within REOPEN_WITHIN: the story goes back to the
    status it had before. `actor` did it."""
    story = get(connection, story_id)
    step = find_step(connection, story, "reopen", "team")
    if step is None:
        raise _cannot_reopen(connection, story)
    values: dict[str, Any] = {"status": step.to, "updated_at": people.now()}
    if story.status == "published":
        values["link"] = ""  # the history keeps where it was
    connection.execute(stories.update().where(stories.c.id == story.id).values(**values))
    note(connection, story.id, "reopened", step.to, note_text.strip(), actor=who(actor))
    moved(connection, actor, story, step.to, note_text)
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
