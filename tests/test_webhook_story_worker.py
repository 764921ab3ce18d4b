"""A story reply that arrives by webhook is not left for the next `engage run`: the request
stores it and wakes the worker of `engage serve`, which opens its story and thanks its
contributor."""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import json
import time
from pathlib import Path

import pytest

from engage.web import create_app
from engage.workflow.worker import Worker

from .test_stories import CALL, PEOPLE, STORY, mails, text_of

PAYLOADS = Path(__file__).parent / "payloads"
KEY, PM_PASSWORD = "worker-test-key", "pm-pass"


@pytest.fixture
def app(project, monkeypatch, clock, db_url):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("POSTMARK_WEBHOOK_PASSWORD", PM_PASSWORD)
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    assert project.run("send", CALL, "--yes", "--now").exit_code == 0
    app = create_app(project.workspace, TESTING=True)
    engage = app.extensions["engage"]
    # Every 30 seconds: within the test's few seconds only a wake can set it to work.
    worker = Worker(engage["store"], engage["workspace"], engage["signer"], every=30).start()
    yield app
    worker.stop()
    engage["store"].engine.dispose()


def story_reply_to(call: email.message.EmailMessage) -> dict:
    """Amira's answer to the call for stories, as Postmark posts it."""
    mail = json.loads((PAYLOADS / "postmark/inbound.json").read_text())
    to = email.utils.parseaddr(str(call["Reply-To"]))[1]
    mail.update(
        {
            "From": "amira@example.org",
            "FromName": "Amira Hassan",
            "FromFull": {"Email": "amira@example.org", "Name": "Amira Hassan", "MailboxHash": ""},
            "To": to,
            "ToFull": [{"Email": to, "Name": "", "MailboxHash": ""}],
            "Cc": "",
            "CcFull": [],
            "OriginalRecipient": to,
            "Subject": "Re: " + str(call["Subject"]),
            "MessageID": "amira-story-by-webhook",
            "TextBody": STORY,
            "HtmlBody": "",
            "StrippedTextReply": STORY,
        }
    )
    return mail


def test_a_story_reply_by_webhook_is_opened_and_thanked_by_the_worker(app, project, clock) -> None:
    [call] = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in (project.root / "outbox" / CALL).glob("*.eml")
        if b"amira@example.org" in p.read_bytes()
    ]
    clock.advance(minutes=30)
    auth = base64.b64encode(f"postmark:{PM_PASSWORD}".encode()).decode()
    answer = app.test_client().post(
        "/inbound/postmark", json=story_reply_to(call), headers={"Authorization": f"Basic {auth}"}
    )
    assert answer.json == {"stored": 1, "repeated": 0}

    deadline = time.monotonic() + 10  # no `engage run`: only the worker can send it
    while not mails(project, "story-acknowledgement") and time.monotonic() < deadline:
        time.sleep(0.02)
    [thanks] = mails(project, "story-acknowledgement")
    assert thanks["To"] == "amira@example.org"
    assert thanks["Subject"] == "Thank you for your story"
    assert "Tuesday 15 December" in text_of(thanks)  # 14 days from 1 December
    listed = json.loads(project.run("stories", "list", "--format", "json").output)
    assert [(s["id"], s["status"], s["contributor"], s["campaign"]) for s in listed] == [
        (1, "received", "amira@example.org", CALL)
    ]
