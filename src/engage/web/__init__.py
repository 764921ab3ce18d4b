"""The web app: sign-up, confirmation, unsubscribe, preferences, archive, provider webhooks and
inbound mail. `create_app()` returns a WSGI app for any WSGI server; `engage serve` runs one.

Pages come from templates/web/ in the workspace and need no JavaScript. Their words come
from the message catalogues (i18n.py), in the language `language()` chooses for the page. Two
cookies: the team's console (/console, web/console/) sets its session, and the language
switch on every public page remembers the language chosen (LANG_COOKIE).
"""

from __future__ import annotations

import gettext as _gettext
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    make_response,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape

from .. import clock, i18n, langs
from ..config import Workspace, find_workspace
from ..i18n import N_
from ..replies import inbox
from ..store import open_store
from ..store.group import Writer
from ..subscriptions import CONFIRM_DAYS
from ..tokens import KEY_HINT, BadSignature, BadToken, ExpiredToken, signer

MAX_BODY = 10 * 1024 * 1024  # every route but inbound mail (web/inbound_body.py limit)
MAX_FORM = 64 * 1024
CSRF_MINUTES = 24 * 60  # how long a page's form may wait before it is sent
log = logging.getLogger("engage.web")


def state() -> dict[str, Any]:
    """The workspace, store, writer (store/group.py), signer and replies inbox of the app
    handling this request."""
    return current_app.extensions["engage"]


LANG_COOKIE = "engage_lang"  # the language chosen with the switch on every public page
LANG_SECONDS = 365 * 24 * 60 * 60


def language() -> str:
    """The language of this request's page, chosen once: the one asked for with the language
    switch (?lang=), else the one remembered from it (LANG_COOKIE), else the browser's
    (Accept-Language), else the organisation's. A page that knows whose it is calls
    `speak_to` first. Always one of the languages with a catalogue, as engage.toml names it."""
    if "lang" not in g:
        g.lang = _choose("")
    return g.lang


def speak_to(stored: str | None) -> None:
    """This page is one person's (their link, from their email): their language (as stored
    for them: one tag, or two for both) comes before the browser's, though not before one
    they chose with the switch on this browser."""
    g.lang = _choose(stored or "")
    g.pop("words", None)


def _choose(stored: str) -> str:
    available = state()["languages"]
    if request.blueprint == "console" or request.path.startswith("/console/"):
        return langs.best(i18n.SOURCE, available) or available[0]  # the console is in English
    chosen = [request.args.get("lang"), request.cookies.get(LANG_COOKIE)]
    browser = [value for value, quality in request.accept_languages if quality > 0]
    return i18n.choose(available, [*chosen, *stored.split()[:1], *browser])


def words() -> _gettext.NullTranslations:
    """engage's words in this page's language."""
    if "words" not in g:
        g.words = i18n.translations(language(), state()["workspace"].root)
    return g.words


def _(message: str, **values: Any) -> str:
    """`message` in the page's language, its %(name)s placeholders filled in from `values`."""
    text = words().gettext(message)
    return text % values if values else text


def from_settings(text: str) -> Markup:
    """Words from engage.toml (a topic, the consent wording) for this page: translated when a
    catalogue has them (a workspace's own, in its locales/), else as written, marked with the
    organisation's language when the page is in another."""
    return marked(text, state()["languages"][0])


def marked(text: str, written_in: str = i18n.SOURCE) -> Markup:
    """`text` in this page's language when a catalogue has it; else as it is written (in
    `written_in`: engage's English, unless said), in a span with its own `lang` when that is
    not the page's language."""
    translated = words().gettext(text)
    if translated != text or langs.same(language(), written_in):
        return escape(translated)
    return Markup('<span lang="{}">{}</span>').format(written_in, text)


def language_switch() -> list[dict[str, Any]]:
    """The links of the language switch: each language, named in its own words, at this
    page's address with ?lang= (a plain link, so it works without JavaScript)."""
    out = []
    for tag in state()["languages"]:
        args = request.args.copy()
        args["lang"] = tag
        url = f"{request.path}?{urlencode(list(args.items(multi=True)))}"
        out.append({"tag": tag, "name": langs.name(tag), "url": url, "current": tag == language()})
    return out


