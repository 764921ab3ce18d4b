"""The console's people pages: search, a person's page (their details, tags, consent history
and timeline, as `engage contacts show` gives them), and what the team may do for a person
who asked: unsubscribe them (editor), export everything held about them (admin), erase them
(admin, who types their address to confirm).

Each calls the library function its command calls (contacts/core.py, life.py, records.py and
engage/erasure.py), with the signed-in member as the one who did it, so the audit log and the
consent history say who.
"""

from __future__ import annotations

import datetime as dt

from flask import Response, request, url_for

from ... import erasure
from ...contacts import core, life, records
from ...contacts.core import Contact, ContactError
from ...contacts.identity import same_mailbox
from ...store.schema import STATUSES
from .. import state as _engage
from .base import blueprint, current, message, needs, page, part

part(
    "console.people",
    "People",
    "Find a person: their timeline, consent, unsubscribe, export and erase.",
)

PER_PAGE = 50
UNSUBSCRIBABLE = ("pending", "subscribed")  # the statuses an unsubscribe changes
SOURCE = "the console"  # where a consent record says the team unsubscribed them


def _store():  # noqa: ANN202 - store.Store
    return _engage()["store"]


def _me() -> str:
    session = current()
    assert session is not None  # @needs saw to it
    return session.member.email


@blueprint.get("/people")
@needs("read")
def people():  # noqa: ANN201
    text = request.args.get("q", "")
    status = request.args.get("status", "")
    if status not in STATUSES:
        status = ""
    number = request.args.get("page", "1")
    errors: dict[str, str] = {}
    if not number.isdigit() or int(number) < 1:
        errors["page"] = "The page number should be a whole number, like 2."
    try:
        text = core.clean_search(text)
    except ContactError as exc:
        errors["q"] = str(exc)
    if errors:
        shown = text[: core.LONGEST_SEARCH]
        body = page(
            "people.html.j2",
            "Error: people",
            errors=errors,
            found=None,
            q=shown,
            status=status,
            statuses=STATUSES,
        )
        return body, 400
    with _store().connect() as connection:
        found = core.search(
            connection, text, status=status or None, page=int(number), per_page=PER_PAGE
        )
    title = f"People: {text}" if text else "People"
    return page(
        "people.html.j2",
        title,
        errors={},
        found=found,
        q=text,
        status=status,
        statuses=STATUSES,
    )


def _refused(problem: ContactError):  # noqa: ANN202
    """What the library said could not be done (an address engage can no longer read, or a
    person erased a moment ago): nothing was changed."""
    return message("That did not work", str(problem), "Nothing was changed.", status=400)


def _when(value: str | None) -> str:
    """A time from a person's records (ISO 8601), as the pages show times."""
    if not value:
        return "not known"
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC).strftime("%d %B %Y, %H:%M UTC")


def _person(contact_id: int) -> Contact | None:
    with _store().connect() as connection:
        return core.by_id(connection, contact_id)


def _missing():  # noqa: ANN202
    return message(
        "No one with that number",
        "There is no one here with that number. They may have been erased.",
        link={"url": url_for("console.people"), "text": "Find a person"},
        status=404,
    )


@blueprint.get("/people/<int:contact_id>")
@needs("read")
def person(contact_id: int):  # noqa: ANN201
    with _store().connect() as connection:
        contact = core.by_id(connection, contact_id)
        if contact is None:
            return _missing()
        held = records.held(connection, contact)  # as `engage contacts show` shows
    return page(
        "person.html.j2",
        contact.name or contact.email,
        contact=contact,
        held=held,
        may_unsubscribe=contact.status in UNSUBSCRIBABLE,
        when=_when,
    )


@blueprint.post("/people/<int:contact_id>/unsubscribe")
@needs("edit")
def person_unsubscribe(contact_id: int):  # noqa: ANN201
    found = _person(contact_id)
    if found is None:
        return _missing()
    try:
        with _store().begin() as connection:
            contact, changed = life.unsubscribe_for_them(
                connection, found.email, actor=_me(), source=SOURCE
            )
    except ContactError as exc:
        return _refused(exc)
    back = {"url": url_for("console.person", contact_id=contact_id), "text": "Back to their page"}
    if not changed:
        return message(
            "Nothing changed",
            f"{contact.email} is {contact.status} already, so they get no emails from us.",
            link=back,
        )
    return message(
        "Unsubscribed",
        f"{contact.email} is unsubscribed. They will not get any more emails from us.",
        "Their consent history and the list of who did what say that you did it.",
        link=back,
    )


@blueprint.post("/people/<int:contact_id>/export")
@needs("export")
def person_export(contact_id: int):  # noqa: ANN201
    found = _person(contact_id)
    if found is None:
        return _missing()
    try:
        with _store().begin() as connection:
            data = records.subject_access(connection, found.email, actor=_me())
    except ContactError as exc:
        return _refused(exc)
    answer = Response(records.as_json(data), mimetype="application/json")
    answer.headers["Content-Disposition"] = (
        f'attachment; filename="everything-we-hold-person-{contact_id}.json"'
    )
    return answer


@blueprint.get("/people/<int:contact_id>/erase")
@needs("erase")
def person_erase(contact_id: int):  # noqa: ANN201
    contact = _person(contact_id)
    if contact is None:
        return _missing()
    return page("person-erase.html.j2", "Erase this person?", contact=contact, errors={}, typed="")


@blueprint.post("/people/<int:contact_id>/erase")
@needs("erase")
def person_erase_now(contact_id: int):  # noqa: ANN201
    contact = _person(contact_id)
    if contact is None:
        return _missing()
    typed = request.form.get("email", "")[:400]
    if not same_mailbox(typed, contact.email):
        said = "You did not type an address." if not typed.strip() else "That is not their address."
        errors = {"email": f"{said} Nothing was erased."}
        body = page(
            "person-erase.html.j2",
            "Error: erase this person?",
            contact=contact,
            errors=errors,
            typed=typed,
        )
        return body, 400
    engage = _engage()
    try:
        erased = erasure.erase(engage["store"], engage["workspace"], contact.email, actor=_me())
    except ContactError as exc:  # erased by someone else a moment ago
        return _refused(exc)
    return page("person-erased.html.j2", "Erased", erased=erased)
