"""People who sign up on the web get the newsletter: the sign-up tags and the topics they chose,
given when they confirm, recorded as theirs; and `engage contacts tag-signups` for those who
confirmed before. On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from engage.contacts import audiences, core, life
from engage.store import open_store
from engage.store.schema import contact_changes
from engage.tokens import Signer
from engage.web import create_app

from .test_web import send_queued, set_topics

KEY = "signups-test-key"
TOPICS = '[topics]\nwalking = "Walking groups near you"\nboccia = "Boccia sessions"\n'

FORM = core.ConsentGiven(method="form", source="web-form", actor="the person")


@pytest.fixture
def site(project, monkeypatch, db_url):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    set_topics(project, TOPICS)
    app = create_app(project.workspace, TESTING=True)
    app.project = project
    yield app
    app.extensions["engage"]["store"].engine.dispose()


def store(app):
    return app.extensions["engage"]["store"]


def sign_up_and_confirm(app, address: str, topics: list[str]) -> None:
    client = app.test_client()
    data = {"email": address, "consent": "yes", "format": "html", "topic": topics}
    assert client.post("/subscribe", data=data).status_code == 200
    send_queued(app)
    folder = app.project.root / "outbox" / "system" / "confirm"
    newest = max(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    link = re.search(r"/confirm/[a-z0-9.]+", newest.read_text()).group(0)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(link).get_data(as_text=True))
    done = client.post(link, data={"csrf": csrf.group(1)})
    assert "<h1>You are signed up</h1>" in done.get_data(as_text=True)


def tags_of(app, address: str) -> list[str]:
    with store(app).connect() as c:
        return core.get(c, address).tags


def test_a_confirmed_sign_up_is_in_the_newsletter_with_its_topics(site) -> None:
    sign_up_and_confirm(site, "kim@example.org", ["walking"])
    sign_up_and_confirm(site, "lee@example.org", [])
    assert (tags_of(site, "kim@example.org"), tags_of(site, "lee@example.org")) == (
        ["newsletter", "walking"],
        ["newsletter"],
    )
    shown = site.project.run("audiences", "show", "newsletter", "--format", "csv").output
    assert [line.split(",")[0] for line in shown.splitlines()[1:]] == [
        "kim@example.org",
        "lee@example.org",
    ]


def test_a_pending_sign_up_has_no_tags_and_a_subscriber_signing_up_again_changes_nothing(
    site,
) -> None:
    client = site.test_client()
    data = {"email": "kim@example.org", "consent": "yes", "topic": ["boccia"]}
    client.post("/subscribe", data=data)
    send_queued(site)
    assert tags_of(site, "kim@example.org") == []
    with store(site).begin() as c:
        life.add(c, "sub@example.org", core.ConsentGiven(), tag_names={"walking"})
    client.post("/subscribe", data={"email": "sub@example.org", "consent": "yes", "topic": []})
    send_queued(site)
    assert tags_of(site, "sub@example.org") == ["walking"]


def test_tag_signups_gives_earlier_sign_ups_the_tags_once(site) -> None:
    project = site.project
    with store(site).begin() as c:  # as the form left people before sign-ups got tags
        life.add(c, "early@example.org", FORM)
        life.add(c, "chose@example.org", FORM)
        life.add(c, "left@example.org", FORM)
        life.unsubscribe(c, "left@example.org", method="web-page", source="x", by="the person")
        life.add(c, "imported@example.org", core.ConsentGiven(method="import"))
    chose = site.test_client()  # this one has since chosen their own topics
    with store(site).connect() as c:
        chose_id = core.get(c, "chose@example.org").id
    token = Signer(KEY).sign("p", chose_id)
    page = chose.get(f"/preferences/{token}").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    chose.post(f"/preferences/{token}", data={"csrf": csrf, "format": "html", "topic": ["boccia"]})
    sign_up_and_confirm(site, "new@example.org", [])

    dry = project.run("contacts", "tag-signups", "--dry-run")
    assert (dry.exit_code, dry.output) == (
        0,
        "Would give the sign-up tags (newsletter) to 1 person:\n"
        "  early@example.org\n"
        "Dry run: nothing was saved.\n",
    )
    assert tags_of(site, "early@example.org") == []
    done = project.run("contacts", "tag-signups")
    assert (done.exit_code, done.output) == (
        0,
        "Gave the sign-up tags (newsletter) to 1 person:\n  early@example.org\n",
    )
    assert tags_of(site, "early@example.org") == ["newsletter"]
    assert tags_of(site, "chose@example.org") == ["boccia"]
    assert tags_of(site, "imported@example.org") == []
    again = project.run("contacts", "tag-signups")
    assert (
        again.output
        == "Everyone who signed up on the web form has the sign-up tags (newsletter).\n"
    )
    shown = project.run("contacts", "show", "early@example.org").output.splitlines()
    assert shown[-1].endswith(
        "tags given for signing up: newsletter; by test-runner, from engage contacts tag-signups"
    )


def test_tag_signups_with_no_sign_up_tags(site) -> None:
    site.project.replace("engage.toml", "[web]\n", "[web]\nsignup_tags = []\n")
    result = site.project.run("contacts", "tag-signups")
    assert (result.exit_code, result.output) == (
        0,
        "Sign-ups get no tags in this workspace, so there is nothing to give. See [web] "
        "signup_tags in docs/configuration.md.\n",
    )


def test_the_default_sign_up_tags_follow_the_newsletter_audience(project) -> None:
    assert audiences.signup_tags(project.workspace) == ["newsletter"]
    project.write(
        "audiences/newsletter.toml", 'tags_any = ["News", "members"]\ntags_all = ["uk"]\n'
    )
    assert audiences.signup_tags(project.workspace) == ["uk", "news"]
    project.write("audiences/newsletter.toml", 'status = ["subscribed"]\n')
    assert audiences.signup_tags(project.workspace) == []
    (project.root / "audiences" / "newsletter.toml").unlink()
    assert audiences.signup_tags(project.workspace) == []
    project.replace("engage.toml", "[web]\n", '[web]\nsignup_tags = [" Web ", "news"]\n')
    assert audiences.signup_tags(project.workspace) == ["web", "news"]


def test_erasing_a_person_removes_their_changes(site) -> None:
    sign_up_and_confirm(site, "kim@example.org", ["walking"])
    assert site.project.run("contacts", "erase", "kim@example.org", "--yes").exit_code == 0
    ws_store = open_store(site.project.workspace)
    with ws_store.connect() as c:
        assert c.execute(contact_changes.select()).all() == []
    ws_store.engine.dispose()
