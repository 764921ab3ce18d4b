"""The web app through Flask's test client: every page, every refusal."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
import sqlalchemy as sa

from engage import outgoing
from engage.contacts import core, life, records
from engage.store.schema import consents, suppressions
from engage.tokens import Signer
from engage.web import create_app
from engage.workflow.own_emails import send_own_emails

KEY = "web-test-key"
WORDING = "Yes, please send me news by email. I know I can stop at any time, with one click."


@pytest.fixture
def app(project, monkeypatch):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    app = create_app(project.workspace, TESTING=True)
    app.project = project
    yield app
    app.extensions["engage"]["store"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def confirmations(project) -> list[email.message.EmailMessage]:
    folder = project.root / "outbox" / "system" / "confirm"
    return (
        [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(folder.glob("*.eml"))
        ]
        if folder.exists()
        else []
    )


def confirm_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://127\.0\.0\.1:8025(/confirm/\S+)", text).group(1)


def confirm_by_button(client, link: str):
    """Open the confirmation link, as a person does, and press the button on the page."""
    page = client.get(link)
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert f'<form method="post" action="{link}">' in html
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    return client.post(link, data={"csrf": csrf})


def contact(app, address):
    with app.extensions["engage"]["store"].connect() as c:
        return core.find(c, address)


def send_queued(app) -> outgoing.Drained:
    """What the worker in `engage serve` (or `engage run`) does: send the queued emails."""
    engage = app.extensions["engage"]
    return send_own_emails(engage["store"], engage["workspace"], engage["signer"])


def sign_up(client, address="sam@example.org", **extra):
    """Sign up on the form; then the queued confirmation goes, as engage serve sends it."""
    data = {
        "email": address,
        "name": "Sam Jones",
        "format": "large-print",
        "consent": "yes",
        **extra,
    }
    page = client.post("/subscribe", data=data)
    send_queued(client.application)
    return page


def test_sign_up_and_confirm(app, client) -> None:
    page = client.get("/subscribe")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="email">Your email address</label>' in html
    assert WORDING in html
    assert page.headers.get("Set-Cookie") is None
    done = sign_up(client)
    assert done.status_code == 200
    assert "<h1>Check your email</h1>" in done.get_data(as_text=True)
    pending = contact(app, "sam@example.org")
    assert (pending.status, pending.format, pending.name) == ("pending", "large-print", "Sam Jones")
    [message] = confirmations(app.project)
    assert message["To"] == "sam@example.org"
    assert message["Subject"] == "Please confirm your email address"
    opened = client.get(confirm_link(message))  # opening the link only asks
    assert "<h1>Confirm that you want our newsletter</h1>" in opened.get_data(as_text=True)
    assert '<button type="submit">Yes, send me the newsletter</button>' in opened.get_data(
        as_text=True
    )
    assert contact(app, "sam@example.org").status == "pending"
    confirmed = confirm_by_button(client, confirm_link(message))
    assert confirmed.status_code == 200
    assert "<h1>You are signed up</h1>" in confirmed.get_data(as_text=True)
    assert contact(app, "sam@example.org").status == "subscribed"
    with app.extensions["engage"]["store"].connect() as c:
        record = c.execute(sa.select(consents)).one()
    assert (record.action, record.method, record.source, record.wording) == (
        "given",
        "form",
        "web-form",
        WORDING,
    )


def test_an_address_already_subscribed_learns_nothing(app, client) -> None:
    sign_up(client)
    confirm_by_button(client, confirm_link(confirmations(app.project)[0]))
    again = sign_up(client)
    new = sign_up(client, "new@example.org")
    assert again.get_data() == new.get_data()
    assert len(confirmations(app.project)) == 2  # the first sign-up and new@, not a second for sam


def test_a_suppressed_address_needs_a_fresh_confirmation(app, client) -> None:
    store = app.extensions["engage"]["store"]
    with store.begin() as c:
        life.add(c, "sam@example.org", core.ConsentGiven())
        life.unsubscribe(c, "sam@example.org", method="manual", source="test", by="test-runner")
    sign_up(client)
    assert contact(app, "sam@example.org").status == "unsubscribed"
    confirm_by_button(client, confirm_link(confirmations(app.project)[0]))
    assert contact(app, "sam@example.org").status == "subscribed"
    with store.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(suppressions)).scalar() == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not an address"}, "Enter your email address, like name@example.org"),
        (
            {"email": "é" * 33 + "@example.org"},  # 66 bytes before the @: over RFC 5321's 64
            "The part before the @ is too long. Email can only use 64 letters or numbers there. "
            "Check your email address",
        ),
        ({"consent": ""}, "Tick the box to say you want our emails"),
    ],
)
def test_form_mistakes_are_explained(app, client, data, message) -> None:
    page = (
        sign_up(client, **data)
        if "email" not in data
        else client.post("/subscribe", data={"email": data["email"], "consent": "yes"})
    )
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert '<li><a href="#' in html and message in html
    assert "<title>Error: get our newsletter" in html
    assert confirmations(app.project) == []


def test_the_honeypot_stores_nothing(app, client) -> None:
    page = sign_up(client, website="http://spam.example")
    assert "<h1>Check your email</h1>" in page.get_data(as_text=True)
    assert contact(app, "sam@example.org") is None
    assert confirmations(app.project) == []


def test_rate_limits(app, client) -> None:
    for _ in range(5):
        assert sign_up(client).status_code == 200
    assert len(confirmations(app.project)) == 3  # three a day for one address, silently
    for i in range(15):
        sign_up(client, f"p{i}@example.org")
    assert sign_up(client, "late@example.org").status_code == 429


def test_bad_and_expired_confirmation_links(app, client, clock) -> None:
    assert client.get("/confirm/nonsense").status_code == 400
    sign_up(client)
    link = confirm_link(confirmations(app.project)[0])
    page = client.get(link[:-3] + "aaa")
    assert page.status_code == 400
    assert "<h1>This link does not work</h1>" in page.get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(link).get_data(as_text=True))
    clock.advance(days=7, minutes=1)
    for expired in (client.get(link), client.post(link, data={"csrf": csrf.group(1)})):
        assert expired.status_code == 400
        assert (
            "<h1>This link has expired</h1>\n\n"
            "<p>The link to confirm your email address works for 7 days, and this one is "
            "older.</p>\n\n"
            "<p>Please sign up again, and we will send you a new link.</p>\n\n"
            '<p><a href="/subscribe">Sign up again</a></p>'
        ) in expired.get_data(as_text=True)
    assert contact(app, "sam@example.org").status == "pending"


def test_a_form_left_open_too_long_says_so(app, client, clock) -> None:
    token = Signer(KEY).sign("p", _subscribed(app))
    page = client.get(f"/preferences/{token}").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    clock.advance(days=1, minutes=1)
    late = client.post(f"/preferences/{token}", data={"csrf": csrf, "format": "plain"})
    assert late.status_code == 400
    assert (
        "<h1>This page was open too long</h1>\n\n<p>For your safety, a page like this works "
        "for one day, and this one was opened earlier than that. Nothing was changed.</p>"
    ) in late.get_data(as_text=True)
    assert contact(app, "ann@example.org").format == "html"


def _subscribed(app, address="ann@example.org") -> int:
    with app.extensions["engage"]["store"].begin() as c:
        return life.add(c, address, core.ConsentGiven(), tag_names={"walking"}).id


def test_one_click_unsubscribe(app, client) -> None:
    contact_id = _subscribed(app)
    token = Signer(KEY).sign("u", contact_id, 3)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.get_data(
        as_text=True
    )
    done = client.post(
        f"/unsubscribe/{token}",
        data=b"List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert done.status_code == 200
    assert done.headers.get("Set-Cookie") is None
    assert contact(app, "ann@example.org").status == "unsubscribed"
    with app.extensions["engage"]["store"].connect() as c:
        history = core.consent_history(c, contact_id)
    assert [(h["action"], h["method"], h["source"], h["actor"]) for h in history][-1] == (
        "withdrawn",
        "one-click",
        "the unsubscribe link in an email (send 3)",  # no send 3 here: the words still say
        "the person",
    )
    assert client.post(f"/unsubscribe/{token}x").status_code == 400


TOPICS = '[topics]\nwalking = "Walking groups near you"\nBoccia = "Boccia sessions and matches"\n'


def set_topics(project, topics: str) -> None:
    """Put `topics` in place of the example workspace's [topics] table ("" for none)."""
    text = project.read("engage.toml")
    project.write("engage.toml", text[: text.index("[topics]")] + topics)


