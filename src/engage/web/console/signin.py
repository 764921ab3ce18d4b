"""Signing in and out of the console: by a single-use email link or by password, as
`[team] sign_in` says; sign-in tries are limited per network address and per email address
(`[team] sign_ins_per_hour`); sign out here, or everywhere at once."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import urlsplit

from flask import abort, make_response, redirect, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from ... import outgoing
from ...team import members, passwords, sessions
from .. import check_form, csrf_token, limits
from .. import state as _engage
from .base import COOKIE, blueprint, current, message, needs, page

FORM_OWNER = 0  # the sign-in form is nobody's yet: its CSRF token is the public pages' kind


def _settings():  # noqa: ANN202 - config.Team
    return _engage()["workspace"].config.team


def _hash(kind: str, value: str) -> str:
    return f"console-{kind}:" + hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:40]


def _next() -> str:
    """Where to go after signing in: a console page named by ?next=, never another site."""
    wanted = request.values.get("next", "")
    parts = urlsplit(wanted)
    if parts.scheme or parts.netloc or not wanted.startswith("/console/") or "\\" in wanted:
        return url_for("console.home")
    return wanted


@blueprint.get("/sign-in")
def sign_in():  # noqa: ANN201
    if current() is not None:
        return redirect(_next())
    return _form({}, "")


def _form(errors: dict[str, str], email: str, status: int = 200):  # noqa: ANN202
    title = "Error: sign in" if errors else "Sign in"
    body = page(
        "sign-in.html.j2",
        title,
        errors=errors,
        email=email,
        by_password=_settings().sign_in == "password",
        form_token=csrf_token(FORM_OWNER),
        next=_next(),
    )
    return body, status


@blueprint.post("/sign-in")
def sign_in_sent():  # noqa: ANN201
    check_form(FORM_OWNER)
    email = request.form.get("email", "").strip()[:320]
    if not email or "@" not in email:
        return _form({"email": "Enter your email address, like name@example.org"}, email, 400)
    settings = _settings()
    store = _engage()["store"]
    with store.begin() as connection:
        per_hour, hour = settings.sign_ins_per_hour, dt.timedelta(hours=1)
        if not limits.allow(connection, _hash("ip", request.remote_addr or ""), per_hour, hour):
            abort(429)
        found = members.find(connection, email)
        key = found.email.lower() if found else email.lower()
        if not limits.allow(connection, _hash("address", key), per_hour, hour):
            abort(429)
        if settings.sign_in == "link":
            if found is not None:
                outgoing.ask_for_sign_in(connection, found.id, found.email)
        else:
            stored = members.password_hash(connection, found.id) if found else ""
            if found is None or not passwords.matches(stored, request.form.get("password", "")):
                return _form(
                    {"password": "That email address and password do not match. Try again."},
                    email,
                    400,
                )
            session = sessions.begin(connection, found, settings.session_hours, "password")
    if settings.sign_in == "link":
        outgoing.wake()
        return message(
            "Check your email",
            "If that address is on the team, we have sent it a link to sign in. The link works "
            "once, for 15 minutes.",
            "No email? Check the address, look in your junk folder, or ask an admin on your "
            "team to check you are on the team.",
        )
    return _signed_in(session, _next())


def _signed_in(session: sessions.Session, to: str) -> WerkzeugResponse:
    answer = redirect(to, code=303)
    https = _engage()["workspace"].config.web.base_url.lower().startswith("https://")
    answer.set_cookie(
        COOKIE,
        session.secret,
        max_age=_settings().session_hours * 3600,
        path="/console",
        secure=https,
        httponly=True,
        samesite="Lax",
    )
    return answer


@blueprint.get("/sign-in/<secret>")
def sign_in_link(secret: str):  # noqa: ANN201
    """The link from the email. It shows a button rather than signing in at once: some mail
    programs open every link in an email to check it, and that must not use the link up."""
    with _engage()["store"].connect() as connection:
        state = sessions.link_state(connection, secret)
    if state != "good":
        return _link_problem(state)
    return page(
        "sign-in-link.html.j2",
        "Sign in",
        form_token=csrf_token(FORM_OWNER),
        secret=secret,
    )


@blueprint.post("/sign-in/<secret>")
def sign_in_by_link(secret: str):  # noqa: ANN201
    check_form(FORM_OWNER)
    with _engage()["store"].begin() as connection:
        member = sessions.use_link(connection, secret)
        if member is None:
            state = sessions.link_state(connection, secret)
        else:
            session = sessions.begin(connection, member, _settings().session_hours, "email link")
    if member is None:
        return _link_problem(state)
    return _signed_in(session, url_for("console.home"))


def _link_problem(state: str):  # noqa: ANN202
    why = {
        "used": "This link has been used already. Each link works once.",
        "expired": "This link has expired. Each link works for 15 minutes.",
    }.get(state, "This link does not work. It may have been cut short when it was copied.")
    return message(
        "This link does not work",
        why,
        "Ask for a new link on the sign-in page.",
        link={"url": url_for("console.sign_in"), "text": "Go to the sign-in page"},
        status=400,
    )


@blueprint.post("/sign-out")
@needs("read")
def sign_out():  # noqa: ANN201
    session = current()
    assert session is not None
    with _engage()["store"].begin() as connection:
        if request.form.get("everywhere") == "yes":
            sessions.end_everywhere(connection, session.member)
        else:
            sessions.end(connection, session)
    answer = make_response(redirect(url_for("console.signed_out"), code=303))
    answer.delete_cookie(COOKIE, path="/console")
    return answer


@blueprint.get("/signed-out")
def signed_out():  # noqa: ANN201
    return message(
        "You have signed out",
        "You are signed out of the console.",
        link={"url": url_for("console.sign_in"), "text": "Sign in again"},
    )
