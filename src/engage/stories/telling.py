"""Telling people about a story: the one send of every story email, to its contributor or to
the team, and the private link each contributor's email carries.

The database change is committed first (by the caller); then the email goes out; then the
story's "last told" time moves on. An email that cannot be sent is recorded in the story's
history and reported, and the story stays owed news, so `engage followups` finds it. A web page
queues its emails instead (`later`), and engage's worker sends them (outgoing.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

import sqlalchemy as sa

from .. import i18n, langs, outgoing
from ..config import Workspace
from ..contacts import core as people
from ..errors import EngageError
from ..store import Store
from ..store.schema import stories as story_rows
from ..team import audit
from ..tokens import Signer
from . import core, messages

# A story link names the story, its contributor and the day it was made, so every email
# sent on one day carries the same link. It works this long (then only to take the story back).
LINK_DAYS = 180
# What a story's status means, in the update email and on the story page; marked for the
# catalogues (babel.cfg), and said in the contributor's language where they are shown.
STATUS_WORDS = {
    "received": i18n.N_("We have your story, and we are reading it."),
    "in-progress": i18n.N_("We are working on your story now."),
    "awaiting-approval": i18n.N_(
        "We sent you a draft of your story. We are waiting to hear what you think of it."
    ),
    "approved": i18n.N_(
        "You said yes to the draft of your story. Thank you! We will tell you when it goes out."
    ),
    "published": i18n.N_("Your story is out in the world."),
    "declined": i18n.N_("We will not be using your story this time."),
    "withdrawn": i18n.N_("You took your story back. We will not use it."),
}


@dataclass
class Told:
    """What happened when we tried to tell contributors something."""

    sent: list[int] = field(default_factory=list)  # story ids
    problems: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)  # what happened, one line each

    def add(self, other: Told) -> Told:
        self.sent += other.sent
        self.problems += other.problems
        self.done += other.done
        return self


def _day(value: dt.datetime) -> int:
    return int(value.timestamp() // 86400)


def link_for(workspace: Workspace, signer: Signer, story: core.Story) -> str:
    token = signer.sign("s", story.id, story.contact_id, _day(people.now()))
    return f"{workspace.config.web.base_url.rstrip('/')}/story/{token}"


@dataclass(frozen=True)
class Link:
    story_id: int
    contact_id: int
    fresh: bool  # False: older than LINK_DAYS, good only for taking the story back


def read_link(signer: Signer, token: str) -> Link:
    """The story and contributor a private link is for. Raises BadToken when it was changed.
    An old link still lets its contributor take their story back, and nothing else."""
    story_id, contact_id, day = signer.verify("s", token)
    return Link(story_id, contact_id, _day(people.now()) - day <= LINK_DAYS)


def _next_update(workspace: Workspace, lang: str) -> str:
    """The day they will hear from us next, in their language ("Monday 14 December")."""
    when = people.now() + dt.timedelta(days=workspace.config.followups.days)
    return i18n.day(when.date(), _speaks(workspace, lang))


def _speaks(workspace: Workspace, lang: str) -> str:
    """The first language a person asked for, else the organisation's."""
    return langs.wanted(lang, workspace.config.organisation.lang)[0]


def context(
    workspace: Workspace, signer: Signer, story: core.Story, **extra: Any
) -> dict[str, Any]:
    """What a story email says. A date given in `extra` (the day a story went out) is written
    in the contributor's language."""
    extra = {
        key: i18n.day(value, _speaks(workspace, story.lang))
        if isinstance(value, dt.date)
        else value
        for key, value in extra.items()
    }
    return {
        "first_name": story.first_name,
        "organisation": workspace.config.organisation,
        "story": {"id": story.id, "title": story.title, "status": story.status},
        "link": link_for(workspace, signer, story),
        "published_link": story.link,
        "next_update_by": _next_update(workspace, story.lang),
        "lang": story.lang,
        "note": "",
        "status_words": STATUS_WORDS[story.status],
        **extra,
    }


