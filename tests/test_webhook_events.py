"""Provider events through the real web routes, signed for real, on SQLite and PostgreSQL:
no good event is lost to a bad one, and an event changes only the person it is about.

The payloads under tests/payloads/ name our own people; ANN/BO and ANN-MESSAGE-ID /
BO-MESSAGE-ID stand for that person's delivery id and Message-ID, filled in after the send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engage.contacts import core, life, records
from engage.scheduler import RunSummary
from engage.store.schema import contacts, deliveries, events, unreadable_events
from engage.web import create_app

from .fakes import FakePostmark

PAYLOADS = Path(__file__).parent / "payloads"
KEY, MG_KEY, PM_PASSWORD = "events-test-key", "mg-events-signing-key", "pm-events-pass"
SLUG = "doing-with-not-doing-to"
PEOPLE = (
    "email,name,tags\n"
    "ann@example.org,Ann,newsletter\n"
    "bo@example.org,Bo,newsletter\n"
    "noreply@example.org,Club office,newsletter\n"
)
PM_AUTH = {
    "Authorization": "Basic " + base64.b64encode(f"postmark:{PM_PASSWORD}".encode()).decode()
}


@pytest.fixture
def sg_private():
    return ec.generate_private_key(ec.SECP256R1())


def _environment(monkeypatch, sg_private, db_url) -> None:
    der = sg_private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for name, value in {
        "ENGAGE_DATABASE_URL": db_url,
        "ENGAGE_SECRET_KEY": KEY,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MG_KEY,
        "POSTMARK_WEBHOOK_PASSWORD": PM_PASSWORD,
        "SENDGRID_WEBHOOK_PUBLIC_KEY": base64.b64encode(der).decode(),
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def app(project, monkeypatch, sg_private, db_url):
    _environment(monkeypatch, sg_private, db_url)
    assert (
        project.run("contacts", "import", str(project.write("people.csv", PEOPLE))).exit_code == 0
    )
    assert project.run("send", SLUG, "--yes", "--now").exit_code == 0
    app = create_app(project.workspace, TESTING=True)
    yield app
    app.extensions["engage"]["store"].engine.dispose()


def query(app, statement):
    with app.extensions["engage"]["store"].connect() as c:
        return c.execute(statement).all()


def delivery_of(app, address: str):
    [row] = query(
        app,
        sa.select(deliveries)
        .join(contacts, contacts.c.id == deliveries.c.contact_id)
        .where(contacts.c.email == address),
    )
    return row


def person(app, address: str):
    with app.extensions["engage"]["store"].connect() as c:
        contact = core.get(c, address)
        return contact.status, core.suppression(c, address), core.consent_history(c, contact.id)


def filled(app, name: str) -> str:
    """A recorded payload with our people's delivery ids and Message-IDs put in."""
    text = (PAYLOADS / name).read_text()
    for who, address in (("ANN", "ann@example.org"), ("BO", "bo@example.org")):
        row = delivery_of(app, address)
        text = text.replace(f"{who}-MESSAGE-ID", row.message_id.strip("<>"))
        text = text.replace(f'"{who}"', f'"{row.id}"')
    return text


def mailgun_signature(key: str = MG_KEY) -> dict[str, str]:
    token, stamp = secrets.token_hex(25), str(int(time.time()))
    digest = hmac.new(key.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"token": token, "timestamp": stamp, "signature": digest}


def post_sendgrid(client, private, body: bytes):
    stamp = str(int(time.time()))
    signature = private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return client.post(
        "/webhooks/sendgrid",
        data=body,
        content_type="application/json",
        headers={
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        },
    )


def stored_events(app):
    return query(
        app,
        sa.select(
            events.c.event_type,
            events.c.recipient,
            events.c.delivery_id,
            events.c.contact_id,
            events.c.note,
        ).order_by(events.c.id),
    )


# ------------------------------------------------------------ one bad event among good ones