def _install_languages(app: Flask, workspace: Workspace) -> None:
    """The catalogues' words in every page (`_`, `gettext`, `ngettext` in templates), the
    page's language and its switch, and the headers that go with a page in a chosen language:
    Content-Language, Vary (so a cache keeps one copy per language) and the switch's cookie."""
    organisation = workspace.config.organisation
    offered = workspace.config.languages.offered
    app.extensions["engage"]["languages"] = i18n.languages(
        workspace.root, langs.tidy(organisation.lang), offered
    )
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda message: words().gettext(message),
        ngettext=lambda one, many, n: words().ngettext(one, many, n),
        newstyle=True,
    )
    https = workspace.config.web.base_url.lower().startswith("https://")

    @app.context_processor
    def page_language() -> dict[str, Any]:
        return {
            "language": language(),
            "home_language": state()["languages"][0],
            "language_switch": language_switch,
            "from_settings": from_settings,
        }

    @app.after_request
    def language_headers(response: Response) -> Response:
        if "lang" not in g:  # no page in a language: an archived email, a webhook's answer
            return response
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
        response.headers["Content-Language"] = g.lang
        asked = request.args.get("lang", "")
        chosen = langs.is_tag(asked) and g.lang == langs.best(asked, state()["languages"])
        if chosen and request.cookies.get(LANG_COOKIE) != g.lang:
            response.set_cookie(
                LANG_COOKIE,
                g.lang,
                max_age=LANG_SECONDS,
                secure=https,
                httponly=True,
                samesite="Lax",
            )
        return response


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
            title=_("This page was open too long"),
            paragraphs=[
                _(
                    "For your safety, a page like this works for one day, and this one was "
                    "opened earlier than that. Nothing was changed."
                ),
                _("Please open the link in your email again, and try once more."),
            ],
            link=None,
        )
        abort(make_response(page, 400))


def bad_link(problem: BadToken, also: tuple[str, ...] = ()) -> Response:
    """The page for a link that does not work, saying why in plain words. A signature that
    matches none of our keys is logged for the team: a changed secret key is the usual cause."""
    link = None
    if isinstance(problem, ExpiredToken):
        title = _("This link has expired")
        paragraphs = [
            words().ngettext(
                "The link to confirm your email address works for %(num)d day, and this one "
                "is older.",
                "The link to confirm your email address works for %(num)d days, and this one "
                "is older.",
                CONFIRM_DAYS,
            )
            % {"num": CONFIRM_DAYS},
            _("Please sign up again, and we will send you a new link."),
        ]
        link = {"url": url_for("pages.subscribe"), "text": _("Sign up again")}
    else:
        title, paragraphs = _("This link does not work"), [_(LINK_HELP)]
        if isinstance(problem, BadSignature):
            rule = request.url_rule.rule if request.url_rule else request.path
            log.warning(
                "Refused a link to %s: its signature matches none of our keys. %s", rule, KEY_HINT
            )
    paragraphs = [*paragraphs, *also]
    page = render_template("message.html.j2", title=title, paragraphs=paragraphs, link=link)
    return make_response(page, 400)


LINK_HELP = N_(
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

    _install_languages(app, workspace)

    from . import console, headers, hooks, pages, stories

    headers.install(app, workspace.config.web.base_url)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(hooks.blueprint)
    app.register_blueprint(stories.blueprint)
    app.register_blueprint(console.blueprint)
    for status, title, text in ERRORS:
        app.register_error_handler(status, _error_page(status, title, text))
    return app


# Each error page's title and words, translated when shown.
ERRORS = [
    (400, N_("This link does not work"), LINK_HELP),
    (
        404,
        N_("Page not found"),
        N_("We could not find that page. Check the address, or go to our past newsletters."),
    ),
    (405, N_("That did not work"), N_("This page cannot do that. Please go back and try again.")),
    (
        413,
        N_("That was too big"),
        N_("What you sent was too big for us to take. Please try a shorter message."),
    ),
    (
        429,
        N_("Too many tries"),
        N_("We have had a lot of tries from here. Please wait an hour and try again."),
    ),
    (
        500,
        N_("Something went wrong"),
        N_(
            "Something went wrong on our side. Please try again later. If it still does not "
            "work, reply to any email from us and we will help."
        ),
    ),
]


def _error_page(status: int, title: str, text: str):  # noqa: ANN202
    def handler(_error: Exception) -> tuple[str, int]:
        page = render_template("message.html.j2", title=_(title), paragraphs=[_(text)], link=None)
        return page, status

    return handler
