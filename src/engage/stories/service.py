"""What the team and contributors do to stories, each step with its emails: every step that
changes a story also tells its contributor, and every step the contributor takes also tells
the team (through `telling`). "Your story went out" is in `wentout`; the chain run after
replies come in or a campaign goes out is the workflow's (workflow/stories.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..config import Workspace, read_text
from ..contacts import core as people
from ..errors import EngageError
from ..own_emails import Rendered, render_story
from ..social.channels import configured
from ..store import Store
from ..tokens import Signer
from . import coproduce, core, opening, steps
from .telling import STATUS_WORDS, Told, context, deliver, not_told, tell, tell_team

# Said before where things stand when the team undoes a decline or a publication.
REOPENED = {
    "declined": "We are sorry. We said we would not use your story, but that was a mistake.",
    "published": "We are sorry. We said your story was published, but that was too soon.",
}
PAGE = "They did this on their story page."  # how the team heard


def open_from_replies(
    store: Store,
    workspace: Workspace,
    signer: Signer,
    *,
    reply_id: int | None = None,
    title: str = "",
) -> Told:
    """Open a story for each story reply that has none, and thank its contributor: the one
    chain from a reply to its thank-you. With `reply_id`, the team files that reply from the
    inbox as a story first (it was filed as something else), and only it is opened."""
    told = Told()
    with store.begin() as connection:
        if reply_id is not None:
            opening.file_as_story(connection, reply_id)
        actor = "engage" if reply_id is None else people.actor()
        opened = opening.open_replies(connection, actor, only=reply_id, title=title)
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
        story_id = opening.open_story(connection, person.id, title=" ".join(title.split()))
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
    actor: str,
) -> tuple[core.Story, Told, list[dict[str, Any]]]:
    """The team moves a story on, and the contributor hears about it. `actor` did it (as the
    audit log names them: team/audit.py). Returns the story, what was sent, and (for a
    withdrawal) where it went out, to take down."""
    if status == "withdrawn":
        how = f"{core.who(actor)} recorded this for them with engage."
        return withdraw(
            store,
            workspace,
            signer,
            story_id,
            note_text,
            core.who(actor),
            how,
            note=note_text,
            team=actor,
        )
    told = Told()
    with store.begin() as connection:
        story = steps.set_status(
            connection,
            story_id,
            status,
            note_text=note_text,
            link=link,
            without_approval=without_approval,
            actor=actor,
        )
    tell(
        store, workspace, signer, story.id, core.TEMPLATE_FOR[status], told, note=note_text.strip()
    )
    return story, told, []


def preview(
    store: Store,
    workspace: Workspace,
    signer: Signer,
    story_id: int,
    status: str,
    note_text: str,
    *,
    without_approval: bool = False,
) -> tuple[core.Story, Rendered]:
    """The email the contributor would get if the team set the story to `status` now, for
    the team to read before it goes. Raises StoryError when the step is not allowed."""
    with store.connect() as connection:
        story = steps.check_status(connection, story_id, status, without_approval=without_approval)
    after = dataclasses.replace(story, status=status)
    values = context(workspace, signer, after, note=note_text.strip())
    return story, render_story(workspace, core.TEMPLATE_FOR[status], values)


def reopen(
    store: Store, workspace: Workspace, signer: Signer, story_id: int, note_text: str, actor: str
) -> tuple[core.Story, str, Told]:
    """Undo a decline or publication made in the last day; the contributor hears it was a
    mistake, and where things stand. `actor` did it. Returns the story, the status it had, and
    what was sent."""
    with store.begin() as connection:
        was = core.get(connection, story_id).status
        story = steps.reopen(connection, story_id, note_text, actor)
    told = Told()
    words = f"{REOPENED[was]} {STATUS_WORDS[story.status]}"
    tell(store, workspace, signer, story.id, "update", told, status_words=words, note=note_text)
    return story, was, told


def withdraw(
    store: Store,
    workspace: Workspace,
    signer: Signer,
    story_id: int,
    reason: str,
    actor: str,
    how: str,
    *,
    note: str = "",
    later: bool = False,
    team: str = "",
) -> tuple[core.Story, Told, list[dict[str, Any]]]:
    """The story is taken back (on the contributor's page, or by the team for them): they
    get a goodbye (with the team's `note`, if any), and the team gets every place to take it
    down from. `team`: who on the team recorded it, for the audit log, when the team did."""
    told = Told()
    with store.begin() as connection:
        done = coproduce.withdraw(connection, story_id, reason, actor, team=team)
    story, take_down = done["story"], done["take_down"]
    tell(store, workspace, signer, story.id, "update", told, later=later, note=note.strip())
    extra = {"take_down": take_down, "reason": reason.strip()}
    tell_team(store, workspace, story, "team-withdrawn", how, told, later=later, **extra)
    return story, told, take_down


def read_draft(path: Path) -> str:
    """The edited story from a Markdown file (for `engage stories draft`)."""
    return read_text(path, str(path), core.StoryError)


def send_draft(
    store: Store, workspace: Workspace, signer: Signer, story_id: int, body: str, actor: str
) -> tuple[core.Story, int, Told]:
    """Send the contributor the edited story (Markdown `body`) to approve or change: the
    story waits for them, and they get a private link to read it. `actor` did it."""
    with store.begin() as connection:
        story, version = coproduce.add_draft(connection, story_id, body, actor)
    told = Told()
    tell(store, workspace, signer, story.id, "draft", told)
    return story, version, told


def owed(store: Store, workspace: Workspace, days: int | None = None) -> list[tuple[Any, int]]:
    """Open stories whose contributor is owed news (core.owed), after `days`, else after
    [followups] days."""
    with store.connect() as connection:
        return core.owed(connection, days if days is not None else workspace.config.followups.days)


def send_followups(
    store: Store, workspace: Workspace, signer: Signer, days: int | None = None, *, actor: str
) -> Told:
    """The update email to everyone owed news; each one's clock starts again. Each is sent
    once, however many processes send at once: a story is claimed before its email goes.
    `actor` sent them (the audit log notes each)."""
    told = Told()
    for story, _waited in owed(store, workspace, days):
        with store.begin() as connection:
            if not core.claim_told(connection, story):
                continue  # another process is telling them
        try:
            sent = deliver(store, workspace, signer, story.id, "update", actor=actor)
        except EngageError as exc:
            if not getattr(exc, "maybe_sent", False):
                with store.begin() as connection:
                    core.unclaim_told(connection, story)
            not_told(store, story.id, "update", exc, told)
            continue
        if sent:
            told.sent.append(story.id)
    return told


def tell_team_of_stops(store: Store, workspace: Workspace) -> Told:
    """A contributor replied asking us to stop writing (engage unsubscribed them from the
    newsletter): the team hears once, for each story of theirs that is not withdrawn, so it
    can ask itself whether they meant the story too."""
    told = Told()
    with store.connect() as connection:
        stops = coproduce.untold_stops(connection)
    for stop in stops:
        with store.begin() as connection:
            if not coproduce.claim_stop(connection, stop.story_id, stop.reply_id):
                continue
            story = core.get(connection, stop.story_id)
        how = f"They said it in a reply to us (see it with: engage replies show {stop.reply_id})."
        if tell_team(store, workspace, story, "team-stopped", how, told, comment=stop.clean_text):
            told.done.append(
                f"Told the team that the contributor of story {story.id} asked us to stop writing."
            )
    return told


def labels(workspace: Workspace) -> dict[str, str]:
    """Every place and detail a contributor chooses on their page, with the words they see."""
    social = configured(workspace)
    return coproduce.channels({name: c.network for name, c in social.items()})


def answer_draft(
    store: Store,
    workspace: Workspace,
    signer: Signer,
    story_id: int,
    version: int,
    approve: bool,
    comment: str,
    allowed: dict[str, bool],
    *,
    later: bool = False,
) -> Told:
    """The contributor's answer to a draft: they hear back, and so does the team. `later`:
    the emails are queued (see tell)."""
    words = labels(workspace)
    with store.begin() as connection:
        story = coproduce.decide(connection, story_id, version, approve, comment, allowed, words)
    told = Told()
    tell(store, workspace, signer, story.id, "update", told, later=later)
    template = "team-approved" if approve else "team-changes"
    extra = {"version": version, "comment": comment.strip()}
    extra["choices"] = _choices(store, workspace, story, changed=[])
    tell_team(store, workspace, story, template, PAGE, told, later=later, **extra)
    return told


def save_choices(
    store: Store,
    workspace: Workspace,
    story_id: int,
    allowed: dict[str, bool],
    *,
    later: bool = False,
) -> tuple[list[str], Told]:
    """The contributor changes where their story may appear; the team hears what changed.
    `later`: the email is queued (see tell)."""
    with store.begin() as connection:
        changed = coproduce.choose(connection, story_id, allowed, labels(workspace))
        story = core.get(connection, story_id)
    told = Told()
    if changed:
        choices = _choices(store, workspace, story, changed)
        tell_team(store, workspace, story, "team-choices", PAGE, told, later=later, choices=choices)
    return changed, told


def _choices(
    store: Store, workspace: Workspace, story: core.Story, changed: list[str]
) -> list[dict[str, Any]]:
    """Where the story may appear now, in the team's words, and which answers just changed."""
    with store.connect() as connection:
        chosen = core.story_consents(connection, story.id)
    found = []
    for name, words in labels(workspace).items():
        found.append(
            {
                "words": coproduce.TEAM_DETAILS.get(name, words),
                "answer": "yes" if chosen.get(name, False) else "no",
                "changed": name in changed,
            }
        )
    return found


def team_choices(store: Store, workspace: Workspace, story_id: int) -> list[tuple[str, str]]:
    """What the contributor agreed to, in the team's words: each place and detail they were
    asked about, with "yes", "no" or "not asked yet" (which counts as no)."""
    with store.connect() as connection:
        chosen = core.story_consents(connection, story_id)
    found = []
    for name, words in labels(workspace).items():
        answer = ("yes" if chosen[name] else "no") if name in chosen else "not asked yet"
        found.append((coproduce.TEAM_DETAILS.get(name, words), answer))
    return found
