"""The contributor's private page for their story: read the draft, approve it or ask for
changes, choose where it may appear, or take the story back. Works without JavaScript."""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template, request, url_for

from .. import outgoing
from ..contacts import core as people
from ..i18n import N_
from ..render.markdown import parse_body
from ..stories import coproduce, core, service, steps, telling
from ..tokens import BadToken
from . import _, bad_link, check_form, csrf_token, log, marked, speak_to
from . import state as _engage

TAKE_BACK = N_(
    "If you want to take your story back, just reply to any email from us. We will do it for you."
)
# The words for where a story may appear (stories.coproduce.channels), marked for the
# catalogues. Words not here (a channel with its own name) are shown in English, marked so.
PLACES = [
    N_("In our email newsletter"),
    N_("On our website"),
    N_("My name"),
    N_("My photo"),
    N_("On our X (Twitter) account"),
    N_("On our Mastodon account"),
    N_("On our Bluesky account"),
    N_("On our social media"),
]
# What the library says when a contributor's answer cannot be saved (stories.coproduce), marked
# for the catalogues; any other message is shown in English, marked so.
PROBLEMS = [
    N_("Please tell us what you would like us to change."),
    N_("You took your story back, so we will not use it anywhere."),
]

blueprint = Blueprint("stories", __name__)


def _story(token: str) -> tuple[core.Story, bool]:
    """The story this link is for and whether the link is still fresh, or a friendly 400
    page."""
    try:
        link = telling.read_link(_engage()["signer"], token)
    except BadToken as exc:
        abort(bad_link(exc, also=(_(TAKE_BACK),)))  # taking a story back must always be possible
    with _engage()["store"].connect() as connection:
        try:
            story = core.get(connection, link.story_id)
        except core.StoryError:
            abort(404)
        contact = people.by_id(connection, story.contact_id)
    if story.contact_id != link.contact_id:
        abort(400)
    speak_to(getattr(contact, "lang", "") if contact is not None else "")
    return story, link.fresh


def _message(title: str, *paragraphs: str, token: str | None = None, status: int = 200):  # noqa: ANN202
    link = (
        {"url": url_for("stories.page", token=token), "text": _("Go back to your story")}
        if token
        else None
    )
    return (
        render_template("message.html.j2", title=title, paragraphs=list(paragraphs), link=link),
        status,
    )


@blueprint.get("/story/<token>")
def page(token: str):  # noqa: ANN201
    story, fresh = _story(token)
    with _engage()["store"].connect() as connection:
        draft = core.current_draft(connection, story.id)
        chosen = core.story_consents(connection, story.id)
        can = {s.name for s in steps.steps(connection, story) if s.by == "contributor"}
    labels = service.labels(_engage()["workspace"])
    return render_template(
        "story.html.j2",
        title=_("Your story"),
        story=story,
        fresh=fresh,
        status_words=_(telling.STATUS_WORDS[story.status]),
        draft=draft,
        draft_html=_under_h2(parse_body(draft.body).html) if draft else "",
        can_answer="approve" in can,
        can_choose="choices" in can,
        can_withdraw="withdraw" in can,
        choices=[(name, marked(words), chosen.get(name, False)) for name, words in labels.items()],
        action=url_for("stories.answer", token=token),
        csrf=csrf_token(story.contact_id),
    )


def _under_h2(html: str) -> str:
    """The draft's headings, moved two levels down to sit under the page's own."""
    return re.sub(
        r"<(/?)h([1-6])\b", lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 2, 6)}", html
    )


@blueprint.post("/story/<token>")
def answer(token: str):  # noqa: ANN201
    story, fresh = _story(token)
    check_form(story.contact_id)
    workspace, store, signer = _engage()["workspace"], _engage()["store"], _engage()["signer"]
    action = request.form.get("action", "")
    if action == "withdraw":
        return _withdraw(story, token)
    if not fresh:
        return _message(
            _("This link is too old"),
            _(
                "For your safety, an old link can only be used to take your story back. Please "
                "use the link in our latest email to you, or reply to it and we will send a new "
                "one."
            ),
            token=token,
            status=400,
        )
    if action not in ("approve", "changes", "choices"):
        abort(400)
    labels = service.labels(workspace)
    allowed = {name: request.form.get(f"place-{name}") == "yes" for name in labels}
    version = request.form.get("version", "")
    if action != "choices" and not version.isdigit():
        abort(400)
    try:
        if action == "choices":
            _changed, told = service.save_choices(store, workspace, story.id, allowed, later=True)
        else:
            comment = request.form.get("comment", "")
            approve = action == "approve"
            told = service.answer_draft(
                store,
                workspace,
                signer,
                story.id,
                int(version),
                approve,
                comment,
                allowed,
                later=True,  # the emails go from engage's queue, outside this request
            )
    except coproduce.OutdatedDraft as exc:
        newer = _(
            "You answered version %(answered)s of the draft of story %(story)s, but there is a "
            "newer one (version %(current)s). Please read the newer one first.",
            answered=version,
            story=story.id,
            current=exc.current,
        )
        return _message(_("There is a newer draft"), newer, token=token, status=409)
    except core.StoryError as exc:
        said = marked(str(exc))
        return _message(_("We could not save that"), said, token=token, status=400)
    outgoing.wake()
    for problem in told.problems:
        log.error("%s", problem)
    if action == "choices":
        return _message(
            _("Your choices are saved"),
            _("Thank you. We will only use your story in the places you said yes to."),
            token=token,
        )
    if action == "approve":
        return _message(
            _("Thank you for saying yes"),
            _("You have approved your story. We will tell you when it goes out."),
            _("You can change where it may appear, or take it back, at any time from this page."),
            token=token,
        )
    return _message(
        _("Thank you, we will make changes"),
        _("We have your comments. We will send you a new draft to read."),
        token=token,
    )


def _withdraw(story: core.Story, token: str):  # noqa: ANN202
    if request.form.get("sure") != "yes":
        return _message(
            _("Please tick the box to take your story back"),
            _(
                "To take your story back, tick the box that says you are sure, then press the "
                "button again."
            ),
            token=token,
            status=400,
        )
    workspace, store, signer = _engage()["workspace"], _engage()["store"], _engage()["signer"]
    reason = request.form.get("reason", "")
    try:
        told = service.withdraw(
            store, workspace, signer, story.id, reason, story.email, service.PAGE, later=True
        )[1]
    except core.StoryError as exc:
        return _message(_("Your story is already withdrawn"), marked(str(exc)), token=token)
    outgoing.wake()
    for problem in told.problems:
        log.error("%s", problem)
    return _message(
        _("Your story is withdrawn"),
        _("We will not use your story again. Where it is already out, we will take it down."),
        _("Thank you for sharing it with us. You are always welcome to get in touch."),
        token=token,
    )