def tell(
    store: Store,
    workspace: Workspace,
    signer: Signer,
    story_id: int,
    template: str,
    told: Told,
    *,
    later: bool = False,
    **extra: Any,
) -> bool:
    """Send one story email and, once it is sent, start the follow-up clock again. `later`
    (for a web page): queue it, so the worker sends it and starts the clock (outgoing.py)."""
    try:
        if later:
            return queue(store, workspace, signer, story_id, template, **extra)
        sent = deliver(store, workspace, signer, story_id, template, **extra)
    except EngageError as exc:
        not_told(store, story_id, template, exc, told)
        return False
    if sent:
        told.sent.append(story_id)
    return sent


def deliver(
    store: Store,
    workspace: Workspace,
    signer: Signer,
    story_id: int,
    template: str,
    *,
    actor: str = "",
    **extra: Any,
) -> bool:
    """Send one story email to its contributor and note it; False for someone erased. Raises
    EngageError (a StoryMailError says whether it may have gone) when it was not sent.
    `actor`: who on the team sent it, for the audit log, when it is news of its own (an update
    to someone owed news)."""
    with store.connect() as connection:
        story = core.get(connection, story_id)
    if story.contact_status in ("erased",):
        return False
    messages.send(workspace, story.email, template, context(workspace, signer, story, **extra))
    with store.begin() as connection:
        core.told(connection, story.id, template, story.status)
        if actor:
            what, subject = f"story {template} sent", f"story {story.id}"
            audit.record(connection, actor, what, subject, f"to {story.email}")
    return True


def queue(
    store: Store, workspace: Workspace, signer: Signer, story_id: int, template: str, **extra: Any
) -> bool:
    """Make one story email to its contributor and queue it (see outgoing.py); False for
    someone erased. Raises EngageError when it cannot be made."""
    with store.connect() as connection:
        story = core.get(connection, story_id)
    if story.contact_status in ("erased",):
        return False
    values = context(workspace, signer, story, **extra)
    message = messages.build(workspace, story.email, template, values)
    with store.begin() as connection:
        outgoing.add_story_email(
            connection, message, story.id, template, story.status, to_team=False
        )
    return True


def not_told(store: Store, story_id: int, template: str, exc: EngageError, told: Told) -> None:
    with store.begin() as connection:
        story = core.get(connection, story_id)
        core.note(connection, story.id, "not-told", story.status, f"{template}: {exc}")
    told.problems.append(f"story {story_id}: the {template} email did not go: {exc}")


def tell_team(
    store: Store,
    workspace: Workspace,
    story: core.Story,
    template: str,
    how: str,
    told: Told,
    *,
    later: bool = False,
    **extra: Any,
) -> bool:
    """Tell the team (at its own address, the From address of our mail) what a contributor
    did, through the same send as every story email. A failure is reported and kept in the
    story's history. `later` (for a web page): queue it (see outgoing.py)."""
    team = parseaddr(workspace.config.email.from_)[1]
    values = {
        "organisation": workspace.config.organisation,
        "story": {"id": story.id, "title": story.title, "status": story.status},
        "contributor": story.email,
        "how": how,
        **extra,
    }
    try:
        if not team:
            raise EngageError(
                "[email] from is not set in engage.toml, so there is no team address."
            )
        if later:
            message = messages.build(workspace, team, template, values)
            with store.begin() as connection:
                outgoing.add_story_email(
                    connection, message, story.id, template, story.status, to_team=True
                )
        else:
            messages.send(workspace, team, template, values)
    except EngageError as exc:
        with store.begin() as connection:
            core.note(connection, story.id, "team-not-told", story.status, f"{template}: {exc}")
        told.problems.append(f"story {story.id}: the team was not sent the {template} email: {exc}")
        return False
    return True


def queued_email_done(connection: sa.Connection, row: sa.Row, state: str, error: str) -> None:
    """What the story's history says once a story email from engage's queue is sent or has
    not gone (outgoing.drain calls it, in the transaction that records the row)."""
    if row.kind != "story":
        return
    made = row.payload
    if (
        row.story_id is None
        or not connection.execute(
            sa.select(sa.func.count()).where(story_rows.c.id == row.story_id)
        ).scalar()
    ):
        return  # the story is gone (its contributor erased)
    if state == "sent":
        if not made["to_team"]:
            core.told(connection, row.story_id, made["template"], made["status"])
        return
    action = "team-not-told" if made["to_team"] else "not-told"
    core.note(connection, row.story_id, action, made["status"], f"{made['template']}: {error}")
