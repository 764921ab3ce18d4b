"""The web app: sign-up, confirmation, unsubscribe, preferences, archive, provider webhooks and
inbound mail. `create_app()` returns a WSGI app for any WSGI server; `engage serve` runs one.

Pages come from templates/web/ in the workspace and need no JavaScript. Only the team's
console (/console, web/console/) sets a cookie: its session.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jinja2
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    url_for,
)

from .. import clock
from ..config import Workspace, find_workspace
from ..replies import inbox
from ..store import open_store
from ..store.group import Writer
from ..tokens import KEY_HINT, BadSignature, BadToken, ExpiredToken, signer

MAX_BODY = 10 * 1024 * 1024  # every route but inbound mail (web/inbound_body.py limit)
MAX_FORM = 64 * 1024
CSRF_MINUTES = 24 * 60  # how long a page's form may wait before it is sent
log = logging.getLogger("engage.web")


def state() -> dict[str, Any]:
    """The workspace, store, writer (store/group.py), signer and replies inbox of the app
    handling this request."""
    return current_app.extensions["engage"]


def csrf_token(contact_id: int) -> str:
    """The hidden field for a form that changes something for this person."""
    return state()["signer"].sign("x", contact_id, clock.minute())


def small_form() -> None:
    """Stop with 413 when a form's body is bigger than any of our forms can be."""
    if (request.content_length or 0) > MAX_FORM:
        abort(413)


def check_form(contact_id: int) -> None:
    """Stop with 413 for a body too big for a form, and with 400 unless the form carries a
    token from a page we made for this person in the last CSRF_MINUTES."""
    small_form()
    try:
        owner, minute = state()["signer"].verify("x", request.form.get("csrf", ""))
    except BadToken:
        abort(400)
    if owner != contact_id:
        abort(400)
    if clock.minute() - minute > CSRF_MINUTES:
        page = render_template(
            "message.html.j2",
            title="This page was open too long",
            paragraphs=[
                "For your safety, a page like this works for one day, and this one was opened "
                "earlier than that. Nothing was changed.",
                "Please open the link in your email again, and try once more.",
            ],
            link=None,
        )
        abort(make_response(page, 400))


def bad_link(problem: BadToken, also: tuple[str, ...] = ()) -> Response:
    """The page for a link that does not work, saying why in plain words. A signature that
    matches none of our keys is logged for the team: a changed secret key is the usual cause."""
    link = None
    if isinstance(problem, ExpiredToken):
        title = "This link has expired"
        paragraphs = [
            "The link to confirm your email address works for 7 days, and this one is older.",
            "Please sign up again, and we will send you a new link.",
        ]
        link = {"url": url_for("pages.subscribe"), "text": "Sign up again"}
    else:
        title, paragraphs = "This link does not work", [LINK_HELP]
        if isinstance(problem, BadSignature):
            rule = request.url_rule.rule if request.url_rule else request.path
            log.warning(
                "Refused a link to %s: its signature matches none of our keys. %s", rule, KEY_HINT
            )
    paragraphs = [*paragraphs, *also]
    page = render_template("message.html.j2", title=title, paragraphs=paragraphs, link=link)
    return make_response(page, 400)


LINK_HELP = (
    "The link may have been cut short, or changed when it was copied. Please try the link in "
    "your most recent email from us. If it still does not work, reply to that email and we "
    "will help."
)


def create_app(
    workspace: Workspace | None = None, *, threads: int | None = None, **settings: Any
) -> Flask:
    """The app for `workspace`. `threads`: how many requests the server handles at once, so
    each has a database connection ready, with one for the worker of `engage serve`."""
    workspace = workspace or find_workspace()
    app = Flask("engage", template_folder=str(workspace.templates_dir / "web"))
    # The workspace's pages first; engage's own for any it does not have (the console's pages,
    # in a workspace made before there was a console).
    app.jinja_loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader(str(workspace.templates_dir / "web")),
            jinja2.FileSystemLoader(str(Path(__file__).parent.parent / "templates" / "web")),
        ]
    )
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, **settings)
    app.jinja_env.autoescape = True
    app.jinja_env.undefined = jinja2.StrictUndefined
    signing = signer(workspace)
    store = open_store(workspace)
    if threads is not None:
        store = store.sized(threads + 1)
    app.extensions["engage"] = {
        "workspace": workspace,
        "store": store,
        "writer": Writer(store),
        "signer": signing,
        "inbox": inbox.for_workspace(workspace, signing),
    }

    @app.context_processor
    def organisation() -> dict[str, Any]:
        return {"organisation": workspace.config.organisation}

    from . import console, headers, hooks, pages, stories

    headers.install(app, workspace.config.web.base_url)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(hooks.blueprint)
    app.register_blueprint(stories.blueprint)
    app.register_blueprint(console.blueprint)
    for status, title, text in ERRORS:
        app.register_error_handler(status, _error_page(status, title, text))
    return app


ERRORS = [
    (400, "This link does not work", LINK_HELP),
    (
        404,
        "Page not found",
        "We could not find that page. Check the address, or go to our past newsletters.",
    ),
    (405, "That did not work", "This page cannot do that. Please go back and try again."),
    (
        413,
        "That was too big",
        "What you sent was too big for us to take. Please try a shorter message.",
    ),
    (
        429,
        "Too many tries",
        "We have had a lot of tries from here. Please wait an hour and try again.",
    ),
    (
        500,
        "Something went wrong",
        "Something went wrong on our side. Please try again later. If it still does not work, "
        "reply to any email from us and we will help.",
    ),
]


def _error_page(status: int, title: str, text: str):  # noqa: ANN202
    def handler(_error: Exception) -> tuple[str, int]:
        return render_template("message.html.j2", title=title, paragraphs=[text], link=None), status

    return handler
