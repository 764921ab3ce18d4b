"""The pages people see: sign-up, confirm, unsubscribe, preferences and the archive."""

from __future__ import annotations

import datetime as dt
import hashlib

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape

from .. import archive as archived
from .. import langs, outgoing, subscriptions
from ..contacts import core
from ..i18n import N_
from ..tokens import BadToken
from . import _, bad_link, check_form, csrf_token, language, limits, small_form, speak_to, words
from . import state as _engage

blueprint = Blueprint("pages", __name__)
# Each format's words, translated where they are shown (_formats).
FORMATS = [
    ("html", N_("Standard email, with pictures")),
    ("large-print", N_("Large print")),
    ("easy-read", N_("Easy Read: short sentences, each with a picture")),
    ("plain", N_("Plain text only")),
]


def _formats() -> list[tuple[str, str]]:
    return [(value, _(words)) for value, words in FORMATS]


def _named(tag: str) -> Markup:
    """A language named in its own words, marked with its own `lang`."""
    return Markup('<span lang="{}">{}</span>').format(tag, langs.name(tag))


def _languages() -> list[tuple[str, Markup]]:
    """The languages people may choose for their emails ([languages] offered), each named in
    its own words, and both together when [languages] bilingual is set: (value, words). Empty
    when there is only the organisation's."""
    settings = _engage()["workspace"].config.languages
    if len(settings.offered) < 2:
        return []
    out = [(tag, _named(tag)) for tag in settings.offered]
    if settings.bilingual:
        first, second = settings.bilingual
        both = Markup(escape(_("Both, %(first)s and %(second)s")))
        out.append(
            (
                " ".join(settings.bilingual),
                both % {"first": _named(first), "second": _named(second)},
            )
        )
    return out


def _language_choice(sent: str | None, stored: str) -> str:
    """What to keep as their language from the form's `sent` value: one of the choices, else
    what they have (`stored`, "" for the organisation's). The organisation's language, chosen
    by someone who had it by default, stays "" (nothing changed)."""
    if sent is None or sent not in [value for value, _words in _languages()]:
        return stored
    home = _engage()["workspace"].config.languages.offered[0]
    return "" if sent == home and not stored else sent


def _shown_language(stored: str) -> str:
    """Which language choice is ticked for someone: theirs, else the page's (on the sign-up
    form) or the organisation's."""
    values = [value for value, _words in _languages()]
    if stored in values:
        return stored
    found = langs.best(stored.split()[0], values) if stored else None
    return found or langs.best(language(), values) or (values[0] if values else "")


def _speak_to(contact_id: int) -> None:
    """This page is one person's: in their language, unless they chose another here."""
    with _engage()["store"].connect() as connection:
        contact = core.by_id(connection, contact_id)
    speak_to(contact.lang if contact is not None else "")


def _hash(kind: str, value: str) -> str:
    return f"{kind}:" + hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:40]


@blueprint.get("/")
def home():  # noqa: ANN201
    return redirect(url_for("pages.subscribe"))


def _topics() -> dict[str, str]:
    return _engage()["workspace"].config.topics


@blueprint.route("/subscribe", methods=["GET", "POST"])
def subscribe():  # noqa: ANN201
    wording = _engage()["workspace"].config.web.consent_wording
    form = {
        "email": "",
        "name": "",
        "format": "html",
        "lang": _shown_language(""),
        "consent": False,
        "topics": [],
    }
    if request.method != "POST":
        return _subscribe_page(form, {}, wording)
    small_form()
    form = {
        "email": request.form.get("email", "").strip(),
        "name": " ".join(request.form.get("name", "").split())[:200],
        "format": request.form.get("format", "html"),
        "lang": _language_choice(request.form.get("lang"), ""),
        "consent": request.form.get("consent") == "yes",
        "topics": [t for t in _topics() if t in request.form.getlist("topic")],
    }
    errors = _check(form)
    if errors:
        return _subscribe_page(form, errors, wording), 400
    if request.form.get("website"):  # the hidden field only robots fill in
        return _check_your_email()
    store, web = _engage()["store"], _engage()["workspace"].config.web
    with store.begin() as connection:
        ip = _hash("ip", request.remote_addr or "")
        if not limits.allow(connection, ip, web.signups_per_hour_per_ip, dt.timedelta(hours=1)):
            abort(429)
        address = core.normalise_email(form["email"])
        per_address = web.confirmations_per_day_per_address
        if not limits.allow(
            connection, _hash("address", core.identity(address)), per_address, dt.timedelta(days=1)
        ):
            return _check_your_email()  # the same page: nothing about the address is given away
        # The same work for every address: its email is made and sent outside this request.
        outgoing.ask_to_confirm(
            connection, address, form["name"], form["format"], form["topics"], form["lang"]
        )
    outgoing.wake()
    return _check_your_email()


