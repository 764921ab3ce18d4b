"""The public archive shows what was sent, frozen when the send started, and the team can take a
page down and put it back. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import threading
import time

import pytest
import sqlalchemy as sa

from engage import archive
from engage.store import Store, make_engine, open_store, upgrade
from engage.store.schema import archive_pages
from engage.web import create_app

from .browser import axe, format_violations
from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401
from .live_site import serve
from .smtp_sink import SmtpSink
from .test_crash import engage, many_people
from .test_sending import smtp_config

KEY = "archive-test-key"
SLUG = "doing-with-not-doing-to"
SUBJECT = "Doing with, not doing to: our winter news"
SENT_AT = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)  # after its send_at
FIRST = "This year we tried to work in a new way."
BASE = "http://127.0.0.1:8025"


@pytest.fixture
def team(project, monkeypatch, clock, db_url):
    """The example workspace with its sample contacts, on each database, at SENT_AT."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    clock.set(SENT_AT)
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    return project


@pytest.fixture
def client(team):
    app = create_app(team.workspace, TESTING=True)
    yield app.test_client()
    app.extensions["engage"]["store"].engine.dispose()


def send(project, slug: str = SLUG) -> None:
    result = project.run("send", slug, "--yes")
    assert result.exit_code == 0, result.output + result.stderr


def edit_after_sending(project) -> None:
    """What the team does after a send: change the subject and the first paragraph."""
    project.replace(f"campaigns/{SLUG}.md", SUBJECT, "A new subject written later")
    project.replace(
        f"campaigns/{SLUG}.md", FIRST, "This paragraph was written after the newsletter went."
    )


def stored(project) -> dict:
    store = open_store(project.workspace)
    with store.connect() as connection:
        row = connection.execute(sa.select(archive_pages)).one()
    store.engine.dispose()
    return row._asdict()


