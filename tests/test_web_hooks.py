"""Webhooks and inbound mail through the web app: verified, stored once, acted on."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from engage.contacts import core, life, records
from engage.store.schema import deliveries, events, inbound, suppressions
from engage.tokens import Signer
from engage.web import create_app

PAYLOADS = Path(__file__).parent / "payloads"
KEY, MG_KEY, PM_PASSWORD, SG_INBOUND = "hooks-test-key", "mg-signing-key", "pm-pass", "sg-pass"
NONE = {"unreadable": 0}  # what an event webhook answers when it could read every event
PEOPLE = "email,name,tags\nann@example.org,Ann,newsletter\nbo@example.org,Bo,newsletter\n"


@pytest.fixture
def sg_private():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def app(project, monkeypatch, sg_private):
    der = sg_private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for name, value in {
        "ENGAGE_SECRET_KEY": KEY,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MG_KEY,
        "POSTMARK_WEBHOOK_PASSWORD": PM_PASSWORD,
        "SENDGRID_INBOUND_PASSWORD": SG_INBOUND,
        "SENDGRID_WEBHOOK_PUBLIC_KEY": base64.b64encode(der).decode(),
    }.items():
        monkeypatch.setenv(name, value)
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    assert project.run("send", "doing-with-not-doing-to", "--yes", "--now").exit_code == 0
    app = create_app(project.workspace, TESTING=True)
    yield app
    app.extensions["engage"]["store"].engine.dispose()


def query(app, statement):
    with app.extensions["engage"]["store"].connect() as c:
        return c.execute(statement).all()


def delivery_of(app, address: str):
    contact_id = query(app, sa.text(f"SELECT id FROM contacts WHERE email = '{address}'"))[0][0]
    return query(app, sa.select(deliveries).where(deliveries.c.contact_id == contact_id))[0]


def mailgun_body(event: dict, token: str | None = None, key: str = MG_KEY) -> dict:
    token = token or secrets.token_hex(25)
    stamp = str(int(time.time()))
    signature = hmac.new(key.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"token": token, "timestamp": stamp, "signature": signature},
        "event-data": event,
    }


def bounce_for(delivery, address: str) -> dict:
    event = json.loads((PAYLOADS / "mailgun/failed-permanent.json").read_text())["event-data"]
    event["timestamp"] = time.time()
    event["recipient"] = address
    event["user-variables"] = {
        "engage_campaign": "doing-with-not-doing-to",
        "engage_send": "1",
        "engage_delivery": str(delivery.id),
    }
    event["message"]["headers"]["message-id"] = delivery.message_id.strip("<>")
    return event


def test_a_mailgun_hard_bounce_suppresses_once(app) -> None:
    client = app.test_client()
    ann = delivery_of(app, "ann@example.org")
    event = bounce_for(ann, "ann@example.org")
    first = mailgun_body(event)
    answer = client.post("/webhooks/mailgun", json=first)
    assert answer.status_code == 200 and answer.json == {"stored": 1, "repeated": 0, **NONE}
    # Mailgun sends the same request again when it got no answer (engage stored the event,
    # then was stopped before it could say so): the same token, nothing new, so "repeated".
    again = client.post("/webhooks/mailgun", json=first)
    assert again.status_code == 200 and again.json == {"stored": 0, "repeated": 1, **NONE}
    # The token again with an event it did not sign before: a replay, refused, nothing kept.
    forged = {**first, "event-data": {**event, "id": "forged-id", "event": "complained"}}
    assert client.post("/webhooks/mailgun", json=forged).status_code == 403
    resent = client.post("/webhooks/mailgun", json=mailgun_body(event))  # a retry, signed anew
    assert resent.json == {"stored": 0, "repeated": 1, **NONE}
    stored = query(app, sa.select(events.c.event_type, events.c.delivery_id, events.c.contact_id))
    assert stored == [("bounced", ann.id, ann.contact_id)]
    with app.extensions["engage"]["store"].connect() as c:
        assert core.get(c, "ann@example.org").status == "bounced"
        assert core.suppression(c, "ann@example.org").reason == "bounced"


@pytest.mark.parametrize(
    ("change", "status"),
    [("unsigned", 401), ("wrong key", 403), ("stale", 403)],
)
def test_unverified_mailgun_requests_store_nothing(app, change, status, caplog) -> None:
    body = mailgun_body(
        bounce_for(delivery_of(app, "ann@example.org"), "ann@example.org"),
        key="not-the-key" if change == "wrong key" else MG_KEY,
    )
    if change == "unsigned":
        del body["signature"]
    if change == "stale":
        body["signature"]["timestamp"] = str(int(time.time()) - 3600)
    with caplog.at_level("WARNING", logger="engage.web"):
        answer = app.test_client().post("/webhooks/mailgun", json=body)
    assert answer.status_code == status
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "refused mailgun events webhook from 127.0.0.1"
    ]
    assert MG_KEY not in caplog.text
    if status == 401:
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="engage"'
    assert query(app, sa.select(events)) == []
    assert query(app, sa.select(suppressions)) == []


def test_postmark_complaint_and_wrong_password(app) -> None:
    bo = delivery_of(app, "bo@example.org")
    event = json.loads((PAYLOADS / "postmark/spam-complaint.json").read_text())
    event["Email"] = "bo@example.org"
    event["Metadata"] = {"engage_delivery": str(bo.id)}
    good = base64.b64encode(f"postmark:{PM_PASSWORD}".encode()).decode()
    bad = base64.b64encode(b"postmark:guess").decode()
    client = app.test_client()
    assert (
        client.post(
            "/webhooks/postmark", json=event, headers={"Authorization": f"Basic {bad}"}
        ).status_code
        == 403
    )
    assert client.post("/webhooks/postmark", json=event).status_code == 401
    answer = client.post(
        "/webhooks/postmark", json=event, headers={"Authorization": f"Basic {good}"}
    )
    assert answer.json == {"stored": 1, "repeated": 0, **NONE}
    assert client.post(
        "/webhooks/postmark", json=event, headers={"Authorization": f"Basic {good}"}
    ).json == {"stored": 0, "repeated": 1, **NONE}
    with app.extensions["engage"]["store"].connect() as c:
        assert core.get(c, "bo@example.org").status == "complained"


def test_sendgrid_unsubscribe_withdraws_consent(app, sg_private) -> None:
    ann = delivery_of(app, "ann@example.org")
    body = json.dumps(
        [
            {
                "email": "ann@example.org",
                "timestamp": int(time.time()),
                "event": "unsubscribe",
                "sg_event_id": "evt-1",
                "sg_message_id": "m1.filter",
                "engage_delivery": str(ann.id),
            }
        ]
    ).encode()
    stamp = str(int(time.time()))
    signature = base64.b64encode(
        sg_private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }
    client = app.test_client()
    tampered = client.post(
        "/webhooks/sendgrid",
        data=body.replace(b"unsubscribe", b"delivered  "),
        headers=headers,
        content_type="application/json",
    )
    assert tampered.status_code == 403
    answer = client.post(
        "/webhooks/sendgrid", data=body, headers=headers, content_type="application/json"
    )
    assert answer.json == {"stored": 1, "repeated": 0, **NONE}
    with app.extensions["engage"]["store"].connect() as c:
        history = core.consent_history(c, ann.contact_id)
    assert (history[-1]["action"], history[-1]["method"]) == ("withdrawn", "provider")


def test_inbound_mail_is_kept_whole_and_a_mail_to_the_unsubscribe_address_unsubscribes(app) -> None:
    bo = delivery_of(app, "bo@example.org")
    token = Signer(KEY).sign("u", bo.contact_id, bo.send_id)
    mail = json.loads((PAYLOADS / "postmark/inbound.json").read_text())
    mail["ToFull"] = [
        {"Email": f"unsubscribe+{token}@replies.example.org", "Name": "", "MailboxHash": token}
    ]
    mail["To"] = f"unsubscribe+{token}@replies.example.org"
    mail["OriginalRecipient"] = f"unsubscribe+{token}@replies.example.org"
    auth = {
        "Authorization": "Basic " + base64.b64encode(f"postmark:{PM_PASSWORD}".encode()).decode()
    }
    client = app.test_client()
    assert client.post("/inbound/postmark", json=mail, headers=auth).json == {
        "stored": 1,
        "repeated": 0,
    }
    assert client.post("/inbound/postmark", json=mail, headers=auth).json == {
        "stored": 0,
        "repeated": 1,
    }
    [row] = query(app, sa.select(inbound))
    assert row.sender == "ann@example.com"
    assert row.recipient == f"unsubscribe+{token}@replies.example.org"
    assert row.message_id and row.subject == mail["Subject"] and row.text == mail["TextBody"]
    with app.extensions["engage"]["store"].connect() as c:
        assert core.get(c, "bo@example.org").status == "unsubscribed"


def test_a_burst_of_concurrent_webhooks_on_sqlite_loses_none(app) -> None:
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=8)
    port = server.effective_port
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    ann = delivery_of(app, "ann@example.org")

    def post(i: int) -> int:
        event = {
            "id": f"evt{i % 150}",
            "timestamp": time.time(),
            "event": "opened",
            "recipient": "ann@example.org",
            "user-variables": {"engage_delivery": str(ann.id)},
            "message": {"headers": {"message-id": "x@y"}},
        }
        event["timestamp"] = 1_790_000_000 + i % 150  # the same event id and time when repeated
        return requests.post(
            f"http://127.0.0.1:{port}/webhooks/mailgun", json=mailgun_body(event), timeout=30
        ).status_code

    try:
        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(post, range(300)))
    finally:
        server.close()
    assert set(codes) == {200}
    assert query(app, sa.select(sa.func.count()).select_from(events))[0][0] == 150


def test_mailgun_inbound_route_is_verified_and_stored(app) -> None:
    fields = json.loads((PAYLOADS / "mailgun/inbound-route.json").read_text())
    token = secrets.token_hex(25)
    stamp = str(int(time.time()))
    fields.update(
        token=token,
        timestamp=stamp,
        signature=hmac.new(MG_KEY.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest(),
    )
    client = app.test_client()
    forged = {**fields, "signature": "0" * 64}
    assert client.post("/inbound/mailgun", data=forged).status_code == 403
    assert client.post("/inbound/mailgun", data=fields).json == {"stored": 1, "repeated": 0}
    [row] = query(app, sa.select(inbound))
    assert (row.provider, row.subject, row.text) == (
        "mailgun",
        fields["subject"],
        fields["body-plain"],
    )
    assert row.in_reply_to and row.message_id
    assert row.matched_by == "new-contact"  # a stranger: pending, no consent, never mailed
    with app.extensions["engage"]["store"].connect() as c:
        assert core.get(c, row.sender).status == "pending"


def test_sendgrid_inbound_parse_keeps_the_declared_charsets(app) -> None:
    body = (PAYLOADS / "sendgrid/inbound-parsed.multipart").read_bytes().replace(b"\n", b"\r\n")
    auth = "Basic " + base64.b64encode(f"sendgrid:{SG_INBOUND}".encode()).decode()
    client = app.test_client()
    kind = "multipart/form-data; boundary=xYzZY"
    assert client.post("/inbound/sendgrid", data=body, content_type=kind).status_code == 401
    answer = client.post(
        "/inbound/sendgrid", data=body, content_type=kind, headers={"Authorization": auth}
    )
    assert answer.json == {"stored": 1, "repeated": 0}
    [row] = query(app, sa.select(inbound))
    assert row.sender_name == "José Muñoz"
    assert row.subject == "Re: Our spring news – ¿puedo ayudar?"


def test_export_shows_and_erase_removes_everything_about_a_person(app) -> None:
    client = app.test_client()
    ann = delivery_of(app, "ann@example.org")
    assert (
        client.post(
            "/webhooks/mailgun", json=mailgun_body(bounce_for(ann, "ann@example.org"))
        ).status_code
        == 200
    )
    mail = json.loads((PAYLOADS / "postmark/inbound.json").read_text())
    mail["FromFull"] = {"Email": "ann@example.org", "Name": "Ann", "MailboxHash": ""}
    mail["From"] = "ann@example.org"
    auth = {
        "Authorization": "Basic " + base64.b64encode(f"postmark:{PM_PASSWORD}".encode()).decode()
    }
    assert client.post("/inbound/postmark", json=mail, headers=auth).status_code == 200
    store = app.extensions["engage"]["store"]
    with store.connect() as c:
        data = records.export(c, "ann@example.org")
    assert [(e["campaign"], e["status"]) for e in data["emails"]] == [
        ("doing-with-not-doing-to", "sent")
    ]
    assert [(e["provider"], e["type"]) for e in data["events"]] == [("mailgun", "bounced")]
    assert [r["subject"] for r in data["replies"]] == [mail["Subject"]]
    with store.begin() as c:
        life.erase(c, "ann@example.org")
    assert query(app, sa.select(events)) == []
    assert query(app, sa.select(inbound)) == []
    assert query(
        app,
        sa.text("SELECT count(*) FROM deliveries WHERE contact_id = :i").bindparams(
            i=ann.contact_id
        ),
    ) == [(0,)]
    [(email, reason)] = query(app, sa.select(suppressions.c.email, suppressions.c.reason))
    assert (email, reason) == (None, "erased")
