"""A story's conversation, oldest first: what its contributor said to us (their replies, and
their answers on their story page) and what we told them (each story email, with the note the
team wrote for them). The console shows it on a story's page; it is read from the story's
replies and history, so it says only what happened."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from ..store.schema import story_history
from .core import Story, thread

# Each story email, as the team calls it.
EMAILS = {
    "acknowledgement": "the thank-you email",
    "update": "an update email",
    "draft": "the draft email, with a link to read it",
    "published": "the published email, with the link",
    "declined": "the email that says we will not use it",
    "went-out": "the email that says where it went out",
}
# The team's steps whose note goes to the contributor in the email that follows.
NOTED_STEPS = ("status", "published-without-approval", "reopened", "withdrawn", "draft")
NOTE_WITHIN = dt.timedelta(minutes=10)  # a note goes with an email sent this soon after it


@dataclass(frozen=True)
class Said:
    """One message in the conversation: `by` is "them" (the contributor) or "us"."""

    at: dt.datetime
    by: str
    what: str
    text: str


def conversation(connection: sa.Connection, story: Story) -> list[Said]:
    """Everything said between the contributor and us about `story`, oldest first."""
    found = [
        Said(
            dt.datetime.fromisoformat(said["at"]),
            "them",
            f"Their reply (reply {said['reply']}, {said['kind']})",
            said["text"] or "(no words of their own)",
        )
        for said in thread(connection, story)
    ]
    rows = connection.execute(
        sa.select(story_history)
        .where(story_history.c.story_id == story.id)
        .order_by(story_history.c.id)
    ).all()
    before = None
    for row in rows:
        said = _said(row, before, story)
        if said is not None:
            found.append(said)
        before = row
    return sorted(found, key=lambda said: said.at)


def _said(row: sa.Row, before: sa.Row | None, story: Story) -> Said | None:
    if row.action == "told":
        email = EMAILS.get(row.note, f"the {row.note} email")
        note = ""
        if (
            before is not None
            and before.action in NOTED_STEPS
            and row.at - before.at <= NOTE_WITHIN
            and before.actor != story.email
        ):
            note = before.note if before.action != "draft" else ""
        return Said(row.at, "us", f"We sent {email}", note)
    if row.action == "not-told":
        return Said(row.at, "us", "An email to them did not go", row.note)
    if row.action == "approved":
        return Said(row.at, "them", "They said yes to the draft", row.note)
    if row.action == "changes":
        return Said(row.at, "them", "They asked for changes to the draft", row.note)
    if row.action == "consent":
        return Said(row.at, "them", "They changed where it may appear", row.note)
    if row.action == "withdrawn" and row.actor == story.email:
        return Said(row.at, "them", "They took their story back", row.note)
    return None