def test_a_sendgrid_batch_keeps_its_good_events_and_the_one_it_cannot_read(
    app, project, sg_private
) -> None:
    ann, bo = delivery_of(app, "ann@example.org"), delivery_of(app, "bo@example.org")
    body = filled(app, "sendgrid/batch-one-unreadable.json").encode()
    client = app.test_client()
    answer = post_sendgrid(client, sg_private, body)
    assert (answer.status_code, answer.json) == (200, {"stored": 2, "repeated": 0, "unreadable": 1})
    assert stored_events(app) == [
        ("delivered", "ann@example.org", ann.id, ann.contact_id, ""),
        ("opened", "bo@example.org", bo.id, bo.contact_id, ""),
    ]
    [kept] = query(app, sa.select(unreadable_events))
    reason = "SendGrid event 2 (bounce): the timestamp '2026-12-03T09:15:00Z' is not a time"
    assert (kept.provider, kept.recipient, kept.reason) == ("sendgrid", "ann@example.org", reason)
    assert json.loads(kept.raw) == json.loads(body)[2]
    assert person(app, "ann@example.org")[:2] == ("subscribed", None)  # nothing changed
    again = post_sendgrid(client, sg_private, body)  # the provider sends the batch again
    assert (again.status_code, again.json) == (200, {"stored": 0, "repeated": 2, "unreadable": 1})
    assert len(stored_events(app)) == 2
    assert len(query(app, sa.select(unreadable_events))) == 1
    listed = project.run("webhooks", "problems")
    assert listed.exit_code == 0
    at = kept.received_at.strftime("%Y-%m-%d %H:%M UTC")
    assert listed.output == (
        f"{at}  sendgrid event for ann@example.org could not be read: {reason}\n"
        f"  {kept.raw[:300]} ...\n"
    )
    full = project.run("webhooks", "problems", "--full")
    assert full.output == (
        f"{at}  sendgrid event for ann@example.org could not be read: {reason}\n  {kept.raw}\n"
    )


def test_a_body_that_is_not_a_batch_is_kept_whole(app, sg_private) -> None:
    answer = post_sendgrid(app.test_client(), sg_private, b'{"event": "open"}')
    assert (answer.status_code, answer.json) == (200, {"stored": 0, "repeated": 0, "unreadable": 1})
    [kept] = query(app, sa.select(unreadable_events))
    assert (kept.reason, kept.raw, kept.recipient) == (
        "SendGrid event webhook: the body is not a JSON array of events",
        '{"event": "open"}',
        "",
    )


def test_a_signed_mailgun_event_it_cannot_read_is_kept_not_retried(app) -> None:
    data = {"event": "failed", "id": "Xq1", "timestamp": "soon", "recipient": "bo@example.org"}
    body = {"signature": mailgun_signature(), "event-data": data}
    answer = app.test_client().post("/webhooks/mailgun", json=body)
    assert (answer.status_code, answer.json) == (200, {"stored": 0, "repeated": 0, "unreadable": 1})
    [kept] = query(app, sa.select(unreadable_events.c.reason, unreadable_events.c.recipient))
    assert kept == (
        "Mailgun failed event: the timestamp 'soon' is not a time",
        "bo@example.org",
    )
    forged = {"signature": mailgun_signature("not-the-key"), "event-data": data}
    assert app.test_client().post("/webhooks/mailgun", json=forged).status_code == 403
    assert len(query(app, sa.select(unreadable_events))) == 1


def test_erasing_a_person_removes_the_unreadable_events_about_them(app, sg_private) -> None:
    post_sendgrid(
        app.test_client(), sg_private, filled(app, "sendgrid/batch-one-unreadable.json").encode()
    )
    store = app.extensions["engage"]["store"]
    [kept] = query(app, sa.select(unreadable_events))
    with store.connect() as c:
        assert records.export(c, "ann@example.org")["unreadable_events"] == [
            {
                "provider": "sendgrid",
                "reason": kept.reason,
                "raw": kept.raw,
                "received_at": core.iso(kept.received_at),
            }
        ]
        assert records.export(c, "bo@example.org")["unreadable_events"] == []
    with store.begin() as c:
        life.erase(c, "ann@example.org")
    assert query(app, sa.select(unreadable_events)) == []