def _check(form: dict) -> dict[str, str]:
    errors = {}
    try:
        core.normalise_email(form["email"])
    except core.LocalPartTooLong:
        errors["email"] = _(
            "The part before the @ is too long. Email can only use 64 letters or numbers there. "
            "Check your email address"
        )
    except core.InvalidEmail:
        errors["email"] = _("Enter your email address, like name@example.org")
    if form["format"] not in {value for value, _words in FORMATS}:
        form["format"] = "html"
    if not form["consent"]:
        errors["consent"] = _("Tick the box to say you want our emails")
    return errors


def _subscribe_page(form: dict, errors: dict, wording: str) -> str:
    title = _("Error: get our newsletter") if errors else _("Get our newsletter")
    return render_template(
        "subscribe.html.j2",
        title=title,
        form=form,
        errors=errors,
        formats=_formats(),
        languages=_languages(),
        chosen_language=form["lang"] or _shown_language(""),
        topics=_topics(),
        wording=wording,
    )


def _check_your_email() -> str:
    return render_template(
        "message.html.j2",
        title=_("Check your email"),
        link=None,
        paragraphs=[
            _(
                "Thank you. If this address can sign up, we have sent it an email with a "
                "link. Click the link to start getting our newsletter."
            ),
            words().ngettext(
                "No email? Look in your spam folder. The link works for %(num)d day.",
                "No email? Look in your spam folder. The link works for %(num)d days.",
                subscriptions.CONFIRM_DAYS,
            )
            % {"num": subscriptions.CONFIRM_DAYS},
        ],
    )


@blueprint.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):  # noqa: ANN201
    """Opening the link only shows a page: a mail system's link scanner opens links too. The
    button on it confirms, and only a pending sign-up (see subscriptions.check_confirmation)."""
    store, signer = _engage()["store"], _engage()["signer"]
    try:
        if request.method != "POST":  # GET, or HEAD (which link scanners use too)
            with store.connect() as connection:
                found = subscriptions.check_confirmation(connection, signer, token)
        else:
            _check_form_for(token)
            workspace = _engage()["workspace"]
            offer = subscriptions.offer(workspace)
            with store.begin() as connection:
                found = subscriptions.confirm(
                    connection, signer, token, workspace.config.web.consent_wording, offer
                )
    except BadToken as exc:
        return bad_link(exc)
    if found.contact_id is not None:
        _speak_to(found.contact_id)
    if found.outcome == "ready" and found.contact_id is not None:  # ready: they are known
        return render_template(
            "confirm.html.j2",
            title=_("Confirm that you want our newsletter"),
            email=found.email,
            action=url_for("pages.confirm", token=token),
            csrf=csrf_token(found.contact_id),
        )
    title, paragraphs = CONFIRMED[found.outcome]
    link = None
    if found.outcome == "unsubscribed":
        link = {"url": url_for("pages.subscribe"), "text": _("Sign up for our newsletter again")}
    return render_template(
        "message.html.j2", title=_(title), paragraphs=[_(p) for p in paragraphs], link=link
    )


def _check_form_for(token: str) -> None:
    """The confirm button's form: the link must still work (an expired one says so first), and
    the form must come from the page this link showed."""
    store, signer = _engage()["store"], _engage()["signer"]
    try:
        with store.connect() as connection:
            subscriptions.check_confirmation(connection, signer, token)
        contact_id = signer.verify("c", token)[0]
    except BadToken as exc:
        abort(bad_link(exc))
    check_form(contact_id)


# The page for each outcome but "ready": its title and paragraphs, translated when shown.
CONFIRMED = {
    "confirmed": (
        N_("You are signed up"),
        [
            N_("Thank you. You will get our next newsletter."),
            N_("Every email has a link at the bottom to change your choices or to stop."),
        ],
    ),
    "already": (
        N_("You are already signed up"),
        [
            N_("You do not need to do anything else. You will get our next newsletter."),
            N_("Every email has a link at the bottom to change your choices or to stop."),
        ],
    ),
    "unsubscribed": (
        N_("You are unsubscribed"),
        [
            N_(
                "You do not get our emails now. This link is older than that, so it cannot "
                "sign you up again."
            ),
            N_(
                "Would you like our newsletter again? Sign up again, and we will send you a "
                "new link to click."
            ),
        ],
    ),
}


@blueprint.get("/unsubscribe")
def unsubscribe_help():  # noqa: ANN201
    return render_template(
        "message.html.j2",
        title=_("Unsubscribe"),
        link=None,
        paragraphs=[
            _(
                "To stop our emails, use the link at the bottom of any email from us, "
                "or reply to it with the word unsubscribe."
            )
        ],
    )