@pytest.fixture
def topics_app(project, monkeypatch):
    set_topics(project, TOPICS)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    app = create_app(project.workspace, TESTING=True)
    app.project = project
    yield app
    app.extensions["engage"]["store"].engine.dispose()


def test_preferences_show_the_workspace_topics_and_need_the_form_token(topics_app) -> None:
    app, client = topics_app, topics_app.test_client()
    contact_id = _subscribed(app)  # tagged walking
    with app.extensions["engage"]["store"].begin() as c:
        life.add_tags(c, contact_id, {"newsletter"}, ["walking"])
    token = Signer(KEY).sign("p", contact_id)
    page = client.get(f"/preferences/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert (
        '<fieldset aria-describedby="topics-hint">\n'
        "    <legend>What would you like to hear about?</legend>\n"
        '    <span class="hint" id="topics-hint">Tick each topic you want emails about. Untick '
        "the ones you do not.</span>\n"
        "    \n"
        '    <div class="choice">\n'
        '      <input type="checkbox" id="topic-1" name="topic" value="walking" checked>\n'
        '      <label for="topic-1">Walking groups near you</label>\n'
        "    </div>\n"
        "    \n"
        '    <div class="choice">\n'
        '      <input type="checkbox" id="topic-2" name="topic" value="boccia">\n'
        '      <label for="topic-2">Boccia sessions and matches</label>\n'
        "    </div>\n"
    ) in html
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    refused = client.post(f"/preferences/{token}", data={"format": "plain", "topic": ["boccia"]})
    assert refused.status_code == 400
    saved = client.post(
        f"/preferences/{token}",
        data={"format": "plain", "topic": ["boccia", "newsletter", "staff"], "csrf": csrf},
    )
    assert saved.status_code == 200
    after = contact(app, "ann@example.org")
    # walking taken off, boccia added; tags that are not topics stay as they were
    assert (after.format, after.tags) == ("plain", ["boccia", "newsletter"])
    with app.extensions["engage"]["store"].connect() as c:
        changes = records.export(c, "ann@example.org")["changes"]
    assert [(x["kind"], x["detail"], x["actor"], x["source"]) for x in changes] == [
        (
            "preferences",
            "format plain (was html); boccia added; walking taken off",
            "the person",
            "the preferences page",
        )
    ]
    again = client.post(
        f"/preferences/{token}", data={"format": "plain", "topic": ["boccia"], "csrf": csrf}
    )
    assert again.status_code == 200
    with app.extensions["engage"]["store"].connect() as c:
        assert len(records.export(c, "ann@example.org")["changes"]) == 1  # nothing changed
    assert client.get("/preferences/bad.token").status_code == 400