def test_the_run_line_points_at_the_problems() -> None:
    assert RunSummary(webhook_problems=2).line() == (
        "engage run: 0 campaign(s) worked on, 0 message(s) handed over; 2 provider event(s) in "
        "the last day engage could not read or match to their own person (engage webhooks "
        "problems lists them)."
    )


# ------------------------------------------------------------------------------- Mailgun


def test_a_mailgun_rejected_event_finds_its_recipient_in_the_to_header(app) -> None:
    ann = delivery_of(app, "ann@example.org")
    body = json.loads(filled(app, "mailgun/rejected.json"))
    body["signature"] = mailgun_signature()
    answer = app.test_client().post("/webhooks/mailgun", json=body)
    assert (answer.status_code, answer.json) == (200, {"stored": 1, "repeated": 0, "unreadable": 0})
    assert stored_events(app) == [("rejected", "ann@example.org", ann.id, ann.contact_id, "")]
    [reason] = query(app, sa.select(events.c.reason))
    assert reason == ("Sandbox subdomains are for test purposes only.",)


def legacy_form(app, name: str, key: str = MG_KEY) -> dict[str, str]:
    return {**json.loads(filled(app, f"mailgun/{name}")), **mailgun_signature(key)}


@pytest.mark.parametrize(
    ("name", "event_type", "status", "suppressed"),
    [
        ("legacy-bounced.json", "bounced", "bounced", "bounced"),
        ("legacy-complained.json", "complained", "complained", "complained"),
        ("legacy-unsubscribed.json", "unsubscribed", "unsubscribed", "unsubscribed"),
        ("legacy-dropped.json", "rejected", "subscribed", None),
        ("legacy-delivered.json", "delivered", "subscribed", None),
    ],
)
def test_legacy_mailgun_form_webhooks_are_verified_and_read(
    app, name, event_type, status, suppressed
) -> None:
    bo = delivery_of(app, "bo@example.org")
    client = app.test_client()
    form = legacy_form(app, name)
    forged = {**form, "signature": legacy_form(app, name, key="someone-else")["signature"]}
    assert client.post("/webhooks/mailgun", data=forged).status_code == 403
    unsigned = {k: v for k, v in form.items() if k not in ("token", "timestamp", "signature")}
    assert client.post("/webhooks/mailgun", data=unsigned).status_code == 401
    assert stored_events(app) == []
    answer = client.post("/webhooks/mailgun", data=form)
    assert (answer.status_code, answer.json) == (200, {"stored": 1, "repeated": 0, "unreadable": 0})
    assert stored_events(app) == [(event_type, "bo@example.org", bo.id, bo.contact_id, "")]
    again = client.post("/webhooks/mailgun", data=legacy_form(app, name))  # retried, signed anew
    assert again.json == {"stored": 0, "repeated": 1, "unreadable": 0}
    now_status, suppression, _ = person(app, "bo@example.org")
    assert (now_status, suppression and suppression.reason) == (status, suppressed)
    assert person(app, "ann@example.org")[:2] == ("subscribed", None)


def test_a_legacy_mailgun_bounce_sent_as_multipart_is_read(app) -> None:
    form = legacy_form(app, "legacy-bounced.json")
    answer = app.test_client().post(
        "/webhooks/mailgun", data=form, content_type="multipart/form-data"
    )
    assert answer.json == {"stored": 1, "repeated": 0, "unreadable": 0}
    assert person(app, "bo@example.org")[0] == "bounced"


# ------------------------------------------------------------------------------ Postmark


