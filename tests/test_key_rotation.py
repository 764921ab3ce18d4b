"""Changing the secret key: links and reply addresses in emails sent before the change keep
working once the old key is named in [web] old_secret_keys_env; new ones use the new key; and a
key that is gone is said plainly, to the person and to the team. On SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import logging
import re
import socket

import pytest

from engage.contacts import core
from engage.errors import ConfigError
from engage.models import InboundMessage
from engage.replies import inbox
from engage.store import open_store
from engage.stories import core as stories_core
from engage.stories import telling
from engage.tokens import BadSignature, Signer, signer
from engage.web import create_app

from .test_sending import PEOPLE, SLUG
from .test_web import send_queued

OLD, NEW = "the-key-we-had", "the-key-we-have-now"
BASE = "http://127.0.0.1:8025"
ROTATED = '[web]\nold_secret_keys_env = ["ENGAGE_OLD_SECRET_KEY"]\n'


@pytest.fixture
def sent(project, monkeypatch, db_url, clock):
    """The newsletter sent with the old key; ann has a story with a link made then too."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", OLD)
    assert (
        project.run("contacts", "import", str(project.write("people.csv", PEOPLE))).exit_code == 0
    )
    assert project.run("send", SLUG, "--yes", "--now").exit_code == 0
    assert project.run("stories", "open", "ann@example.org", "--quiet").exit_code == 0
    return project