def listed(project) -> list[str]:
    result = project.run("archive", "list")
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_the_page_shows_what_was_sent_not_the_file_as_it_is_now(team, client) -> None:
    send(team)
    edit_after_sending(team)

    index = client.get("/archive/").get_data(as_text=True)
    assert (
        f'<li><a href="/archive/{SLUG}">{SUBJECT}</a> (3 December 2026). Also in '
        f'<a href="/archive/{SLUG}/large-print" aria-label="{SUBJECT}, in large print">'
        f'large print</a> and <a href="/archive/{SLUG}/text" aria-label="{SUBJECT}, in plain '
        'text">plain text</a>.</li>'
    ) in index
    assert "A new subject written later" not in index
    page = client.get(f"/archive/{SLUG}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"<title>{SUBJECT}</title>" in html
    assert FIRST in html
    assert "written after" not in html
    large = client.get(f"/archive/{SLUG}/large-print").get_data(as_text=True)
    assert FIRST in large and "written after" not in large
    assert large != html  # the large-print layout, not the standard one again
    text = client.get(f"/archive/{SLUG}/text")
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert FIRST in text.get_data(as_text=True)
    assert "written after" not in text.get_data(as_text=True)
    # The copy is rendered for nobody in particular: no one's name or personal links.
    assert "amira" not in html.lower() and "/unsubscribe/" not in html

    assert listed(team) == [
        "CAMPAIGN                 SENT             PAGE    ADDRESS",
        f"{SLUG}  3 December 2026  public  {BASE}/archive/{SLUG}  copy kept when it was sent",
        "1 of 1 sent campaign(s) can be read in the archive.",
    ]
    # Sending again changes nothing either: the send is finished, the copy stays.
    assert team.run("send", SLUG, "--yes").exit_code == 0
    assert FIRST in client.get(f"/archive/{SLUG}").get_data(as_text=True)


def test_a_send_killed_mid_way_has_its_copy_and_the_resume_keeps_it(
    project, db_url, monkeypatch
) -> None:
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_NOW", SENT_AT.isoformat())
    many_people(project)
    sink = SmtpSink(password="pw", delay=0.01).start()
    try:
        smtp_config(project, sink.port)
        sender = engage(project, "send", SLUG, "--yes")
        deadline = time.monotonic() + 60
        while len(sink.received) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait(timeout=10)
        assert 50 <= len(sink.received) < 300

        kept = stored(project)
        assert (kept["origin"], kept["subject"]) == ("send", SUBJECT)
        assert FIRST in kept["html"] and FIRST in kept["text"]
        edit_after_sending(project)
        app = create_app(project.workspace, TESTING=True)
        client = app.test_client()
        assert FIRST in client.get(f"/archive/{SLUG}").get_data(as_text=True)

        sink.delay = 0
        resumed = engage(project, "send", SLUG, "--yes")
        resumed.communicate(timeout=120)  # 1: the batch lost in the kill is reported
        assert stored(project) == kept
        page = client.get(f"/archive/{SLUG}").get_data(as_text=True)
        assert FIRST in page and "written after" not in page
        app.extensions["engage"]["store"].engine.dispose()
    finally:
        sink.stop()


def test_test_copies_and_sends_that_reached_nobody_are_not_shown(team, client) -> None:
    result = team.run("send", SLUG, "--test-to", "me@example.org")
    assert result.exit_code == 0, result.output
    assert listed(team) == ["Nothing has been sent yet, so the archive is empty."]
    assert client.get(f"/archive/{SLUG}").status_code == 404
    assert "We have not sent any newsletters yet." in client.get("/archive/").get_data(as_text=True)

    sink = SmtpSink(password="pw").start()
    try:
        smtp_config(team, sink.port)
        with (team.root / "samples" / "contacts.csv").open(encoding="utf-8") as sample:
            sink.refuse |= {r["email"] for r in csv.DictReader(sample) if "newsletter" in r["tags"]}
        refused = team.run("send", SLUG, "--yes", env={"TEST_SMTP_PASSWORD": "pw"})
    finally:
        sink.stop()
    assert "0 sent, 8 failed" in refused.output
    assert listed(team) == [
        "CAMPAIGN                 SENT             PAGE    ADDRESS",
        # smtp_config points the links at a public address, as any provider but the outbox needs
        f"{SLUG}  3 December 2026  hidden  https://news.example.org/archive/{SLUG}  reached "
        "nobody, so it is not "
        "shown",
        "0 of 1 sent campaign(s) can be read in the archive.",
    ]
    assert client.get(f"/archive/{SLUG}").status_code == 404
    assert client.get(f"/archive/{SLUG}/text").status_code == 404
    assert SLUG not in client.get("/archive/").get_data(as_text=True)


def test_the_team_takes_a_page_down_and_puts_it_back(team, client, clock) -> None:
    send(team)
    clock.advance(days=2)
    kept = stored(team)

    asked = team.run("archive", "remove", SLUG, input="n\n")
    assert asked.exit_code == 1
    assert asked.output == f"Take down {BASE}/archive/{SLUG}? [y/N]: n\nAborted!\n"
    assert client.get(f"/archive/{SLUG}").status_code == 200

    removed = team.run("archive", "remove", f"campaigns/{SLUG}.md", "--note", "story 3  withdrawn")
    assert removed.exit_code == 1  # no --yes and no answer: nothing is taken down unasked
    removed = team.run(
        "archive", "remove", f"campaigns/{SLUG}.md", "--note", "story 3  withdrawn", "--yes"
    )
    assert removed.exit_code == 0, removed.output
    assert removed.output == (
        f"Took down {BASE}/archive/{SLUG}: it now says the newsletter was taken down, and the "
        f"archive no longer lists it. To put it back: engage archive restore {SLUG}\n"
    )
    for path in (f"/archive/{SLUG}", f"/archive/{SLUG}/large-print", f"/archive/{SLUG}/text"):
        gone = client.get(path)
        assert gone.status_code == 410
        words = gone.get_data(as_text=True)
        assert "<h1>This newsletter has been taken down</h1>" in words
        assert '<a href="/archive/">Read our past newsletters</a>' in words
        assert FIRST not in words
    assert "We have not sent any newsletters yet." in client.get("/archive/").get_data(as_text=True)
    assert listed(team) == [
        "CAMPAIGN                 SENT             PAGE        ADDRESS",
        f"{SLUG}  3 December 2026  taken down  {BASE}/archive/{SLUG}  taken down by test-runner "
        "on 5 December 2026: story 3 withdrawn",
        "0 of 1 sent campaign(s) can be read in the archive.",
    ]
    [shown] = json.loads(team.run("archive", "list", "--format", "json").output)
    assert shown == {
        "campaign": SLUG,
        "subject": SUBJECT,
        "sent_on": "2026-12-03",
        "address": f"{BASE}/archive/{SLUG}",
        "state": "taken down",
        "reached": 8,
        "copy": "send",
        "removed_at": "2026-12-05T10:00:00+00:00",
        "removed_by": "test-runner",
        "removed_note": "story 3 withdrawn",
    }
    again = team.run("archive", "remove", SLUG, "--yes")
    assert again.output == (
        f"{SLUG}'s page is already taken down (taken down by test-runner on 5 December 2026: "
        "story 3 withdrawn).\n"
    )

    restored = team.run("archive", "restore", SLUG, "--yes")
    assert restored.output == f"Put back {BASE}/archive/{SLUG}: anyone can read it again.\n"
    assert FIRST in client.get(f"/archive/{SLUG}").get_data(as_text=True)
    assert f'<a href="/archive/{SLUG}">{SUBJECT}</a>' in client.get("/archive/").get_data(
        as_text=True
    )
    assert stored(team) == kept  # the copy was never touched
    assert team.run("archive", "restore", SLUG, "--yes").output == (
        f"{SLUG}'s page is not taken down, so there is nothing to restore.\n"
    )


def test_removing_what_was_never_sent_says_why(team) -> None:
    unsent = team.run("archive", "remove", "share-your-story", "--yes")
    assert (unsent.exit_code, unsent.stderr) == (
        1,
        "Error: share-your-story has not been sent, so it has no page in the archive.\n",
    )
    send(team)
    unknown = team.run("archive", "restore", "wintr-news", "--yes")
    assert (unknown.exit_code, unknown.stderr) == (
        1,
        f"Error: No sent campaign called 'wintr-news'. Campaigns sent so far: {SLUG}.\n",
    )


def test_a_post_waits_while_its_page_is_taken_down(team) -> None:
    send(team)
    assert team.run("archive", "remove", SLUG, "--yes").exit_code == 0
    refused = team.run("post", SLUG, "--yes")
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"Error: Nothing was posted: {SLUG} was taken down from the archive, so the link in the "
        f"post ({BASE}/archive/{SLUG}) leads to no page. Put it back first (engage archive "
        f"restore {SLUG}), or take {{{{ link }}}} out of the post to post without it.\n"
    )
    assert not (team.root / "outbox" / "social").exists()
    assert team.run("archive", "restore", SLUG, "--yes").exit_code == 0
    posted = team.run("post", SLUG, "--yes")
    assert posted.exit_code == 0, posted.output
    assert "Posted to outbox: file://" in posted.output


