"""The console's front page, the team page (admins add and remove members) and the audit log."""

from __future__ import annotations

from flask import redirect, request, url_for

from ...team import audit, members
from .. import state as _engage
from .base import PARTS, blueprint, current, message, needs, page


@blueprint.get("/")
def home():  # noqa: ANN201
    if current() is None:
        return redirect(url_for("console.sign_in"))
    return _home()


@needs("read")
def _home():  # noqa: ANN202
    return page("home.html.j2", "The console", parts=PARTS)


@blueprint.get("/team")
@needs("team")
def team():  # noqa: ANN201
    with _engage()["store"].connect() as connection:
        found = members.listing(connection)
    return page("team.html.j2", "The team", members=found, errors={}, form={})


@blueprint.post("/team")
@needs("team")
def team_add():  # noqa: ANN201
    form = {key: request.form.get(key, "").strip() for key in ("email", "name", "role")}
    try:
        with _engage()["store"].begin() as connection:
            added = members.add(connection, form["email"], form["name"], form["role"], _me())
    except members.TeamError as exc:
        with _engage()["store"].connect() as connection:
            found = members.listing(connection)
        errors = {"email": str(exc)}
        return page("team.html.j2", "Error: the team", members=found, errors=errors, form=form), 400
    return message(
        "Added to the team",
        f"{added.name} ({added.email}) is on the team as {added.role}.",
        link={"url": url_for("console.team"), "text": "Back to the team"},
    )


@blueprint.post("/team/remove")
@needs("team")
def team_remove():  # noqa: ANN201
    email = request.form.get("email", "")
    if request.form.get("confirm") != "yes":
        return page("team-remove.html.j2", "Remove from the team?", email=email)
    try:
        with _engage()["store"].begin() as connection:
            removed = members.remove(connection, email, _me())
    except members.TeamError as exc:
        return message("That did not work", str(exc), status=400)
    return message(
        "Removed from the team",
        f"{removed.name} ({removed.email}) is signed out everywhere and cannot sign in again.",
        link={"url": url_for("console.team"), "text": "Back to the team"},
    )


@blueprint.get("/log")
@needs("team")
def log():  # noqa: ANN201
    with _engage()["store"].connect() as connection:
        found = audit.entries(connection, limit=200)
    return page("log.html.j2", "Who did what", entries=found)


def _me() -> str:
    session = current()
    assert session is not None
    return session.member.email
