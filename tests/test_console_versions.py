"""The console shows each version of a campaign: its preview in each language the campaign is
in and in Easy Read, as the person chosen would get it. On SQLite and PostgreSQL."""

from __future__ import annotations

import html

import pytest

from .console import signed_in

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def app(console_app):
    result = console_app.project.run("contacts", "import", "samples/contacts.csv")
    assert result.exit_code == 0, result.output
    return console_app


def page(answer) -> str:
    return html.unescape(answer.get_data(as_text=True))


def test_the_preview_in_each_language_the_campaign_is_in(app) -> None:
    client = signed_in(app, "editor")
    shown = page(client.get("/console/campaigns/share-your-story"))
    assert '<nav aria-label="Languages">' in shown
    assert '<strong aria-current="page">English</strong>' in shown
    assert (
        '<a href="/console/campaigns/share-your-story?format=html&lang=cy" lang="cy" '
        'hreflang="cy">Cymraeg</a>'
    ) in shown
    welsh = page(client.get("/console/campaigns/share-your-story?lang=cy"))
    assert '<strong aria-current="page" lang="cy">Cymraeg</strong>' in welsh
    assert "Showing the email version in Welsh as Sam Example would get it." in welsh
    assert 'src="/console/campaigns/share-your-story/email?format=html&lang=cy"' in welsh
    email = page(client.get("/console/campaigns/share-your-story/email?format=html&lang=cy"))
    assert '<html lang="cy"' in email and "Rhannwch eich stori gyda ni" in email
    text = page(client.get("/console/campaigns/share-your-story?format=plain&lang=cy"))
    assert "Helo Sam," in text and "Rhannwch eich stori gyda ni" in text


def test_the_easy_read_preview(app) -> None:
    client = signed_in(app, "editor")
    shown = page(client.get("/console/campaigns/doing-with-not-doing-to?format=easy-read"))
    assert '<strong aria-current="page">Easy Read</strong>' in shown
    assert '<nav aria-label="Languages">' not in shown  # one language: nothing to choose
    email = page(client.get("/console/campaigns/doing-with-not-doing-to/email?format=easy-read"))
    assert "Disabled people helped us plan our work from the start." in email
    # a campaign with no Easy Read version shows what an Easy Read reader gets: large print
    instead = page(client.get("/console/campaigns/share-your-story?format=easy-read"))
    assert (
        "This campaign has no Easy Read version yet, so people who asked for Easy Read get "
        "the large print version, shown here."
    ) in instead


def test_a_language_the_campaign_is_not_in_is_refused(app) -> None:
    client = signed_in(app, "editor")
    answer = client.get("/console/campaigns/share-your-story?lang=pl")
    assert answer.status_code == 400
    assert "This campaign is not in pl. Choose one of: English, Cymraeg." in page(answer)
    assert client.get("/console/campaigns/share-your-story/email?lang=zz%3Cb%3E").status_code == 404


def test_a_version_has_no_page_of_its_own(app) -> None:
    client = signed_in(app, "sender")
    for path in ("share-your-story.cy", "doing-with-not-doing-to.easy-read"):
        assert client.get(f"/console/campaigns/{path}").status_code == 404
        assert client.get(f"/console/campaigns/{path}/email").status_code == 404
        assert client.get(f"/console/campaigns/{path}/send").status_code == 404