def test_no_topics_no_topic_boxes(project, monkeypatch) -> None:
    set_topics(project, "")
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    app = create_app(project.workspace, TESTING=True)
    client = app.test_client()
    token = Signer(KEY).sign("p", _subscribed(app))
    html = client.get(f"/preferences/{token}").get_data(as_text=True)
    assert 'name="topic"' not in html
    assert 'name="topic"' not in client.get("/subscribe").get_data(as_text=True)
    app.extensions["engage"]["store"].engine.dispose()


def test_sign_ups_get_the_newsletter_tag_and_their_topics_when_they_confirm(topics_app) -> None:
    app, client = topics_app, topics_app.test_client()
    form = client.get("/subscribe").get_data(as_text=True)
    assert "<legend>What else would you like to hear about?</legend>" in form
    assert '<label for="topic-2">Boccia sessions and matches</label>' in form
    sign_up(client, topic=["boccia", "staff"])  # staff is not a topic: ignored
    assert contact(app, "sam@example.org").tags == []  # nothing before they confirm
    confirm_by_button(client, confirm_link(confirmations(app.project)[0]))
    assert contact(app, "sam@example.org").tags == ["boccia", "newsletter"]
    result = app.project.run("audiences", "show", "newsletter")
    assert "sam@example.org" in result.output
    shown = app.project.run("contacts", "show", "sam@example.org").output.splitlines()
    assert shown[3] == "Language:   the organisation's"
    assert shown[4] == "Tags:       boccia, newsletter"
    timeline = shown[shown.index("Timeline:") + 1 :]
    assert [line.split("  ", 2)[2] for line in timeline] == [
        "consent given: email (form), by the person",
        "tags given for signing up: newsletter, boccia; by the person, from the sign-up form",
    ]