@pytest.mark.parametrize("name", ["bounce-unsubscribe.json", "subscription-change-minimal.json"])
def test_postmark_unsubscribes_withdraw_consent(app, name) -> None:
    body = json.loads(filled(app, f"postmark/{name}"))
    answer = app.test_client().post("/webhooks/postmark", json=body, headers=PM_AUTH)
    assert (answer.status_code, answer.json) == (200, {"stored": 1, "repeated": 0, "unreadable": 0})
    status, suppression, history = person(app, "bo@example.org")
    assert (status, suppression.reason) == ("unsubscribed", "unsubscribed")
    assert (history[-1]["action"], history[-1]["method"], history[-1]["source"]) == (
        "withdrawn",
        "provider",
        "postmark webhook",
    )
    [(event_type, contact_id)] = query(app, sa.select(events.c.event_type, events.c.contact_id))
    assert (event_type, contact_id) == (
        "unsubscribed",
        delivery_of(app, "bo@example.org").contact_id,
    )
    assert person(app, "ann@example.org")[:2] == ("subscribed", None)


@pytest.fixture
def postmark_app(project, monkeypatch, sg_private, db_url):
    """Sent through a fake Postmark, so deliveries.provider_id holds the MessageID it gave."""
    _environment(monkeypatch, sg_private, db_url)
    fake = FakePostmark(api_key="pm-1").start()
    monkeypatch.setenv("TEST_PM_TOKEN", "pm-1")
    project.replace("engage.toml", 'provider = "outbox"', 'provider = "postmark"\ntimeout = 1')
    project.public_links()
    project.write(
        "engage.toml",
        project.read("engage.toml")
        + f'\n[email.postmark]\nbase_url = "{fake.url}"\nserver_token_env = "TEST_PM_TOKEN"\n',
    )
    assert (
        project.run("contacts", "import", str(project.write("people.csv", PEOPLE))).exit_code == 0
    )
    assert project.run("send", SLUG, "--yes", "--now").exit_code == 0
    app = create_app(project.workspace, TESTING=True)
    yield app
    app.extensions["engage"]["store"].engine.dispose()
    fake.stop()


def test_a_postmark_event_finds_its_delivery_by_message_id(postmark_app) -> None:
    app = postmark_app
    ann, bo = delivery_of(app, "ann@example.org"), delivery_of(app, "bo@example.org")
    assert ann.provider_id and ann.provider_id != bo.provider_id
    body = json.loads((PAYLOADS / "postmark/delivery-no-metadata.json").read_text())
    client = app.test_client()
    body["MessageID"] = ann.provider_id
    assert client.post("/webhooks/postmark", json=body, headers=PM_AUTH).status_code == 200
    body["MessageID"] = bo.provider_id  # Bo's message, but the event is about Ann: not linked
    assert client.post("/webhooks/postmark", json=body, headers=PM_AUTH).status_code == 200
    assert stored_events(app) == [
        ("delivered", "ann@example.org", ann.id, ann.contact_id, ""),
        ("delivered", "ann@example.org", None, ann.contact_id, ""),
    ]


# ------------------------------------------------------- an event changes only its person


def test_a_sendgrid_bounce_with_someone_elses_smtp_id_changes_only_its_recipient(
    app, project, sg_private
) -> None:
    ann, office = delivery_of(app, "ann@example.org"), delivery_of(app, "noreply@example.org")
    body = filled(app, "sendgrid/bounce-shared-smtp-id.json").encode()
    answer = post_sendgrid(app.test_client(), sg_private, body)
    assert answer.json == {"stored": 1, "repeated": 0, "unreadable": 0}
    note = (
        f"Not linked to delivery {ann.id}: its Message-ID {ann.message_id} named it, but it went "
        "to someone else. Only this event's own recipient was changed."
    )
    assert stored_events(app) == [("bounced", "noreply@example.org", None, office.contact_id, note)]
    status, suppression, _ = person(app, "noreply@example.org")
    assert (status, suppression.reason) == ("bounced", "bounced")
    assert person(app, "ann@example.org")[:2] == ("subscribed", None)
    listed = project.run("webhooks", "problems")
    [(received,)] = query(app, sa.select(events.c.received_at))
    at = received.strftime("%Y-%m-%d %H:%M UTC")
    assert listed.output == f"{at}  sendgrid bounced event for noreply@example.org: {note}\n"


