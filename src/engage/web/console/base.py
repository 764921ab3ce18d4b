"""What every console page shares.

Every page calls the same library functions the CLI calls, so the two never disagree. This
module holds what every console page shares:

- who is signed in (`member()`), from the session cookie (team/sessions.py);
- `@needs(action)`: the page needs someone signed in whose role may do `action` (team/roles.py):
  a visitor who is not signed in is sent to the sign-in page, and one whose role may not is
  shown a page that says so (403);
- every form that changes something carries the session's CSRF token, checked by `@needs`
  before the page runs (400 without it);
- `page()` renders a console template with the member and their token;
- `audit()` notes who did what, in the transaction that did it.

Pages are server-rendered and work without JavaScript. Every answer under /console has
Cache-Control: no-store (web/headers.py) and the public pages' security headers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from ...team import audit as _audit
from ...team import roles, sessions
from .. import small_form
from .. import state as _engage

blueprint = Blueprint("console", __name__, url_prefix="/console")
COOKIE = "engage_console"

# The parts of the console, as the menu and the front page list them: (endpoint, name, what).
PARTS: list[tuple[str, str, str]] = []


def part(endpoint: str, name: str, what: str) -> None:
    """Add a part of the console to the menu and the front page (each part's module calls it
    once, when it is imported)."""
    if all(known[0] != endpoint for known in PARTS):
        PARTS.append((endpoint, name, what))


def current() -> sessions.Session | None:
    """The signed-in session of this request, or None."""
    if "console_session" not in g:
        secret = request.cookies.get(COOKIE, "")
        found = None
        if secret:
            with _engage()["store"].begin() as connection:
                found = sessions.current(connection, secret)
        g.console_session = found
    return g.console_session


def member():  # noqa: ANN201 - team.members.Member, or None
    session = current()
    return session.member if session else None


def needs(action: str) -> Callable:
    """The page needs a signed-in member whose role may do `action`; a form sent to it
    (any method but GET and HEAD) must carry the session's CSRF token."""

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            session = current()
            if session is None:
                if request.method in ("GET", "HEAD"):
                    wanted = request.full_path.rstrip("?")
                    return redirect(url_for("console.sign_in", next=wanted))
                return redirect(url_for("console.sign_in"), code=303)
            if request.method not in ("GET", "HEAD"):
                small_form()
                if not session.form_ok(request.form.get("csrf", "")):
                    abort(make_response(refused_page("This form has expired", FORM_GONE), 400))
            if not roles.may(session.member.role, action):
                abort(make_response(refused_page("You cannot do this", _why(action)), 403))
            return view(*args, **kwargs)

        guarded.console_action = action  # type: ignore[attr-defined]  # for the tests' list
        return guarded

    return wrap


FORM_GONE = (
    "The page was open from before you last signed in, or it did not come from the console. "
    "Nothing was changed. Go back, load the page again, and try once more."
)


def _why(action: str) -> str:
    session = current()
    role = session.member.role if session else "none"
    least = roles.needed(action)
    return (
        f"Your role is {role}. To {roles.WHAT[action]}, you need to be {_article(least)} or "
        "above. Ask an admin on your team if you need to."
    )


def _article(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def may(action: str) -> bool:
    """Whether the signed-in member may do `action`: for showing only the buttons they can use."""
    session = current()
    return session is not None and roles.may(session.member.role, action)


def page(template: str, title: str, **context: Any) -> str:
    """A console page: `template` under templates/web/console/, with the member, their form
    token and `may` for the template."""
    session = current()
    return render_template(
        f"console/{template}",
        title=title,
        me=session.member if session else None,
        csrf=session.csrf if session else "",
        may=may,
        console_parts=_menu(),
        **context,
    )


def _menu() -> list[dict[str, str]]:
    """The menu: each part with `current` "page" on its own page, "true" on the pages below
    it (a reply, a story, a person), and "" elsewhere."""
    views = current_app.view_functions
    here = views[request.endpoint].__module__ if request.endpoint in views else ""
    menu = []
    for endpoint, name, what in PARTS:
        if endpoint == request.endpoint:
            current = "page"
        elif endpoint in views and views[endpoint].__module__ == here:
            current = "true"
        else:
            current = ""
        menu.append({"endpoint": endpoint, "name": name, "what": what, "current": current})
    return menu


def refused_page(title: str, text: str) -> str:
    return page("message.html.j2", title, paragraphs=[text], link=None)


def message(title: str, *paragraphs: str, link: dict | None = None, status: int = 200):  # noqa: ANN201
    return page("message.html.j2", title, paragraphs=list(paragraphs), link=link), status


def audit(connection: sa.Connection, action: str, subject: str = "", detail: str = "") -> None:
    """Note that the signed-in member did `action`, in `connection`'s transaction."""
    session = current()
    actor = session.member.email if session else "console"
    _audit.record(connection, actor, action, subject, detail)