def rotate(project, monkeypatch, keep_old: bool = True) -> None:
    """What the team does: a new key in ENGAGE_SECRET_KEY, the old one kept and named."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", NEW)
    if keep_old:
        monkeypatch.setenv("ENGAGE_OLD_SECRET_KEY", OLD)
        project.replace("engage.toml", "[web]\n", ROTATED)


@pytest.fixture
def app_after(sent, monkeypatch):
    def make(keep_old: bool = True):
        rotate(sent, monkeypatch, keep_old)
        app = create_app(sent.workspace, TESTING=True)
        made.append(app)
        return app

    made = []
    yield make
    for app in made:
        app.extensions["engage"]["store"].engine.dispose()


def anns_email(project) -> email.message.EmailMessage:
    for path in sorted((project.root / "outbox" / SLUG).glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if email.utils.parseaddr(message["To"])[1] == "ann@example.org":
            return message
    raise AssertionError("no email to ann")


def links_in(message) -> dict[str, str]:
    text = message.get_body(("plain",)).get_content()
    header = message["List-Unsubscribe"]
    return {
        "unsubscribe": re.search(rf"<{re.escape(BASE)}(/unsubscribe/[^>]+)>", header).group(1),
        "preferences": re.search(rf"{re.escape(BASE)}(/preferences/[a-z0-9.]+)", text).group(1),
        "reply_to": message["Reply-To"],
    }


def story_link(project) -> str:
    store = open_store(project.workspace)
    with store.connect() as c:
        story = stories_core.get(c, 1)
    store.engine.dispose()
    return telling.link_for(project.workspace, Signer(OLD), story).removeprefix(BASE)


def test_links_sent_before_the_key_changed_still_work(sent, app_after) -> None:
    links, story = links_in(anns_email(sent)), story_link(sent)
    client = app_after().test_client()
    page = client.get(links["preferences"])
    assert page.status_code == 200
    assert "<p>These are the choices for ann@example.org.</p>" in page.get_data(as_text=True)
    assert client.get(story).status_code == 200
    done = client.post(
        links["unsubscribe"],
        data=b"List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert done.status_code == 200
    assert "<h1>You are unsubscribed</h1>" in done.get_data(as_text=True)
    shown = sent.run("contacts", "show", "ann@example.org").output.splitlines()
    assert shown[1] == "Status:     unsubscribed"
    history = shown[shown.index("Consent history:") + 1 : shown.index("Consent history:") + 3]
    assert history[1].endswith(
        f"withdrawn (consent), one-click, source the unsubscribe link in the {SLUG} email "
        "(send 1), by the person"
    )
    timeline = shown[shown.index("Timeline:") + 1 :]
    assert timeline[-1].endswith("consent withdrawn: email (one-click), by the person")
    report = json.loads(sent.run("report", SLUG, "--format", "json").output)
    assert report["unsubscribed"] == 1


def test_new_links_use_the_new_key(sent, app_after) -> None:
    links = links_in(anns_email(sent))
    page = app_after().test_client().get(links["unsubscribe"]).get_data(as_text=True)
    token = re.search(r"/preferences/([a-z0-9.]+)", page).group(1)
    assert Signer(NEW).verify("p", token)
    with pytest.raises(BadSignature):
        Signer(OLD).verify("p", token)


def test_a_reply_to_a_campaign_sent_before_the_key_changed_still_matches(sent, monkeypatch) -> None:
    reply_to = links_in(anns_email(sent))["reply_to"]
    rotate(sent, monkeypatch)
    taken = take_reply(sent, reply_to)
    assert (taken.matched_by, taken.notes) == ("reply-token", [])
    assert "doing-with-not-doing-to" in sent.run("replies", "show", str(taken.id)).output


def test_a_reply_whose_key_is_gone_says_so(sent, monkeypatch) -> None:
    reply_to = links_in(anns_email(sent))["reply_to"]
    rotate(sent, monkeypatch, keep_old=False)
    taken = take_reply(sent, reply_to)
    assert taken.matched_by == "new-contact"  # the sender wrote from another address
    assert taken.notes == [
        f"The reply address ({reply_to.split('@')[0]}@...) has a code none of our secret keys "
        "can check, so this reply was matched by its thread or sender instead. If the secret "
        "key was changed, links and reply addresses made with the old key stop working: put "
        "the old key in an environment variable and name it in [web] old_secret_keys_env (see "
        "docs/configuration.md)."
    ]


def take_reply(project, reply_to: str):
    message = InboundMessage(
        provider="mailgun",
        sender="ann.at.home@example.net",
        sender_name="Ann",
        recipient=reply_to,
        subject="Re: our winter news",
        text="Thank you, I loved it.",
        html="",
        message_id="<reply-1@example.net>",
        in_reply_to="",
        references="",
        headers=[],
    )
    store = open_store(project.workspace)
    try:
        with store.begin() as c:
            return inbox.for_workspace(project.workspace).take(c, message)
    finally:
        store.engine.dispose()


def test_a_link_whose_key_is_gone_gets_a_plain_page_and_the_team_a_hint(
    sent, app_after, caplog
) -> None:
    links = links_in(anns_email(sent))
    client = app_after(keep_old=False).test_client()
    with caplog.at_level(logging.WARNING, logger="engage.web"):
        page = client.get(links["preferences"])
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "<h1>This link does not work</h1>" in html
    assert (
        "<p>The link may have been cut short, or changed when it was copied. Please try the "
        "link in your most recent email from us. If it still does not work, reply to that email "
        "and we will help.</p>"
    ) in html
    assert "old_secret_keys_env" not in html  # that is for the team, not the reader
    assert [r.getMessage() for r in caplog.records] == [
        "Refused a link to /preferences/<token>: its signature matches none of our keys. If "
        "the secret key was changed, links and reply addresses made with the old key stop "
        "working: put the old key in an environment variable and name it in [web] "
        "old_secret_keys_env (see docs/configuration.md)."
    ]
    with open_store(sent.workspace).connect() as c:
        assert core.get(c, "ann@example.org").status == "subscribed"


def test_a_confirmation_link_and_its_page_from_before_the_change_still_confirm(
    project, monkeypatch, db_url
) -> None:
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", OLD)
    before = create_app(project.workspace, TESTING=True)
    client = before.test_client()
    client.post("/subscribe", data={"email": "sam@example.org", "consent": "yes", "format": "html"})
    send_queued(before)
    [path] = (project.root / "outbox" / "system" / "confirm").glob("*.eml")
    link = re.search(r"/confirm/[a-z0-9.]+", path.read_text()).group(0)
    page = client.get(link).get_data(as_text=True)  # opened before the change
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    before.extensions["engage"]["store"].engine.dispose()
    rotate(project, monkeypatch)
    after = create_app(project.workspace, TESTING=True)
    try:
        done = after.test_client().post(link, data={"csrf": csrf})  # pressed after it
        assert "<h1>You are signed up</h1>" in done.get_data(as_text=True)
    finally:
        after.extensions["engage"]["store"].engine.dispose()


def test_an_old_key_named_but_not_set_is_a_clear_error(project, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", NEW)
    monkeypatch.delenv("ENGAGE_OLD_SECRET_KEY", raising=False)
    project.replace("engage.toml", "[web]\n", ROTATED)
    with pytest.raises(ConfigError) as caught:
        signer(project.workspace)
    assert str(caught.value) == (
        "Set the environment variable ENGAGE_OLD_SECRET_KEY (named by web.old_secret_keys_env "
        "in engage.toml)."
    )
    with socket.socket() as taken:  # were the key not missing, serve would stop here instead
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = project.run("serve", "--port", str(taken.getsockname()[1]))
    assert (result.exit_code, result.stderr) == (1, f"Error: {caught.value}\n")


def test_a_signer_checks_every_key_and_signs_with_the_first() -> None:
    rotated = Signer(NEW, OLD, NEW)
    assert rotated.verify("u", Signer(OLD).sign("u", 7, 1)) == (7, 1)
    assert rotated.verify("u", Signer(NEW).sign("u", 7, 1)) == (7, 1)
    assert rotated.sign("u", 7, 1) == Signer(NEW).sign("u", 7, 1)
    with pytest.raises(BadSignature):
        rotated.verify("u", Signer("another").sign("u", 7, 1))
    with pytest.raises(BadSignature):
        rotated.verify("p", Signer(OLD).sign("u", 7, 1))  # a token is for one kind of link
