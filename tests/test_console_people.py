"""The console's people pages through the Flask client, on SQLite and PostgreSQL: search, a
person's page, unsubscribe (editor), export and erase (admin), each refusal, and what the
audit log keeps of an erased person."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3

import pytest
import sqlalchemy as sa

from engage import store as store_module
from engage.contacts import core, records
from engage.contacts.identity import email_hash
from engage.store.schema import audit_log, consents, suppressions
from engage.team import audit

from .console import signed_in
from .test_erase import database_files

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)

PEOPLE = (
    "email,name,first_name,tags,format\n"
    "sam.jones@example.org,Sam Jones,Sam,newsletter;walking,html\n"
    "ann_lee@example.org,Ann O'Hara-Lee,Ann,newsletter,large-print\n"
    "bo@example.net,Bo Diaz,Bo,newsletter,plain\n"
    "percent%sign@example.org,Ada 100% Lovelace,Ada,newsletter,html\n"
)


@pytest.fixture
def people(console_app):
    path = console_app.project.write("people.csv", PEOPLE)
    imported = console_app.project.run(
        "contacts", "import", str(path), "--consent", "Yes, send me the news."
    )
    assert imported.exit_code == 0, imported.output
    return console_app


def store(app):
    return app.extensions["engage"]["store"]


def contact_id(app, email: str) -> int:
    with store(app).connect() as c:
        return core.get(c, email).id


def log(app) -> list[tuple[str, str, str]]:
    with store(app).connect() as c:
        return [(e.actor, e.action, e.subject) for e in audit.entries(c)]


def emails_on(html: str) -> list[str]:
    """The addresses in the results table, in order."""
    return re.findall(r"<td>([^<>\s]+@[^<>\s]+)</td>", html)


# Search


def test_search_finds_by_a_part_of_the_name_or_the_address(people) -> None:
    client = signed_in(people, "editor")
    every = client.get("/console/people")
    assert every.status_code == 200
    assert every.headers["Cache-Control"] == "no-store"
    assert emails_on(every.get_data(True)) == [
        "ann_lee@example.org",
        "bo@example.net",
        "percent%sign@example.org",
        "sam.jones@example.org",
    ]
    for typed, found in [
        ("JONES", ["sam.jones@example.org"]),  # a part of the name, in another case
        ("sam", ["sam.jones@example.org"]),
        ("example.net", ["bo@example.net"]),  # a part of the address
        (
            "@EXAMPLE.ORG",
            ["ann_lee@example.org", "percent%sign@example.org", "sam.jones@example.org"],
        ),
        ("Sam.Jones@Example.ORG", ["sam.jones@example.org"]),  # a whole address, any case
        ("o'hara", ["ann_lee@example.org"]),  # a quote is a letter to find
        ("  Diaz  ", ["bo@example.net"]),
    ]:
        answer = client.get("/console/people", query_string={"q": typed})
        assert answer.status_code == 200, typed
        assert emails_on(answer.get_data(True)) == found, typed
    matched = client.get("/console/people", query_string={"q": "jones"}).get_data(True)
    assert "1 person match “jones”" in matched
    sam = contact_id(people, "sam.jones@example.org")
    assert f'<a href="/console/people/{sam}">Sam Jones</a>' in matched


def test_search_takes_odd_input_as_letters_to_find(people) -> None:
    client = signed_in(people, "editor")
    for typed, found in [
        ("%", ["percent%sign@example.org"]),  # not a wildcard
        ("100%", ["percent%sign@example.org"]),
        ("_", ["ann_lee@example.org"]),  # not "any one letter"
        ("n_l", ["ann_lee@example.org"]),
        ('"', []),
        ("'; DROP TABLE contacts; --", []),
        ("\\", []),
        ("\x00sam\x07", ["sam.jones@example.org"]),  # control characters are left out
        ("Zoë 🙂", []),
    ]:
        answer = client.get("/console/people", query_string={"q": typed})
        assert answer.status_code == 200, repr(typed)
        html = answer.get_data(True)
        assert emails_on(html) == found, repr(typed)
        if not found:
            assert "No one matches." in html
    long = client.get("/console/people", query_string={"q": "a" * 321})
    assert long.status_code == 400
    assert (
        "That is 321 characters long. Search for a part of a name or an email address, at "
        "most 320 characters." in long.get_data(True)
    )
    longest = client.get("/console/people", query_string={"q": "a" * 320})
    assert longest.status_code == 200 and "No one matches." in longest.get_data(True)
    for number in ("0", "-1", "two", "1e3"):
        wrong = client.get("/console/people", query_string={"page": number})
        assert wrong.status_code == 400, number
        assert "The page number should be a whole number, like 2." in wrong.get_data(True)
    with store(people).connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(sa.text("contacts"))).scalar() == 4


def test_search_is_paged(people, monkeypatch) -> None:
    from engage.web.console import people as pages

    monkeypatch.setattr(pages, "PER_PAGE", 3)
    client = signed_in(people, "editor")
    first = client.get("/console/people", query_string={"q": "example"}).get_data(True)
    assert emails_on(first) == ["ann_lee@example.org", "bo@example.net", "percent%sign@example.org"]
    assert "4 people match “example”" in first and "Page 1 of 2." in first
    assert '<a href="/console/people?q=example&amp;page=2">Next page</a>' in first
    second = client.get("/console/people", query_string={"q": "example", "page": "2"})
    assert emails_on(second.get_data(True)) == ["sam.jones@example.org"]
    assert "Previous page" in second.get_data(True)
    beyond = client.get("/console/people", query_string={"q": "example", "page": "9"})
    assert beyond.status_code == 200 and "There is no one on page 9." in beyond.get_data(True)


def test_the_cli_lists_with_the_same_search(people) -> None:
    listed = people.project.run("contacts", "list", "--search", "JONES", "--format", "json")
    assert listed.exit_code == 0
    assert [p["email"] for p in json.loads(listed.output)] == ["sam.jones@example.org"]
    odd = people.project.run("contacts", "list", "--search", "_", "--format", "json")
    assert [p["email"] for p in json.loads(odd.output)] == ["ann_lee@example.org"]


def test_an_unknown_person_is_404(people) -> None:
    client = signed_in(people, "admin")
    for path in ("/console/people/9999", "/console/people/9999/erase"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "There is no one here with that number." in answer.get_data(True)
    for action in ("unsubscribe", "export", "erase"):
        answer = client.post(f"/console/people/9999/{action}", data={"csrf": client.csrf})
        assert answer.status_code == 404, action
    assert client.get("/console/people/abc").status_code == 404


# A person's page


def test_a_persons_page_shows_their_details_consent_and_timeline(people) -> None:
    sam = contact_id(people, "sam.jones@example.org")
    client = signed_in(people, "editor")
    answer = client.get(f"/console/people/{sam}")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    html = answer.get_data(True)
    assert "<h1>Sam Jones</h1>" in html
    assert "<dt>Email address</dt><dd>sam.jones@example.org</dd>" in html
    assert "<dt>Tags</dt><dd>newsletter, walking</dd>" in html
    assert "<dt>Status</dt><dd>subscribed</dd>" in html
    assert "<dt>Added</dt><dd>01 December 2026, 09:00 UTC</dd>" in html
    assert '<td class="words">Yes, send me the news.</td>' in html
    assert "<td>given (consent)</td>" in html and "<td>test-runner</td>" in html
    with store(people).connect() as c:
        timeline = records.export(c, "sam.jones@example.org")["timeline"]
    for entry in timeline:  # what `engage contacts show` shows
        assert f"<td>{entry['what']}</td>" in html
    # An editor may unsubscribe, not export or erase: those buttons are not shown.
    assert "Unsubscribe them" in html
    assert "Download everything we hold" not in html and "erase this person" not in html
    admin = signed_in(people, "admin").get(f"/console/people/{sam}").get_data(True)
    assert "Download everything we hold (JSON)" in admin and "erase this person" in admin


# Unsubscribe


def test_an_editor_unsubscribes_a_person_and_it_is_recorded_with_them(people, clock) -> None:
    sam = contact_id(people, "sam.jones@example.org")
    client = signed_in(people, "editor", "kim@example.org")
    answer = client.post(f"/console/people/{sam}/unsubscribe", data={"csrf": client.csrf})
    assert answer.status_code == 200
    assert (
        "sam.jones@example.org is unsubscribed. They will not get any more emails from us."
        in answer.get_data(True)
    )
    with store(people).connect() as c:
        contact = core.get(c, "sam.jones@example.org")
        last = core.consent_history(c, contact.id)[-1]
        assert core.suppression(c, "sam.jones@example.org").reason == "unsubscribed"
    assert contact.status == "unsubscribed"
    assert (last["action"], last["method"], last["source"], last["actor"]) == (
        "withdrawn",
        "manual",
        "the console",
        "kim@example.org",
    )
    assert log(people)[0] == ("kim@example.org", "unsubscribed", "sam.jones@example.org")
    page = client.get(f"/console/people/{sam}").get_data(True)
    assert "<td>kim@example.org</td>" in page and "Unsubscribe them" not in page
    again = client.post(f"/console/people/{sam}/unsubscribe", data={"csrf": client.csrf})
    assert again.status_code == 200
    assert "sam.jones@example.org is unsubscribed already" in again.get_data(True)
    assert [e for e in log(people) if e[1] == "unsubscribed"] == [log(people)[0]]  # once


def test_the_cli_unsubscribe_is_in_the_log_too(people) -> None:
    done = people.project.run("contacts", "unsubscribe", "bo@example.net")
    assert done.output == "Unsubscribed bo@example.net. They will not get any more emails.\n"
    assert log(people)[0] == ("command line (test-runner)", "unsubscribed", "bo@example.net")
    again = people.project.run("contacts", "unsubscribe", "bo@example.net")
    assert again.output == "bo@example.net is unsubscribed already: nothing changed.\n"


def test_unsubscribe_without_the_form_token_changes_nothing(people) -> None:
    sam = contact_id(people, "sam.jones@example.org")
    client = signed_in(people, "admin")
    answer = client.post(f"/console/people/{sam}/unsubscribe")
    assert answer.status_code == 400 and "This form has expired" in answer.get_data(True)
    wrong = client.post(f"/console/people/{sam}/unsubscribe", data={"csrf": "x" + client.csrf})
    assert wrong.status_code == 400
    with store(people).connect() as c:
        assert core.get(c, "sam.jones@example.org").status == "subscribed"
        assert c.execute(sa.select(sa.func.count()).select_from(consents)).scalar() == 4
    assert [e for e in log(people) if e[1] == "unsubscribed"] == []


# Export


def test_an_admin_exports_what_the_cli_exports(people) -> None:
    ann = contact_id(people, "ann_lee@example.org")
    client = signed_in(people, "admin", "ali@example.org")
    answer = client.post(f"/console/people/{ann}/export", data={"csrf": client.csrf})
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="everything-we-hold-person-{ann}.json"'
    )
    assert answer.headers["Cache-Control"] == "no-store"
    cli = people.project.run("contacts", "export", "ann_lee@example.org")
    assert cli.exit_code == 0
    assert answer.get_data(True) == cli.output
    assert json.loads(answer.get_data(True))["contact"]["name"] == "Ann O'Hara-Lee"
    assert log(people)[:2] == [
        ("command line (test-runner)", "exported", "ann_lee@example.org"),
        ("ali@example.org", "exported", "ann_lee@example.org"),
    ]


@pytest.mark.parametrize("role", ["editor", "sender"])
def test_only_an_admin_may_export_or_erase(people, role) -> None:
    sam = contact_id(people, "sam.jones@example.org")
    client = signed_in(people, role)
    for method, path, what in [
        ("post", f"/console/people/{sam}/export", "export what we hold about a person"),
        ("get", f"/console/people/{sam}/erase", "erase a person"),
        ("post", f"/console/people/{sam}/erase", "erase a person"),
    ]:
        data = {"csrf": client.csrf, "email": "sam.jones@example.org"}
        answer = getattr(client, method)(path, data=data if method == "post" else None)
        assert answer.status_code == 403, path
        text = answer.get_data(True)
        assert "You cannot do this" in text
        assert f"Your role is {role}. To {what}, you need to be an admin or above." in text
    with store(people).connect() as c:
        assert core.find(c, "sam.jones@example.org") is not None
    assert [e for e in log(people) if e[1] in ("exported", "erased")] == []


def test_export_without_the_form_token_gives_nothing(people) -> None:
    sam = contact_id(people, "sam.jones@example.org")
    client = signed_in(people, "admin")
    answer = client.post(f"/console/people/{sam}/export")
    assert answer.status_code == 400 and "sam.jones" not in answer.get_data(True)
    assert [e for e in log(people) if e[1] == "exported"] == []


# Erase


def test_erase_asks_for_the_address_and_a_wrong_one_erases_nothing(people) -> None:
    sam = contact_id(people, "sam.jones@example.org")
    client = signed_in(people, "admin")
    ask = client.get(f"/console/people/{sam}/erase")
    assert ask.status_code == 200
    assert "<h1>Erase Sam Jones?</h1>" in ask.get_data(True)
    assert "To confirm, type their email address" in ask.get_data(True)
    for typed in ("", "bo@example.net", "sam.jones@example", "sam.jones@example.org.uk"):
        wrong = client.post(
            f"/console/people/{sam}/erase", data={"csrf": client.csrf, "email": typed}
        )
        assert wrong.status_code == 400, typed
        html = wrong.get_data(True)
        assert "Nothing was erased" in html
        said = "You did not type an address." if not typed else "That is not their address."
        assert f"{said} Nothing was erased." in html
        assert '<span class="words">sam.jones@example.org</span>' in html  # what to type
    no_token = client.post(f"/console/people/{sam}/erase", data={"email": "sam.jones@example.org"})
    assert no_token.status_code == 400 and "This form has expired" in no_token.get_data(True)
    with store(people).connect() as c:
        assert core.get(c, "sam.jones@example.org").status == "subscribed"
    assert [e for e in log(people) if e[1] == "erased"] == []


def test_an_admin_erases_a_person_and_the_log_keeps_no_trace_of_them(people, db_url) -> None:
    sam = contact_id(people, "sam.jones@example.org")
    editor = signed_in(people, "editor", "kim@example.org")
    editor.post(f"/console/people/{sam}/unsubscribe", data={"csrf": editor.csrf})
    client = signed_in(people, "admin", "ali@example.org")
    client.post(f"/console/people/{sam}/export", data={"csrf": client.csrf})
    with store(people).begin() as c:  # someone else's entry that names them in passing
        audit.record(c, "kim@example.org", "noted", "story 7", "Sam Jones rang about it")
    answer = client.post(
        f"/console/people/{sam}/erase",
        data={"csrf": client.csrf, "email": "  SAM.JONES@example.ORG "},  # any spelling
    )
    assert answer.status_code == 200
    html = answer.get_data(True)
    named = f"person {email_hash('sam.jones@example.org')[:12]}"
    assert "The person is erased." in html
    assert f"It names them only as “{named}”" in html
    assert "sam.jones" not in html.lower() and "Sam Jones" not in html
    with store(people).connect() as c:
        assert core.find(c, "sam.jones@example.org") is None
        kept = c.execute(sa.select(suppressions.c.email, suppressions.c.reason)).all()
        entries = c.execute(
            sa.select(
                audit_log.c.actor, audit_log.c.action, audit_log.c.subject, audit_log.c.detail
            )
            .where(audit_log.c.action.not_in(("signed in", "team member added")))
            .order_by(audit_log.c.id.desc())
        ).all()
    assert (None, "erased") in [tuple(r) for r in kept]
    assert [tuple(e) for e in entries] == [
        ("ali@example.org", "erased", named, "only a hash of their address is kept"),
        ("kim@example.org", "noted", "story 7", f"{named} rang about it"),
        ("ali@example.org", "exported", named, ""),
        ("kim@example.org", "unsubscribed", named, "from the console"),
    ]
    gone = client.get(f"/console/people/{sam}")
    assert gone.status_code == 404
    assert "problem" not in html.lower() and "One thing still to do" not in html
    # Nothing of them is left in the database's files: not their address, not their name.
    for place, data in database_files(db_url, people.project.root).items():
        assert b"sam.jones" not in data.lower() and b"sam jones" not in data.lower(), place


def test_the_log_forgets_only_whole_addresses_and_names(people) -> None:
    entries = [
        ("story 7", "Sam Jones rang; so did Sam Jonesy and SAM JONES."),
        ("Sam.Jones@Example.org", "from sam.jones@example.org."),
        ("joann.sam.jones@example.org.uk", "xsam.jones@example.org and sam.jones@example.orgs"),
    ]
    with store(people).begin() as c:
        c.execute(audit_log.delete())
        for subject, detail in entries:
            audit.record(c, "kim@example.org", "noted", subject, detail)
        changed = audit.forget(c, ["sam.jones@example.org", "Sam Jones", ""], "person 1")
        kept = c.execute(
            sa.select(audit_log.c.subject, audit_log.c.detail).order_by(audit_log.c.id)
        ).all()
    assert changed == 2
    assert [tuple(r) for r in kept] == [
        ("story 7", "person 1 rang; so did Sam Jonesy and person 1."),
        ("person 1", "from person 1."),
        entries[2],
    ]


def test_the_cli_erasure_is_in_the_log_without_the_address(people) -> None:
    people.project.run("contacts", "export", "bo@example.net")
    erased = people.project.run("contacts", "erase", "bo@example.net", "--yes")
    assert erased.exit_code == 0, erased.output
    named = f"person {email_hash('bo@example.net')[:12]}"
    assert log(people)[:2] == [
        ("command line (test-runner)", "erased", named),
        ("command line (test-runner)", "exported", named),
    ]
    shown = people.project.run("team", "log")
    assert "bo@example.net" not in shown.output and named in shown.output


def test_an_address_engage_can_no_longer_read_is_shown_and_refused_clearly(people, clock) -> None:
    """A contact stored before engage was this strict: their page shows, and each action says
    what is wrong instead of failing."""
    with store(people).begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO contacts (email, email_key, name, first_name, format, status, "
                "attributes, created_at, updated_at) VALUES ('old..dots@example.org', "
                "'old..dots@example.org', 'Old Dots', '', 'html', 'subscribed', '{}', :at, :at)"
            ),
            {"at": clock.now()},
        )
        old = c.execute(sa.text("SELECT id FROM contacts WHERE name = 'Old Dots'")).scalar()
    client = signed_in(people, "admin")
    shown = client.get(f"/console/people/{old}")
    assert shown.status_code == 200 and "<h1>Old Dots</h1>" in shown.get_data(True)
    for action in ("unsubscribe", "export"):
        answer = client.post(f"/console/people/{old}/{action}", data={"csrf": client.csrf})
        assert answer.status_code == 400, action
        assert "Nothing was changed." in answer.get_data(True)
    with store(people).connect() as c:
        status = c.execute(sa.text("SELECT status FROM contacts WHERE id = :i"), {"i": old})
        assert status.scalar() == "subscribed"


def test_what_an_erasure_could_not_clear_yet_is_said(people, db_url, monkeypatch) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the write-ahead log here is SQLite's")
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    bo = contact_id(people, "bo@example.net")
    client = signed_in(people, "admin")
    path = sa.make_url(db_url).database
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM contacts").fetchone()  # reads, and keeps reading
        answer = client.post(
            f"/console/people/{bo}/erase", data={"csrf": client.csrf, "email": "bo@example.net"}
        )
    assert answer.status_code == 200
    html = answer.get_data(True)
    assert "<p>The person is erased.</p>" in html
    assert "One thing still to do" in html
    assert f"another program has the database {path} open" in html
    with store(people).connect() as c:
        assert core.find(c, "bo@example.net") is None