# --- sends from before engage kept copies ---------------------------------------------------


def _sent_before_copies_were_kept(db_url: str) -> None:
    """A database at schema 0009 in which the example newsletter was sent to one person."""
    old = Store(make_engine(db_url))
    upgrade(old, "0009")
    at = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
    with old.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO contacts (id, email, email_key, name, first_name, format, status, "
                "attributes, created_at, updated_at) VALUES (1, 'ann@example.org', "
                "'ann@example.org', 'Ann', 'Ann', 'html', 'subscribed', '{}', :at, :at)"
            ),
            {"at": at},
        )
        c.execute(
            sa.text(
                "INSERT INTO sends (id, campaign, subject, audience, provider, status, total, "
                "started_at, finished_at) VALUES (1, :slug, :subject, 'newsletter', 'outbox', "
                "'sent', 1, :at, :at)"
            ),
            {"slug": SLUG, "subject": SUBJECT, "at": at},
        )
        c.execute(
            sa.text(
                "INSERT INTO deliveries (id, send_id, contact_id, status, attempts, sent_at) "
                "VALUES (1, 1, 1, 'sent', 1, :at)"
            ),
            {"at": at},
        )
    assert upgrade(old)[0] == "0009"
    old.engine.dispose()


def test_an_older_send_is_copied_from_the_file_when_first_opened(
    project, db_url, monkeypatch, clock
) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    _sent_before_copies_were_kept(db_url)
    copy_words = "not kept: made from the campaign file when the page is first opened"
    assert listed(project)[1] == (
        f"{SLUG}  20 November 2026  public  {BASE}/archive/{SLUG}  copy {copy_words}"
    )
    app = create_app(project.workspace, TESTING=True)
    client = app.test_client()
    assert FIRST in client.get(f"/archive/{SLUG}").get_data(as_text=True)
    assert listed(project)[1] == (
        f"{SLUG}  20 November 2026  public  {BASE}/archive/{SLUG}  copy made from the campaign "
        "file after it was sent"
    )
    edit_after_sending(project)  # from now on, the copy made then is what is shown
    page = client.get(f"/archive/{SLUG}").get_data(as_text=True)
    assert FIRST in page and "written after" not in page
    app.extensions["engage"]["store"].engine.dispose()


