"""Matching a reply to its person and campaign: reply token, thread headers, sender."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engage.contacts import core
from engage.replies.match import Match, match
from engage.store import open_store
from engage.store.schema import deliveries
from engage.tokens import Signer

from .test_sending import KEY, PEOPLE, SLUG


@pytest.fixture
def sent(project, monkeypatch):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    assert project.run("send", SLUG, "--yes", "--now").exit_code == 0
    store = open_store(project.workspace)
    yield store
    store.engine.dispose()


def ann(store) -> sa.Row:
    with store.connect() as c:
        contact = core.get(c, "ann@example.org")
        return c.execute(sa.select(deliveries).where(deliveries.c.contact_id == contact.id)).one()


def run(store, **fields) -> Match:
    values = {
        "recipient": "news@example.org",
        "in_reply_to": "",
        "references": "",
        "sender": "x@example.org",
        **fields,
    }
    with store.begin() as c:
        return match(c, Signer(KEY), **values)


def test_the_reply_token_wins(sent) -> None:
    delivery = ann(sent)
    token = Signer(KEY).sign("r", delivery.id)
    found = run(
        sent, recipient=f"reply+{token}@replies.example.org", sender="someone.else@example.net"
    )
    assert found == Match(delivery.contact_id, delivery.send_id, delivery.id, "reply-token")


def test_thread_headers_next(sent) -> None:
    delivery = ann(sent)
    found = run(
        sent,
        in_reply_to="",
        references=f"<other@x> {delivery.message_id}",
        sender="forwarded@example.net",
    )
    assert found == Match(delivery.contact_id, delivery.send_id, delivery.id, "in-reply-to")


def test_a_tampered_token_falls_back_to_the_sender(sent) -> None:
    delivery = ann(sent)
    found = run(
        sent, recipient="reply+1.aaaaaaaaaaaaaaaa@replies.example.org", sender="Ann@EXAMPLE.org"
    )
    assert found == Match(
        delivery.contact_id, delivery.send_id, delivery.id, "sender", note=found.note
    )
    assert found.note.startswith(
        "The reply address (reply+1.aaaaaaaaaaaaaaaa@...) has a code none of our secret keys "
        "can check, so this reply was matched by its thread or sender instead. If the secret "
        "key was changed"
    )


def test_an_unknown_sender_becomes_a_pending_contact_with_no_consent(sent) -> None:
    found = run(sent, sender="new.person@example.net")
    assert found.matched_by == "new-contact"
    with sent.connect() as c:
        person = core.get(c, "new.person@example.net")
        assert (person.status, core.consent_history(c, person.id)) == ("pending", [])
    again = run(sent, sender="new.person@example.net")
    assert (again.contact_id, again.matched_by) == (found.contact_id, "sender")


def test_mail_systems_never_become_contacts(sent) -> None:
    for sender in (
        "MAILER-DAEMON@mx.example.net",
        "noreply@example.net",
        "no-reply+abc@example.net",
    ):
        assert run(sent, sender=sender) == Match(None, matched_by="mail-system")
    with sent.connect() as c:
        assert core.find(c, "noreply@example.net") is None