@pytest.mark.parametrize("message_of", ["ann@example.org", "bo@example.org"])
def test_a_mailgun_bounce_with_someone_elses_ids_changes_only_its_recipient(
    app, message_of
) -> None:
    ann, bo = delivery_of(app, "ann@example.org"), delivery_of(app, "bo@example.org")
    body = json.loads((PAYLOADS / "mailgun/failed-permanent.json").read_text())
    data = body["event-data"]
    data.update(recipient="bo@example.org", timestamp=1796292000.25)
    data["user-variables"] = {
        "engage_campaign": SLUG,
        "engage_send": "1",
        "engage_delivery": str(ann.id),  # the batch's variables, not Bo's
    }
    data["message"]["headers"]["message-id"] = delivery_of(app, message_of).message_id.strip("<>")
    body["signature"] = mailgun_signature()
    answer = app.test_client().post("/webhooks/mailgun", json=body)
    assert answer.json == {"stored": 1, "repeated": 0, "unreadable": 0}
    note = (
        f"Not linked to delivery {ann.id}: the ids sent with the message named it, but it went "
        "to someone else. Only this event's own recipient was changed."
    )
    linked = bo.id if message_of == "bo@example.org" else None  # Bo's own Message-ID: his
    assert stored_events(app) == [("bounced", "bo@example.org", linked, bo.contact_id, note)]
    assert person(app, "bo@example.org")[0] == "bounced"
    assert person(app, "ann@example.org")[:2] == ("subscribed", None)


def test_the_same_mailbox_spelled_differently_keeps_the_link(app) -> None:
    ann = delivery_of(app, "ann@example.org")
    body = json.loads((PAYLOADS / "mailgun/failed-permanent.json").read_text())
    data = body["event-data"]
    data.update(recipient="Ann@EXAMPLE.org", timestamp=1796292000.5, **{"user-variables": {}})
    data["message"]["headers"]["message-id"] = ann.message_id.strip("<>")
    body["signature"] = mailgun_signature()
    assert app.test_client().post("/webhooks/mailgun", json=body).status_code == 200
    assert stored_events(app) == [("bounced", "Ann@EXAMPLE.org", ann.id, ann.contact_id, "")]
    assert person(app, "ann@example.org")[0] == "bounced"


DSN = """\
From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: bounces@news.example.org
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn.20261203.1@mx.example.net>
Date: Thu, 03 Dec 2026 09:30:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-bound"

--dsn-bound
Content-Type: text/plain; charset=utf-8

Your message to ann.forward@elsewhere.example could not be delivered.

--dsn-bound
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; ann.forward@elsewhere.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 No such mailbox

--dsn-bound
Content-Type: text/rfc822-headers

From: Parkside Sport <news@news.example.org>
To: ann@example.org
Subject: Doing with, not doing to
Message-ID: ANN-MESSAGE-ID

--dsn-bound--
"""


def test_a_failure_notice_for_a_forwarded_address_changes_only_that_address(app) -> None:
    """The failure-notice path (replies/inbox.py) builds events too: the notice names the
    address that failed, so that address is suppressed, not the person the email went to."""
    ann = delivery_of(app, "ann@example.org")
    raw = DSN.replace("ANN-MESSAGE-ID", ann.message_id).replace("\n", "\r\n").encode()
    store, inbox = app.extensions["engage"]["store"], app.extensions["engage"]["inbox"]
    with store.begin() as c:
        taken = inbox.take_raw(c, raw, "imap")
    assert taken.notes[-1] == (
        "Delivery to ann.forward@elsewhere.example failed (5.1.1); the address is now suppressed."
    )
    note = (
        f"Not linked to delivery {ann.id}: its Message-ID {ann.message_id} named it, but it went "
        "to someone else. Only this event's own recipient was changed."
    )
    assert stored_events(app) == [("bounced", "ann.forward@elsewhere.example", None, None, note)]
    assert person(app, "ann@example.org")[:2] == ("subscribed", None)
    with store.connect() as c:
        assert core.suppression(c, "ann.forward@elsewhere.example").reason == "bounced"
