"""Stories with their emails: every step that changes a story also tells its contributor.

The database change is committed first; then the email goes out; then the story's "last told"
time moves on. An email that cannot be sent is recorded in the story's history and reported,
and the story stays owed news, so `engage followups` finds it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from ..config import Workspace, read_text
from ..contacts import core as people
from ..errors import EngageError
from ..store import Store
from ..tokens import Signer
from ..tokens import signer as make_signer
from . import coproduce, core, messages

LINK_DAYS = 180  # a story link works this long (then only to withdraw); each email has a new one
STATUS_WORDS = {
    "received": "We have your story, and we are reading it.",
    "in-progress": "We are working on your story now.",
    "awaiting-approval": "We sent you a draft of your story. We are waiting to hear what you "
    "think of it.",
    "approved": "You said yes to the draft of your story. Thank you! We will tell you when it "
    "goes out.",
    "published": "Your story is out in the world.",
    "declined": "We will not be using your story this time.",
    "withdrawn": "You took your story back. We will not use it.",
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


def _next_update(workspace: Workspace) -> str:
    when = people.now() + dt.timedelta(days=workspace.config.followups.days)
    return when.strftime("%A %-d %B")


def context(
    workspace: Workspace, signer: Signer, story: core.Story, **extra: Any
) -> dict[str, Any]:
    return {
        "first_name": story.first_name,
        "organisation": workspace.config.organisation,
        "story": {"id": story.id, "title": story.title, "status": story.status},
        "link": link_for(workspace, signer, story),
        "published_link": story.link,
        "links": [],
        "next_update_by": _next_update(workspace),
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
    **extra: Any,
) -> bool:
    """Send one story email and, once it is sent, start the follow-up clock again."""
    with store.connect() as connection:
        story = core.get(connection, story_id)
    if story.contact_status in ("erased",):
        return False
    try:
        messages.send(workspace, story.email, template, context(workspace, signer, story, **extra))
    except EngageError as exc:
        with store.begin() as connection:
            core.note(connection, story.id, "not-told", story.status, f"{template}: {exc}")
        told.problems.append(f"story {story.id}: the {template} email did not go: {exc}")
        return False
    with store.begin() as connection:
        core.told(connection, story.id, template, story.status)
    told.sent.append(story.id)
    return True


def open_from_replies(store: Store, workspace: Workspace, signer: Signer) -> Told:
    """Open a story for each story reply that has none, and thank its contributor."""
    told = Told()
    with store.begin() as connection:
        opened = [
            core.open_story(
                connection,
                reply.contact_id,
                reply_id=reply.id,
                campaign=reply.campaign,
                actor="engage",
            )
            for reply in core.unopened_story_replies(connection)
        ]
    for story_id in opened:
        thanked = tell(store, workspace, signer, story_id, "acknowledgement", told)
        told.done.append(
            f"Opened story {story_id}" + (" and sent the thank-you email." if thanked else ".")
        )
    return told


def open_by_hand(
    store: Store, workspace: Workspace, signer: Signer, email: str, title: str, tell_them: bool
) -> tuple[int, Told]:
    told = Told()
    with store.begin() as connection:
        person = people.get(connection, email)
        story_id = core.open_story(connection, person.id, title=title)
    if tell_them:
        tell(store, workspace, signer, story_id, "acknowledgement", told)
    return story_id, told


def change(
    store: Store,
    workspace: Workspace,
    signer: Signer,
    story_id: int,
    status: str,
    *,
    note_text: str = "",
    link: str = "",
    without_approval: bool = False,
) -> tuple[core.Story, Told, list[dict[str, Any]]]:
    """The team moves a story on, and the contributor hears about it. Returns the story, what
    was sent, and (for a withdrawal) where it went out, to take down."""
    told = Told()
    take_down: list[dict[str, Any]] = []
    with store.begin() as connection:
        if status == "withdrawn":
            done = coproduce.withdraw(connection, story_id, note_text, people.actor())
            story, take_down = done["story"], done["take_down"]
        else:
            story = core.set_status(
                connection,
                story_id,
                status,
                note_text=note_text,
                link=link,
                without_approval=without_approval,
            )
    tell(
        store,
        workspace,
        signer,
        story.id,
        core.TEMPLATE_FOR[status],
        told,
        note=note_text.strip(),
    )
    return story, told, take_down


def send_draft(
    store: Store, workspace: Workspace, signer: Signer, story_id: int, path: Path
) -> tuple[core.Story, int, Told]:
    body = read_text(path, str(path), core.StoryError)
    with store.begin() as connection:
        story, version = coproduce.add_draft(connection, story_id, body)
    told = Told()
    tell(store, workspace, signer, story.id, "draft", told)
    return story, version, told


def owed(store: Store, workspace: Workspace, days: int | None = None) -> list[tuple[Any, int]]:
    with store.connect() as connection:
        return core.owed(connection, days if days is not None else workspace.config.followups.days)


def send_followups(
    store: Store, workspace: Workspace, signer: Signer, days: int | None = None
) -> Told:
    """The update email to everyone owed news; each one's clock starts again."""
    told = Told()
    for story, _waited in owed(store, workspace, days):
        tell(store, workspace, signer, story.id, "update", told)
    return told


def announce_uses(store: Store, workspace: Workspace, signer: Signer) -> Told:
    """Tell each contributor whose story went out (a campaign, a post) where, once."""
    told = Told()
    with store.connect() as connection:
        waiting = coproduce.untold_uses(connection)
    for story_id, places in waiting.items():
        links = [{"where": p["where"], "url": p["url"]} for p in places]
        if tell(store, workspace, signer, story_id, "went-out", told, links=links):
            with store.begin() as connection:
                coproduce.mark_told(connection, [p["id"] for p in places])
            where = ", ".join(p["where"] for p in places)
            told.done.append(f"Told the contributor of story {story_id} it went out ({where}).")
    return told


def catch_up(store: Store, workspace: Workspace) -> Told:
    """Open a story for each new story reply, and tell each contributor whose story went out.
    Run after replies come in and after a campaign is sent or posted."""
    with store.connect() as connection:
        waiting = core.unopened_story_replies(connection) or coproduce.untold_uses(connection)
    if not waiting:
        return Told()
    sign = make_signer(workspace)
    told = open_from_replies(store, workspace, sign)
    return told.add(announce_uses(store, workspace, sign))


def tell_team_of_withdrawal(
    workspace: Workspace, story: core.Story, take_down: list[dict[str, Any]], told: Told
) -> None:
    """A contributor took their story back: the team hears at its own address (the From
    address of our mail), with every place to take it down from."""
    team = parseaddr(workspace.config.email.from_)[1]
    if not team:
        told.problems.append(
            f"story {story.id} was withdrawn, but [email] from is not set, so the team was not "
            "emailed. Take it down from: "
            + (", ".join(u["link"] or u["campaign"] for u in take_down) or "nowhere yet")
        )
        return
    try:
        messages.send(
            workspace,
            team,
            "team-withdrawn",
            {
                "organisation": workspace.config.organisation,
                "story": {"id": story.id, "title": story.title, "status": story.status},
                "contributor": story.email,
                "take_down": take_down,
            },
        )
    except EngageError as exc:
        told.problems.append(f"story {story.id}: the team was not told of its withdrawal: {exc}")