def test_an_older_send_whose_file_is_gone_is_not_shown(project, db_url, monkeypatch, clock) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    _sent_before_copies_were_kept(db_url)
    (project.root / "campaigns" / f"{SLUG}.md").unlink()
    app = create_app(project.workspace, TESTING=True)
    assert app.test_client().get(f"/archive/{SLUG}").status_code == 404
    app.extensions["engage"]["store"].engine.dispose()
    # It can still be taken down, and `archive list` says so.
    assert project.run("archive", "remove", SLUG, "--yes").exit_code == 0
    assert listed(project)[1] == (
        f"{SLUG}  20 November 2026  taken down  {BASE}/archive/{SLUG}  taken down by "
        "test-runner on 1 December 2026"
    )


def test_two_first_views_at_once_make_one_copy(project, db_url, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    _sent_before_copies_were_kept(db_url)
    store, workspace = open_store(project.workspace), project.workspace
    pages, errors = [], []
    start = threading.Barrier(4)

    def view() -> None:
        start.wait()
        try:
            pages.append(archive.page(store, workspace, SLUG))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=view) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(pages) == 4 and len({p.html for p in pages}) == 1
    with store.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(archive_pages)).scalar() == 1
        )
    store.engine.dispose()


# --- in a real browser ------------------------------------------------------------------


def test_archive_pages_have_no_violations(project, page, monkeypatch, clock) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    clock.set(SENT_AT)
    with serve(project) as base:
        assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
        send(project)
        page.goto(f"{base}/archive/")
        violations = axe(page)
        assert not violations, format_violations(violations, title="archive index")
        page.get_by_role("link", name=f"{SUBJECT}, in large print").click()
        assert page.url == f"{base}/archive/{SLUG}/large-print"
        violations = axe(page, email=True)
        assert not violations, format_violations(violations, title="large print")
        assert project.run("archive", "remove", SLUG, "--yes").exit_code == 0
        response = page.goto(f"{base}/archive/{SLUG}")
        assert response.status == 410
        assert page.locator("h1").inner_text() == "This newsletter has been taken down"
        violations = axe(page)
        assert not violations, format_violations(violations, title="taken down")
