"""The links engage sends never undo an unsubscribe: opening a link (as a person or a mail
system's link scanner does) changes nothing, an old confirmation link never signs anyone up
again, and only a fresh sign-up, confirmed from the new link, lifts a suppression. On SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re

import pytest
import sqlalchemy as sa

from engage.contacts import core, life
from engage.models import Event, InboundMessage, Request
from engage.providers.postmark import events as postmark
from engage.providers.sendgrid import events as sendgrid
from engage.replies import inbox
from engage.store.schema import (
    consents,
    contact_tags,
    contacts,
    stories,
    story_history,
    suppressions,
)
from engage.stories import core as stories_core
from engage.stories import telling
from engage.tokens import Signer
from engage.web import create_app
from engage.webhooks.store import record_events

from .test_web import send_queued

KEY = "links-test-key"
BASE = "http://127.0.0.1:8025"
WORDING = "Yes, please send me news by email. I know I can stop at any time, with one click."

UNSUBSCRIBED_PAGE = (
    "<h1>You are unsubscribed</h1>\n\n"
    "<p>You do not get our emails now. This link is older than that, so it cannot sign you up "
    "again.</p>\n\n"
    "<p>Would you like our newsletter again? Sign up again, and we will send you a new link to "
    "click.</p>\n\n"
    '<p><a href="/subscribe">Sign up for our newsletter again</a></p>'
)
ALREADY_PAGE = (
    "<h1>You are already signed up</h1>\n\n"
    "<p>You do not need to do anything else. You will get our next newsletter.</p>\n\n"
    "<p>Every email has a link at the bottom to change your choices or to stop.</p>"
)


@pytest.fixture
def app(project, monkeypatch, clock, db_url):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    app = create_app(project.workspace, TESTING=True)
    app.project = project
    yield app
    app.extensions["engage"]["store"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def store(app):
    return app.extensions["engage"]["store"]


def sign_up(client, address: str = "sam@example.org") -> str:
    """Sign up on the form; the confirmation link from the mail it sent (its path)."""
    before = len(links_sent(client.application))
    page = client.post(
        "/subscribe",
        data={"email": address, "name": "Sam Jones", "format": "html", "consent": "yes"},
    )
    assert "<h1>Check your email</h1>" in page.get_data(as_text=True)
    send_queued(client.application)
    sent = links_sent(client.application)
    assert len(sent) == before + 1, "a confirmation mail was sent"
    return sent[-1]


def links_sent(app) -> list[str]:
    folder = app.project.root / "outbox" / "system" / "confirm"
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = message.get_body(("plain",)).get_content()
        found.append(re.search(rf"{re.escape(BASE)}(/confirm/\S+)", text).group(1))
    return found


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def press_confirm(client, link: str) -> str:
    """Open the link and press the button; the page that comes back."""
    page = client.get(link).get_data(as_text=True)
    assert "<h1>Confirm that you want our newsletter</h1>" in page
    done = client.post(link, data={"csrf": csrf_of(page)})
    assert done.status_code == 200
    return done.get_data(as_text=True)


def main_of(html: str) -> str:
    return re.search(r'<main id="content">\s*(.*?)\s*</main>', html, re.S).group(1)


def person(app, address: str = "sam@example.org") -> tuple[str, str | None, list[tuple]]:
    """Their status, the reason they are suppressed (or None), and their consent records."""
    with store(app).connect() as c:
        found = core.find(c, address)
        blocked = core.suppression(c, address)
        history = core.consent_history(c, found.id) if found else []
    return (
        found.status if found else "gone",
        blocked.reason if blocked else None,
        [(h["action"], h["method"]) for h in history],
    )


def unsubscribe_by_one_click(client, app, address: str = "sam@example.org") -> None:
    with store(app).connect() as c:
        contact_id = core.get(c, address).id
    done = client.post(
        f"/unsubscribe/{Signer(KEY).sign('u', contact_id, 0)}",
        data=b"List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert done.status_code == 200
    assert "<h1>You are unsubscribed</h1>" in done.get_data(as_text=True)


def test_an_old_confirmation_link_never_undoes_an_unsubscribe(app, client) -> None:
    link = sign_up(client)
    page = client.get(link).get_data(as_text=True)
    assert person(app) == ("pending", None, [])  # opening it only asks
    assert press_confirm(client, link).count("<h1>You are signed up</h1>") == 1
    assert person(app) == ("subscribed", None, [("given", "form")])

    # Twice while subscribed: it just says so.
    assert main_of(client.get(link).get_data(as_text=True)) == ALREADY_PAGE
    again = client.post(link, data={"csrf": csrf_of(page)})
    assert main_of(again.get_data(as_text=True)) == ALREADY_PAGE
    assert person(app) == ("subscribed", None, [("given", "form")])

    unsubscribe_by_one_click(client, app)
    after = ("unsubscribed", "unsubscribed", [("given", "form"), ("withdrawn", "one-click")])
    assert person(app) == after

    # The old link, opened again (a link scanner, or the person), and its button pressed.
    opened = client.get(link)
    assert opened.status_code == 200
    assert main_of(opened.get_data(as_text=True)) == UNSUBSCRIBED_PAGE
    assert "<form" not in opened.get_data(as_text=True)
    pressed = client.post(link, data={"csrf": csrf_of(page)})
    assert pressed.status_code == 200
    assert main_of(pressed.get_data(as_text=True)) == UNSUBSCRIBED_PAGE
    assert person(app) == after


def test_only_the_link_from_a_fresh_sign_up_subscribes_again(app, client, clock) -> None:
    old = sign_up(client)
    press_confirm(client, old)
    clock.advance(hours=1)
    unsubscribe_by_one_click(client, app)
    clock.advance(hours=1)

    fresh = sign_up(client)  # a new mail with a new link; nothing changes yet
    assert fresh != old
    assert person(app)[:2] == ("unsubscribed", "unsubscribed")
    assert main_of(client.get(old).get_data(as_text=True)) == UNSUBSCRIBED_PAGE
    assert person(app)[:2] == ("unsubscribed", "unsubscribed")

    assert "<h1>You are signed up</h1>" in press_confirm(client, fresh)
    assert person(app) == (
        "subscribed",
        None,
        [("given", "form"), ("withdrawn", "one-click"), ("given", "form")],
    )
    with store(app).connect() as c:
        wording = c.execute(sa.select(consents.c.wording).order_by(consents.c.id.desc())).first()
    assert wording == (WORDING,)

    # Stopping again makes the fresh link old in its turn.
    unsubscribe_by_one_click(client, app)
    for link in (old, fresh):
        assert main_of(client.get(link).get_data(as_text=True)) == UNSUBSCRIBED_PAGE
    assert person(app)[:2] == ("unsubscribed", "unsubscribed")


def test_a_link_from_before_a_bounce_or_a_complaint_changes_nothing(app, client) -> None:
    link = sign_up(client)
    page = client.get(link).get_data(as_text=True)
    payload = {
        "RecordType": "SpamComplaint",
        "ID": 991,
        "Email": "sam@example.org",
        "BouncedAt": "2026-12-01T09:00:00Z",
        "Type": "SpamComplaint",
    }
    with store(app).begin() as c:
        record_events(c, postmark.parse_events(Request({}, json.dumps(payload).encode())))
    assert person(app) == ("complained", "complained", [])
    pressed = client.post(link, data={"csrf": csrf_of(page)})
    assert main_of(pressed.get_data(as_text=True)) == UNSUBSCRIBED_PAGE
    assert person(app) == ("complained", "complained", [])


def test_an_erased_address_can_come_back_only_as_a_new_confirmed_sign_up(app, client) -> None:
    old = sign_up(client)
    press_confirm(client, old)
    with store(app).begin() as c:
        life.erase(c, "sam@example.org")
    assert person(app) == ("gone", "erased", [])
    assert main_of(client.get(old).get_data(as_text=True)) == UNSUBSCRIBED_PAGE

    fresh = sign_up(client)  # a new contact, pending, still suppressed
    assert person(app) == ("pending", "erased", [])
    assert main_of(client.get(old).get_data(as_text=True)) == UNSUBSCRIBED_PAGE
    assert "<h1>You are signed up</h1>" in press_confirm(client, fresh)
    assert person(app) == ("subscribed", None, [("given", "form")])  # fresh consent, nothing more


def test_a_link_made_before_links_carried_a_state(app, client) -> None:
    """A link already in someone's mailbox when this version came: it confirms a plain
    sign-up, and never lifts a suppression."""
    sign_up(client)
    with store(app).connect() as c:
        sam = core.get(c, "sam@example.org")
    minute = int(core.now().timestamp() // 60)
    link = f"/confirm/{Signer(KEY).sign('c', sam.id, minute)}"
    assert "<h1>You are signed up</h1>" in press_confirm(client, link)
    unsubscribe_by_one_click(client, app)
    assert main_of(client.get(link).get_data(as_text=True)) == UNSUBSCRIBED_PAGE
    assert person(app)[:2] == ("unsubscribed", "unsubscribed")


def test_the_button_needs_the_pages_own_form_token(app, client, clock) -> None:
    link = sign_up(client)
    other = sign_up(client, "kim@example.org")
    kims_csrf = csrf_of(client.get(other).get_data(as_text=True))
    assert client.post(link).status_code == 400
    assert client.post(link, data={"csrf": kims_csrf}).status_code == 400
    csrf = csrf_of(client.get(link).get_data(as_text=True))
    clock.advance(hours=24, minutes=1)
    assert client.post(link, data={"csrf": csrf}).status_code == 400
    assert person(app) == ("pending", None, [])


def snapshot(app) -> dict[str, list[tuple]]:
    """Every table that holds consent, suppression, preferences or a story's state."""
    with store(app).connect() as c:
        return {
            table.name: [
                tuple(r) for r in c.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in (contacts, consents, suppressions, contact_tags, stories, story_history)
        }


def test_opening_any_link_changes_nothing(app, client) -> None:
    """Each kind of link engage sends, opened with GET and HEAD, with and without the form
    fields its page would post."""
    pending = sign_up(client)
    signer = Signer(KEY)
    with store(app).begin() as c:
        ann = life.add(c, "ann@example.org", core.ConsentGiven(), tag_names={"walking"})
        gone = life.add(c, "bo@example.org", core.ConsentGiven())
        life.unsubscribe(c, "bo@example.org", method="manual", source="test", by="test-runner")
    assert app.project.run("stories", "open", "ann@example.org", "--quiet").exit_code == 0
    with store(app).connect() as c:
        story = stories_core.get(c, 1)
    story_link = telling.link_for(app.project.workspace, signer, story).removeprefix(BASE)
    bos_old_link = f"/confirm/{signer.sign('c', gone.id, int(core.now().timestamp() // 60))}"
    links = [
        pending,
        bos_old_link,
        f"/unsubscribe/{signer.sign('u', ann.id, 0)}",
        f"/preferences/{signer.sign('p', ann.id)}",
        story_link,
        "/archive/",
        "/subscribe",
        "/unsubscribe",
    ]
    asking = (
        "?List-Unsubscribe=One-Click&action=approve&format=plain&topic=boccia&consent=yes"
        "&email=ann@example.org&sure=yes"
    )
    before = snapshot(app)
    for link in links:
        for query in ("", asking):
            for method in (client.get, client.head):
                answer = method(link + query)
                assert answer.status_code == 200, (link, answer.status_code)
                assert snapshot(app) == before, link + query


def test_provider_resubscriptions_do_not_lift_our_suppression(app, client) -> None:
    """Postmark's SubscriptionChange with SuppressSending false and SendGrid's
    group_resubscribe are stored as `subscribed` events, and change nothing."""
    with store(app).begin() as c:
        life.add(c, "ann@example.com", core.ConsentGiven())
        life.add(c, "bo@example.org", core.ConsentGiven())
        life.unsubscribe(c, "ann@example.com", method="manual", source="test", by="test-runner")
        life.unsubscribe(c, "bo@example.org", method="manual", source="test", by="test-runner")
    change = {
        "RecordType": "SubscriptionChange",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "ChangedAt": "2026-12-01T10:00:00Z",
        "Recipient": "ann@example.com",
        "Origin": "Customer",
        "SuppressSending": False,
        "SuppressionReason": None,
    }
    resubscribe = {
        "email": "bo@example.org",
        "timestamp": 1796119200,
        "event": "group_resubscribe",
        "sg_event_id": "resubscribe-1",
        "asm_group_id": 10,
    }
    found = postmark.parse_events(Request({}, json.dumps(change).encode()))
    found += sendgrid.parse_events(Request({}, json.dumps([resubscribe]).encode()))
    assert [(e.provider, e.event_type) for e in found] == [
        ("postmark", "subscribed"),
        ("sendgrid", "subscribed"),
    ]
    with store(app).begin() as c:
        assert record_events(c, found).new == 2
    for address in ("ann@example.com", "bo@example.org"):
        assert person(app, address) == (
            "unsubscribed",
            "unsubscribed",
            [("given", "manual"), ("withdrawn", "manual")],
        )


def test_every_way_a_person_stops_is_recorded_as_theirs(app, client) -> None:
    """The web page's button, the mail app's one-click button, the link on the preferences
    page, a mail to the unsubscribe address and their provider's unsubscribe: each withdrawal
    names the person and where they did it. Only `contacts unsubscribe` names the team."""
    people = ["page", "oneclick", "prefs", "mail", "provider", "team"]
    with store(app).begin() as c:
        ids = {p: life.add(c, f"{p}@example.org", core.ConsentGiven()).id for p in people}
    signer = Signer(KEY)
    client.post(f"/unsubscribe/{signer.sign('u', ids['page'], 7)}")
    client.post(
        f"/unsubscribe/{signer.sign('u', ids['oneclick'], 7)}",
        data=b"List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    client.post(f"/unsubscribe/{signer.sign('u', ids['prefs'], 0)}")
    mail = InboundMessage(
        provider="postmark",
        sender="mail@example.org",
        sender_name="",
        recipient=f"unsubscribe+{signer.sign('u', ids['mail'], 7)}@replies.example.org",
        subject="unsubscribe",
        text="",
        html="",
        message_id="<stop@example.org>",
        in_reply_to="",
        references="",
        headers=[],
    )
    stop = Event(
        provider="postmark",
        event_id="stop-1",
        event_type="unsubscribed",
        timestamp=dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC),
        recipient="provider@example.org",
    )
    with store(app).begin() as c:
        inbox.for_workspace(app.project.workspace, signer).take(c, mail)
        record_events(c, [stop])
    assert app.project.run("contacts", "unsubscribe", "team@example.org").exit_code == 0
    with store(app).connect() as c:
        last = {p: core.consent_history(c, ids[p])[-1] for p in people}
    assert {p: (r["action"], r["method"], r["source"], r["actor"]) for p, r in last.items()} == {
        "page": (
            "withdrawn",
            "web-page",
            "the unsubscribe link in an email (send 7)",
            "the person",
        ),
        "oneclick": (
            "withdrawn",
            "one-click",
            "the unsubscribe link in an email (send 7)",
            "the person",
        ),
        "prefs": (
            "withdrawn",
            "web-page",
            "the unsubscribe link on the preferences page",
            "the person",
        ),
        "mail": ("withdrawn", "email", "reply by postmark", "the person"),
        "provider": ("withdrawn", "provider", "postmark webhook", "the person"),
        "team": ("withdrawn", "manual", "engage contacts", "command line (test-runner)"),
    }