def test_a_form_with_a_mistake_keeps_the_topics_ticked(client) -> None:
    page = client.post(
        "/subscribe", data={"email": "not an address", "consent": "yes", "topic": ["boccia"]}
    )
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert '<input type="checkbox" id="topic-2" name="topic" value="boccia" checked>' in html
    assert '<input type="checkbox" id="topic-1" name="topic" value="walking">' in html


def test_sign_up_tags_follow_the_setting(project, monkeypatch) -> None:
    project.replace("engage.toml", "[web]\n", '[web]\nsignup_tags = ["News", "web"]\n')
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    app = create_app(project.workspace, TESTING=True)
    app.project = project
    client = app.test_client()
    try:
        sign_up(client, topic=["staff"])  # not a topic: ignored
        confirm_by_button(client, confirm_link(confirmations(project)[0]))
        assert contact(app, "sam@example.org").tags == ["news", "web"]
    finally:
        app.extensions["engage"]["store"].engine.dispose()


def test_archive_shows_only_what_was_sent(app, client, monkeypatch, clock) -> None:
    assert "We have not sent any newsletters yet." in client.get("/archive/").get_data(as_text=True)
    assert client.get("/archive/doing-with-not-doing-to").status_code == 404
    project = app.project
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    clock.advance(days=2, hours=1)  # 3 December, after its send_at: the date the archive shows
    assert project.run("send", "doing-with-not-doing-to", "--yes").exit_code == 0
    listing = client.get("/archive/").get_data(as_text=True)
    assert (
        '<a href="/archive/doing-with-not-doing-to">Doing with, not doing to: our winter news</a> (3 December 2026)'
        in listing
    )
    page = client.get("/archive/doing-with-not-doing-to")
    assert page.status_code == 200
    assert "<title>Doing with, not doing to: our winter news</title>" in page.get_data(as_text=True)
    assert client.get("/archive/share-your-story").status_code == 404
    assert client.get("/archive/share-your-story/text").status_code == 404
    assert client.get("/archive/..%2Fengage").status_code == 404
    assert client.get("/archive/..%2Fengage/large-print").status_code == 404


def test_big_bodies_are_refused(client) -> None:
    page = client.post("/subscribe", data={"email": "x" * 70_000})
    assert page.status_code == 413
    assert "<h1>That was too big</h1>" in page.get_data(as_text=True)


def test_unknown_pages(client) -> None:
    page = client.get("/nothing-here")
    assert page.status_code == 404
    assert "<h1>Page not found</h1>" in page.get_data(as_text=True)
    assert client.post("/webhooks/mailchimp").status_code == 404


def test_serve_on_a_port_in_use(project, monkeypatch) -> None:
    import socket

    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = project.run("serve", "--port", str(port))
    assert result.exit_code == 1
    assert (
        result.output
        == f"Error: Cannot listen on 127.0.0.1:{port}: Address already in use. Choose another --port.\n"
    )
