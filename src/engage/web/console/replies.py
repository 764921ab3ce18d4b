"""The console's replies pages: the inbox with its filters (to do, new, mine, done, all; kind;
campaign), a reply's page (their own words first, the quoted text folded away, who and what it
answers, the team's answers), and assigning, marking done and answering. Each calls the same
library functions as `engage replies list/show/assign/done/answer`."""

from __future__ import annotations

from typing import Any

from flask import abort, make_response, request, url_for

from ...mailparts import size_text
from ...replies import answers
from ...replies import listing as inbox
from ...store.schema import REPLY_KINDS
from ...team import members
from ...workflow.replies import answer_reply
from .. import state as _engage
from .base import blueprint, current, message, needs, page, part

part("console.replies", "Replies", "The replies inbox: read, assign, answer and close replies.")

# What the inbox shows: (value, words), the first is what it shows unless asked.
SHOWS = (
    ("to-do", "To do (new and assigned)"),
    ("new", "New"),
    ("mine", "Given to me"),
    ("done", "Done"),
    ("all", "All"),
)
MOST = 500  # rows on one page of the inbox


@blueprint.get("/replies")
@needs("read")
def replies():  # noqa: ANN201
    chosen = {key: request.args.get(key, "").strip() for key in ("show", "kind", "campaign")}
    chosen["show"] = chosen["show"] or SHOWS[0][0]
    with _engage()["store"].connect() as connection:
        known = inbox.campaigns(connection)
        wrong = _wrong_filter(chosen, known)
        if wrong:
            return message("That filter does not work", wrong, link=_back(), status=400)
        found = inbox.listing(
            connection,
            kind=chosen["kind"] or None,
            campaign=chosen["campaign"] or None,
            **_which(chosen["show"]),
        )
    return page(
        "replies.html.j2",
        "Replies",
        replies=found[:MOST],
        total=len(found),
        most=MOST,
        chosen=chosen,
        shows=SHOWS,
        kinds=REPLY_KINDS,
        campaigns=known,
    )


def _wrong_filter(chosen: dict[str, str], known: list[str]) -> str:
    if chosen["show"] not in dict(SHOWS):
        return f"'{chosen['show']}' is not one of the choices of what to show."
    if chosen["kind"] and chosen["kind"] not in REPLY_KINDS:
        return (
            f"'{chosen['kind']}' is not a kind of reply. The kinds are: {', '.join(REPLY_KINDS)}."
        )
    if chosen["campaign"] and chosen["campaign"] not in known:
        return f"No replies answer a campaign called '{chosen['campaign']}'."
    return ""


def _which(show: str) -> dict[str, Any]:
    me = _me()
    which: dict[str, dict[str, Any]] = {
        "to-do": {"status": ("new", "assigned")},
        "new": {"status": "new"},
        "mine": {"status": ("new", "assigned"), "owners": (me.email, me.name)},
        "done": {"status": "done"},
        "all": {},
    }
    return which[show]


@blueprint.get("/replies/<int:reply_id>")
@needs("read")
def reply(reply_id: int):  # noqa: ANN201
    return _reply_page(reply_id)


def _reply_page(  # noqa: ANN202
    reply_id: int, errors: dict[str, str] | None = None, text: str = "", status: int = 200
):
    with _engage()["store"].connect() as connection:
        try:
            found = inbox.show(connection, reply_id)
        except inbox.NoSuchReply:
            abort(make_response(_missing(reply_id), 404))
        cannot = answers.why_not(connection, reply_id)
        team = members.listing(connection)
    found["original"] = None  # not shown: the words, quote and signature are
    title = f"Reply {reply_id} from {found['from_name'] or found['from']}"
    body = page(
        "reply.html.j2",
        ("Error: " if errors else "") + title,
        heading=title,
        reply=found,
        cannot=cannot,
        team=team,
        errors=errors or {},
        text=text,
        mark_done=not errors or request.form.get("done") == "yes",
        subject=answers.subject(found["subject"]),
        sender=_engage()["workspace"].config.email.from_,
        size_text=size_text,
    )
    return body, status


def _missing(reply_id: int) -> str:
    body, _ = message(
        "There is no such reply",
        f"There is no reply {reply_id}. It may have been erased with the person who sent it.",
        link=_back(),
    )
    return body


@blueprint.post("/replies/<int:reply_id>/assign")
@needs("edit")
def reply_assign(reply_id: int):  # noqa: ANN201
    owner = request.form.get("owner", "")
    store = _engage()["store"]
    with store.connect() as connection:
        member = members.find(connection, owner) if owner else None
    if member is None:
        return message(
            "Choose someone on the team",
            "Choose who will deal with the reply from the list of the team.",
            link={"url": url_for("console.reply", reply_id=reply_id), "text": "Back to the reply"},
            status=400,
        )
    try:
        with store.begin() as connection:
            inbox.assign(connection, reply_id, member.email, _me().email)
    except inbox.NoSuchReply:
        abort(make_response(_missing(reply_id), 404))
    with_whom = "you" if member.id == _me().id else member.name
    return message(
        "The reply is given to someone",
        f"Reply {reply_id} is now with {with_whom}.",
        link={"url": url_for("console.reply", reply_id=reply_id), "text": "Back to the reply"},
    )


@blueprint.post("/replies/<int:reply_id>/done")
@needs("edit")
def reply_done(reply_id: int):  # noqa: ANN201
    try:
        with _engage()["store"].begin() as connection:
            inbox.done(connection, reply_id, _me().email)
    except inbox.NoSuchReply:
        abort(make_response(_missing(reply_id), 404))
    return message(
        "The reply is done",
        f"Reply {reply_id} is marked as done.",
        link={"url": url_for("console.replies"), "text": "Back to the replies"},
    )


@blueprint.post("/replies/<int:reply_id>/answer")
@needs("edit")
def reply_answer(reply_id: int):  # noqa: ANN201
    text = request.form.get("answer", "")
    engage = _engage()
    try:
        going = answer_reply(
            engage["store"],
            engage["workspace"],
            reply_id,
            text,
            _me().email,
            mark_done=request.form.get("done") == "yes",
        )
    except answers.CannotWrite as exc:
        return _reply_page(reply_id, {"answer": str(exc)}, text, 409)
    except inbox.NoSuchReply:
        abort(make_response(_missing(reply_id), 404))
    except inbox.ReplyError as exc:  # empty, or too long
        return _reply_page(reply_id, {"answer": str(exc)}, text, 400)
    done = going.answered
    return message(
        "Your answer is on its way",
        f"It goes to {done.to}, with the subject “{done.subject}”. engage sends it in a moment.",
        "The reply's page and the person's timeline show when it has gone.",
        link={"url": url_for("console.reply", reply_id=reply_id), "text": "Back to the reply"},
    )


def _back() -> dict[str, str]:
    return {"url": url_for("console.replies"), "text": "Back to the replies"}


def _me():  # noqa: ANN202 - team.members.Member
    session = current()
    assert session is not None
    return session.member
