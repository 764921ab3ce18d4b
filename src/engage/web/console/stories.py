"""The console's stories pages: the board by status, a story's page (its conversation, drafts,
the contributor's choices and its history), and who is owed news.

Each change calls the library function `engage stories` and `engage followups` call, with the
member as the actor, so the contributor hears exactly what the command line would send, and
the audit log notes it. Emails go out while the page waits, as at the command line, so the
page can say truthfully whether they went.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, make_response, request, url_for

from ...store.schema import STORY_STATUSES
from ...stories import conversation, coproduce, core, service, steps
from ...stories.telling import Told
from .. import state as _engage
from .base import blueprint, current, message, needs, page, part

part(
    "console.stories",
    "Stories",
    "Contributors' stories on a board: drafts, moves and who is owed news.",
)

# Each status, in the team's words, for the board and the move form.
STATUS_NAMES = {
    "received": "Received",
    "in-progress": "In progress",
    "awaiting-approval": "Waiting for their approval",
    "approved": "Approved",
    "published": "Published",
    "declined": "Declined",
    "withdrawn": "Withdrawn",
}
# Moves that need a second look at the email first, as at the command line (ASK_FIRST there).
ASK_FIRST = {"declined": "Decline", "withdrawn": "Withdraw"}
EMAIL_WORDS = {"acknowledgement": "thank-you", "update": "update", "draft": "draft"}


def _me() -> str:
    session = current()
    assert session is not None  # @needs saw to it
    return session.member.email


def _ago(days: int) -> str:
    if days <= 0:
        return "today"
    return "1 day ago" if days == 1 else f"{days} days ago"


def _dated(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Each row with `when`: its time `key` (ISO, from the library) in the team's words."""
    return [
        {**row, "when": dt.datetime.fromisoformat(row[key]).strftime("%-d %B %Y, %H:%M")}
        for row in rows
    ]


def _story(story_id: int) -> core.Story:
    with _engage()["store"].connect() as connection:
        try:
            return core.get(connection, story_id)
        except core.StoryError:
            abort(_missing(story_id))


def _missing(story_id: int):  # noqa: ANN202
    link = {"url": url_for("console.stories"), "text": "See every story"}
    body, _ = message("There is no such story", f"There is no story {story_id}.", link=link)
    return make_response(body, 404)


@blueprint.get("/stories")
@needs("read")
def stories():  # noqa: ANN201
    workspace, store = _engage()["workspace"], _engage()["store"]
    owed = {story.id for story, _days in service.owed(store, workspace)}
    with store.connect() as connection:
        found = core.listing(connection)
    columns = [
        {
            "status": status,
            "name": STATUS_NAMES[status],
            "stories": [
                {"story": s, "ago": _ago(core.waited(s)), "owed": s.id in owed}
                for s in found
                if s.status == status
            ],
        }
        for status in STORY_STATUSES
    ]
    return page("stories.html.j2", "Stories", columns=columns, owed=len(owed))


def _story_page(story: core.Story, errors: dict[str, str] | None = None, form: Any = None):  # noqa: ANN202
    workspace, store = _engage()["workspace"], _engage()["store"]
    with store.connect() as connection:
        moves = steps.team_steps(connection, story)
        context = {
            "drafts": _dated(coproduce.drafts(connection, story.id), "created_at"),
            "said": conversation.conversation(connection, story),
            "history": _dated(core.history(connection, story.id), "at"),
            "went_out": _dated(core.uses(connection, story.id), "at"),
            "approved": steps.approved_draft(connection, story),
        }
    owed = any(s.id == story.id for s, _days in service.owed(store, workspace))
    names = [step.name for step in moves]
    reopen = next((step for step in moves if step.name == "reopen"), None)
    heading = f"Story {story.id}" + (f": {story.title}" if story.title else "")
    return page(
        "story.html.j2",
        ("Error: " if errors else "") + heading,
        story=story,
        status_name=STATUS_NAMES[story.status],
        ago=_ago(core.waited(story)),
        owed=owed,
        moves=[(name, STATUS_NAMES[name]) for name in names if name in STATUS_NAMES],
        can_draft="draft" in names,
        reopen=reopen,
        reopen_to=STATUS_NAMES[reopen.to] if reopen else "",
        choices=service.team_choices(store, workspace, story.id),
        errors=errors or {},
        form=form or {},
        **context,
    )


@blueprint.get("/stories/<int:story_id>")
@needs("read")
def story(story_id: int):  # noqa: ANN201
    return _story_page(_story(story_id))


def _refused(story: core.Story, field: str, exc: core.StoryError):  # noqa: ANN202
    return _story_page(story, {field: str(exc)}, request.form), 400


def _done(story: core.Story, said: str, told: Told, *more: str):  # noqa: ANN202
    problems = [f"But an email did not go: {problem}" for problem in told.problems]
    link = {"url": url_for("console.story", story_id=story.id), "text": f"Back to story {story.id}"}
    return message(said, *more, *problems, link=link)


def _told(story: core.Story, told: Told, what: str) -> str:
    if story.id in told.sent:
        return f"{story.name or story.email} was sent the {what} email."
    return "Nobody was emailed."


