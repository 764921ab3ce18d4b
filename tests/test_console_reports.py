"""The console's reports through the Flask client, on SQLite and PostgreSQL: the list of sent
campaigns, and each campaign's report, the same as `engage report CAMPAIGN`."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from .console import signed_in

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)

SUBJECT = "Doing with, not doing to: our winter news"
PEOPLE = (
    "email,name,first_name,tags,format\n"
    "ann@example.org,Ann Lee,Ann,newsletter,html\n"
    "bo@example.org,Bo Diaz,Bo,newsletter,large-print\n"
    "cy@example.org,Cy Obi,Cy,newsletter,plain\n"
    "dee@example.org,Dee Ash,Dee,newsletter,html\n"
)


@pytest.fixture
def sent(console_app):
    """The example newsletter under a name of its own (PostgreSQL's send locks are for the
    whole database, which other tests share), sent to three of four: Cy unsubscribed while it
    was stopped part way."""
    project = console_app.project
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    slug = f"winter-{uuid.uuid4().hex[:8]}"
    project.write(f"campaigns/{slug}.md", project.read("campaigns/doing-with-not-doing-to.md"))
    first = project.run("send", slug, "--yes", "--now", "--limit", "2")  # Ann and Dee
    assert first.exit_code == 0, first.output
    assert project.run("contacts", "unsubscribe", "cy@example.org").exit_code == 0
    rest = project.run("send", slug, "--yes", "--resume")
    assert rest.exit_code == 0, rest.output
    console_app.slug = slug
    return console_app


def main_of(html: str) -> str:
    """The report's body in the one-file page: what is inside <main>."""
    return re.search(r"<main>\n(.*)</main>", html, re.DOTALL).group(1)


def test_the_list_has_each_sent_campaign_with_a_link_to_its_report(sent) -> None:
    client = signed_in(sent, "editor")
    answer = client.get("/console/reports")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    html = answer.get_data(True)
    assert f'<a href="/console/reports/{sent.slug}">{SUBJECT}</a>' in html
    assert "<td>sent</td>" in html and "<td>3 of 4</td>" in html
    assert "share-your-story" not in html and 'href="/console/reports/doing-with' not in html


def test_the_list_says_when_nothing_was_sent(console_app) -> None:
    html = signed_in(console_app, "editor").get("/console/reports").get_data(True)
    assert "No campaign has been sent yet." in html


@pytest.mark.parametrize("role", ["editor", "sender", "admin"])
def test_a_report_page_is_the_same_report_as_engage_report(sent, role) -> None:
    client = signed_in(sent, role)
    answer = client.get(f"/console/reports/{sent.slug}")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    html = answer.get_data(True)
    figures = json.loads(sent.project.run("report", sent.slug, "--format", "json").stdout)
    assert (figures["recipients"], figures["sent"], figures["skipped"]) == (4, 3, 1)
    for name in ("recipients", "sent", "failed", "skipped", "bounced", "unsubscribed"):
        row = f'<tr><th scope="row">{name.capitalize()}</th><td class="n">{figures[name]}</td></tr>'
        assert row in html, name
    assert '<tr><th scope="row">Delivered</th><td class="n">not available</td></tr>' in html
    page = sent.project.run("report", sent.slug, "--format", "html").stdout
    assert main_of(page) in html  # the whole body, figure for figure and word for word
    assert f"<title>How “{SUBJECT}” went – " in html
    assert html.count("<h1>") == 1


def test_the_report_downloads_as_the_one_file_page(sent) -> None:
    client = signed_in(sent, "editor")
    answer = client.get(f"/console/reports/{sent.slug}/page")
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="{sent.slug}-report.html"'
    )
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.get_data(True) == sent.project.run("report", sent.slug, "--format", "html").stdout


def test_a_campaign_not_sent_yet_has_its_report_of_zeros(console_app) -> None:
    client = signed_in(console_app, "editor")
    answer = client.get("/console/reports/share-your-story")
    assert answer.status_code == 200
    assert "Not sent yet." in answer.get_data(True)
    assert main_of(
        console_app.project.run("report", "share-your-story", "--format", "html").stdout
    ) in answer.get_data(True)


@pytest.mark.parametrize(
    "slug", ["no-such-campaign", ".hidden", "doing-with-not-doing-to.md", "engage", "..", "a\\b"]
)
def test_an_unknown_campaign_is_404(console_app, slug) -> None:
    client = signed_in(console_app, "editor")
    for path in (f"/console/reports/{slug}", f"/console/reports/{slug}/page"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        if slug != "..":  # the browser's own rule: /console/reports/.. is /console/
            assert "There is no campaign called" in answer.get_data(True), path


def test_a_campaign_file_that_cannot_be_read_is_404(console_app) -> None:
    console_app.project.write("campaigns/broken.md", "no front matter here\n")
    answer = signed_in(console_app, "editor").get("/console/reports/broken")
    assert answer.status_code == 404
    assert "or its file cannot be read" in answer.get_data(True)


def test_reports_need_someone_signed_in(console_app) -> None:
    answer = console_app.test_client().get("/console/reports/share-your-story")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/console/sign-in?next=/console/reports/share-your-story"