@blueprint.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):  # noqa: ANN201
    signer = _engage()["signer"]
    try:
        contact_id = signer.verify("u", token)[0]
    except BadToken as exc:
        return bad_link(exc)
    if request.method != "POST":  # GET or HEAD: a page with a button, never the change itself
        _speak_to(contact_id)
        base = _engage()["workspace"].config.web.base_url.rstrip("/")
        return render_template(
            "unsubscribe.html.j2",
            title=_("Unsubscribe"),
            action=url_for("pages.unsubscribe", token=token),
            preferences_url=f"{base}/preferences/{signer.sign('p', contact_id)}",
        )
    small_form()
    one_click = request.get_data(as_text=True).strip() == "List-Unsubscribe=One-Click"
    try:
        with _engage()["store"].begin() as connection:
            subscriptions.unsubscribe(
                connection, signer, token, method="one-click" if one_click else "web-page"
            )
    except BadToken as exc:
        return bad_link(exc)
    except core.ContactError:
        abort(400)
    _speak_to(contact_id)
    return render_template(
        "message.html.j2",
        title=_("You are unsubscribed"),
        link=None,
        paragraphs=[
            _("We will not send you any more newsletters."),
            _("If you share a story with us, we will still write to you about it."),
        ],
    )


@blueprint.route("/preferences/<token>", methods=["GET", "POST"])
def preferences(token: str):  # noqa: ANN201
    signer = _engage()["signer"]
    store = _engage()["store"]
    try:
        with store.connect() as connection:
            prefs = subscriptions.preferences(connection, signer, token, _topics())
    except BadToken as exc:
        return bad_link(exc)
    speak_to(prefs.lang)
    if request.method == "POST":
        check_form(prefs.contact_id)
        fmt = request.form.get("format", prefs.format)
        fmt = fmt if fmt in {value for value, _words in FORMATS} else prefs.format
        lang = _language_choice(request.form.get("lang"), prefs.lang)
        with store.begin() as connection:
            subscriptions.save_preferences(
                connection, prefs, fmt, set(request.form.getlist("topic")), lang
            )
        speak_to(lang)  # the page that says so is in the language they chose
        return render_template(
            "message.html.j2",
            title=_("Your choices are saved"),
            link={"url": url_for("pages.preferences", token=token), "text": _("See your choices")},
            paragraphs=[_("Thank you. We will use your new choices from the next email.")],
        )
    base = _engage()["workspace"].config.web.base_url.rstrip("/")
    return render_template(
        "preferences.html.j2",
        title=_("Your email choices"),
        email=prefs.email,
        formats=_formats(),
        current=prefs.format,
        languages=_languages(),
        chosen_language=_shown_language(prefs.lang),
        topics=prefs.topics,
        action=url_for("pages.preferences", token=token),
        csrf=csrf_token(prefs.contact_id),
        unsubscribe_url=f"{base}/unsubscribe/{signer.sign('u', prefs.contact_id, 0)}",
    )


@blueprint.get("/archive/")
def archive():  # noqa: ANN201
    """The newsletters anyone may read: what was sent, as it went out."""
    workspace, store = _engage()["workspace"], _engage()["store"]
    items = [
        {"slug": e.campaign, "subject": e.subject, "date": e.date}
        for e in archived.public(store, workspace)
    ]
    return render_template("archive.html.j2", title=_("Past newsletters"), items=items)


@blueprint.get("/archive/<slug>")
def archive_item(slug: str):  # noqa: ANN201
    return _archived(slug).html


@blueprint.get("/archive/<slug>/large-print")
def archive_large_print(slug: str):  # noqa: ANN201
    return _archived(slug).large_print


@blueprint.get("/archive/<slug>/text")
def archive_text(slug: str):  # noqa: ANN201
    return _archived(slug).text, 200, {"Content-Type": "text/plain; charset=utf-8"}


def _archived(slug: str) -> archived.Page:
    """The copy kept when it was sent; 410 with a kind page when the team took it down."""
    try:
        return archived.page(_engage()["store"], _engage()["workspace"], slug)
    except archived.TakenDown:
        page = render_template(
            "message.html.j2",
            title=_("This newsletter has been taken down"),
            paragraphs=[
                _("We have taken this newsletter off our website, so you cannot read it here now."),
                _("Our other past newsletters are still here."),
            ],
            link={"url": url_for("pages.archive"), "text": _("Read our past newsletters")},
        )
        abort(Response(page, status=410))
    except archived.NotInArchive:
        abort(404)