@blueprint.post("/stories/<int:story_id>/move")
@needs("edit")
def story_move(story_id: int):  # noqa: ANN201
    story = _story(story_id)
    workspace, store, signer = _engage()["workspace"], _engage()["store"], _engage()["signer"]
    status = request.form.get("status", "")
    note_text = request.form.get("note", "")
    link = request.form.get("link", "")
    without = request.form.get("without_approval") == "yes"
    try:
        if status in ASK_FIRST and request.form.get("confirm") != "yes":
            _, email = service.preview(
                store, workspace, signer, story.id, status, note_text, without_approval=without
            )
            title = f"{ASK_FIRST[status]} story {story.id}?"
            return page(
                "story-confirm.html.j2",
                title,
                story=story,
                status=status,
                email=email,
                note=note_text,
                verb=ASK_FIRST[status],
            )
        moved, told, take_down = service.change(
            store,
            workspace,
            signer,
            story.id,
            status,
            note_text=note_text,
            link=link,
            without_approval=without,
            actor=_me(),
        )
    except core.StoryError as exc:
        return _refused(story, "status", exc)
    what = EMAIL_WORDS.get(core.TEMPLATE_FOR[status], core.TEMPLATE_FOR[status])
    places = [f"{u['campaign']} ({u['channel']}) {u['link']}".rstrip() for u in take_down]
    more = ["Please take it down from: " + "; ".join(places) + "."] if places else []
    said = f"Story {moved.id} is now {STATUS_NAMES[moved.status].lower()}"
    return _done(moved, said, told, _told(moved, told, what), *more)


@blueprint.post("/stories/<int:story_id>/draft")
@needs("edit")
def story_draft(story_id: int):  # noqa: ANN201
    story = _story(story_id)
    workspace, store, signer = _engage()["workspace"], _engage()["store"], _engage()["signer"]
    body = request.form.get("body", "").replace("\r\n", "\n")
    try:
        done, version, told = service.send_draft(store, workspace, signer, story.id, body, _me())
    except core.StoryError as exc:
        return _refused(story, "body", exc)
    said = (
        f"{done.name or done.email} was sent a private link to read it."
        if told.sent
        else "Nobody was emailed."
    )
    return _done(done, f"Draft {version} of story {done.id} is with its contributor", told, said)


@blueprint.post("/stories/<int:story_id>/reopen")
@needs("edit")
def story_reopen(story_id: int):  # noqa: ANN201
    story = _story(story_id)
    workspace, store, signer = _engage()["workspace"], _engage()["store"], _engage()["signer"]
    note_text = request.form.get("reopen_note", "")
    try:
        done, was, told = service.reopen(store, workspace, signer, story.id, note_text, _me())
    except core.StoryError as exc:
        return _refused(story, "reopen_note", exc)
    said = f"Story {done.id} is {STATUS_NAMES[done.status].lower()} again"
    return _done(done, said, told, f"It is no longer {was}.", _told(done, told, "update"))


@blueprint.post("/stories/<int:story_id>/assign")
@needs("edit")
def story_assign(story_id: int):  # noqa: ANN201
    story = _story(story_id)
    try:
        with _engage()["store"].begin() as connection:
            done = core.assign(connection, story.id, request.form.get("owner", ""), _me())
    except core.StoryError as exc:
        return _refused(story, "owner", exc)
    return _done(done, f"Story {done.id} is now with {done.owner}", Told())


@blueprint.post("/stories/<int:story_id>/title")
@needs("edit")
def story_title(story_id: int):  # noqa: ANN201
    story = _story(story_id)
    try:
        with _engage()["store"].begin() as connection:
            done = core.set_title(connection, story.id, request.form.get("title", ""), _me())
    except core.StoryError as exc:
        return _refused(story, "title", exc)
    return _done(done, f"Story {done.id} is now called {done.title}", Told())


@blueprint.get("/stories/owed")
@needs("read")
def stories_owed():  # noqa: ANN201
    workspace, store = _engage()["workspace"], _engage()["store"]
    waiting = [
        {"story": s, "status_name": STATUS_NAMES[s.status], "ago": _ago(days)}
        for s, days in service.owed(store, workspace)
    ]
    return page(
        "stories-owed.html.j2",
        "Who is owed news",
        waiting=waiting,
        days=workspace.config.followups.days,
    )


@blueprint.post("/stories/owed")
@needs("edit")
def stories_owed_send():  # noqa: ANN201
    workspace, store, signer = _engage()["workspace"], _engage()["store"], _engage()["signer"]
    told = service.send_followups(store, workspace, signer, actor=_me())
    sent = len(told.sent)
    said = "1 update email was sent" if sent == 1 else f"{sent} update emails were sent"
    problems = [f"But an email did not go: {problem}" for problem in told.problems]
    link = {"url": url_for("console.stories_owed"), "text": "See who is owed news"}
    more = [] if sent else ["Nobody was owed news when you pressed the button."]
    return message(said.capitalize(), *more, *problems, link=link)
