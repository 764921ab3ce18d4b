"""Hostile input from the open web and from files, on SQLite and PostgreSQL: no traceback, no
server error, nothing half-written. Each test is a class of input: NUL and other control
characters, values longer than their column, mail nested thousands of levels deep, CSV files
that are huge, binary or endless. A person's reply is never lost because of what is in it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from urllib3 import encode_multipart_formdata

from engage.contacts import core
from engage.mailparts import MAX_DEPTH
from engage.store import guard
from engage.store.schema import contacts, events, inbound, unreadable_events
from engage.tokens import Signer
from engage.web import create_app
from engage.workflow.own_emails import send_own_emails

from .imap_server import imap_server as imap_server_fixture  # noqa: F401
from .test_inbound_attachments import basic, delivery_id, query

PAYLOADS = Path(__file__).parent / "payloads"
KEY, MG_KEY, SG_PASSWORD = "hostile-key", "mg-hostile-signing-key", "sg-hostile-pass"
PEOPLE = "email,name,tags\nann@example.org,Ann,contributor\nbo@example.org,Bo,contributor\n"
CLEANED = "Some of this reply could not be stored exactly as it came, so a cleaned copy is kept: "
DEEP = (
    f"The mail has parts nested more than {MAX_DEPTH} levels deep; those parts were left out "
    "here. The mail as it came is kept."
)
TOO_DEEP = (
    f"The mail has parts nested more than {MAX_DEPTH} levels deep, too deep to read, so its "
    "words could not be read here. The mail as it came is kept."
)


@pytest.fixture
def app(project, monkeypatch, db_url):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("MAILGUN_WEBHOOK_SIGNING_KEY", MG_KEY)
    monkeypatch.setenv("SENDGRID_INBOUND_PASSWORD", SG_PASSWORD)
    assert project.run("contacts", "import", str(project.write("p.csv", PEOPLE))).exit_code == 0
    assert project.run("send", "share-your-story", "--yes", "--now").exit_code == 0
    app = create_app(project.workspace, TESTING=True)
    app.project = project
    yield app
    app.extensions["engage"]["store"].engine.dispose()


def reply_to(app, address: str) -> str:
    return f"reply+{Signer(KEY).sign('r', delivery_id(app, address))}@replies.example.org"


def signed(fields: dict) -> dict:
    token, stamp = secrets.token_hex(25), str(int(time.time()))
    digest = hmac.new(MG_KEY.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {**fields, "token": token, "timestamp": stamp, "signature": digest}


# -- the one guard ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "limit", "text", "said"),
    [
        ("plain words", None, "plain words", ""),
        ("tab\tline\nreturn\r", None, "tab\tline\nreturn\r", ""),
        ("A\x00n\x00n", None, "Ann", "2 NUL characters taken out"),
        ("bell\x07 esc\x1b del\x7f c1\x85 nul\x00", None, "bell esc del c1 nul", ""),
        ("half \ud800 a pair", None, "half \ufffd a pair", "1 broken character replaced with �"),
        ("x" * 400, 320, "x" * 320, "cut from 400 to 320 characters"),
    ],
)
def test_the_guard_makes_any_text_fit_for_the_store(value, limit, text, said) -> None:
    done = guard.clean(value, limit)
    assert done.text == text
    if said:
        assert done.said() == said
    assert guard.clean(done.text, limit).changed is False  # cleaning twice changes nothing
    assert guard.problem(done.text, limit) == ""


def test_the_guard_names_what_is_wrong() -> None:
    assert guard.problem("B\x00o") == "it has a NUL character (a zero byte), which cannot be stored"
    assert guard.problem("B\x07o") == (
        "it has a control character (U+0007), which cannot be stored"
    )
    assert guard.problem("B\udc80o") == "it has a broken character, which cannot be stored"
    assert guard.problem("x" * 11, 10) == (
        "it is 11 characters long; the most that can be stored is 10"
    )


def test_json_is_cleaned_keys_and_all_however_deep() -> None:
    deep: list = ["bottom\x00"]
    for _ in range(5000):
        deep = [deep]
    value = {"k\x00ey": {"list": ["a\x00", 1, None, True, 2.5], "deep": deep}}
    cleaned, changed = guard.clean_json(value)
    inner = cleaned["key"]["deep"]
    for _ in range(5000):
        inner = inner[0]
    assert (cleaned["key"]["list"], inner, changed) == (["a", 1, None, True, 2.5], ["bottom"], 3)


def test_every_write_is_guarded_on_both_databases(app) -> None:
    """A write that no caller checked still goes in, cleaned: the column types guard it."""
    store = app.extensions["engage"]["store"]
    with store.begin() as c:
        c.execute(
            contacts.update()
            .where(contacts.c.email == "ann@example.org")
            .values(name="A\x00nn\ud800", attributes={"no\x00te": "a\x00b", "n": [1, "\x00"]})
        )
    with store.connect() as c:
        ann = core.get(c, "ann@example.org")
    assert (ann.name, ann.attributes) == ("Ann\ufffd", {"note": "ab", "n": [1, ""]})


# -- the web: sign-up, events, replies ------------------------------------------------------------


def test_a_sign_up_name_with_nul_and_control_characters_is_kept_clean(app) -> None:
    data = {"email": "cy@example.org", "name": "Cy\x00 Jo\x07nes", "consent": "yes"}
    answer = app.test_client().post("/subscribe", data={**data, "format": "html"})
    assert answer.status_code == 200
    engage = app.extensions["engage"]  # the queued confirmation goes, as engage serve sends it
    assert send_own_emails(engage["store"], engage["workspace"], engage["signer"]).sent == 1
    with engage["store"].connect() as c:
        assert core.get(c, "cy@example.org").name == "Cy Jones"


def mailgun_event(app, **changes) -> dict:
    data = json.loads((PAYLOADS / "mailgun/failed-permanent.json").read_text())["event-data"]
    data.update(
        id=secrets.token_hex(8),
        timestamp=time.time(),
        recipient="bo@example.org",
        **{"user-variables": {"engage_delivery": str(delivery_id(app, "bo@example.org"))}},
    )
    data.update(changes)
    return {"signature": signed({}), "event-data": data}


def post_event(app, body: dict):
    return app.test_client().post("/webhooks/mailgun", json=body)


STORED = {"stored": 1, "repeated": 0, "unreadable": 0}


def test_mailgun_events_with_nul_are_stored_clean(app) -> None:
    nul_recipient = post_event(app, mailgun_event(app, recipient="bo@example.org\x00"))
    assert (nul_recipient.status_code, nul_recipient.json) == (200, STORED)
    nul_reason = post_event(app, mailgun_event(app, reason="bou\x00nce", severity="temporary"))
    assert (nul_reason.status_code, nul_reason.json) == (200, STORED)
    nul_key = post_event(
        app, mailgun_event(app, severity="temporary", **{"user-variables": {"a\x00b": "c\x00"}})
    )
    assert (nul_key.status_code, nul_key.json) == (200, STORED)
    bo = delivery_id(app, "bo@example.org")
    rows = query(
        app, sa.select(events.c.recipient, events.c.reason, events.c.delivery_id, events.c.raw)
    )
    assert [r[:3] for r in rows] == [
        ("bo@example.org", "bounce", bo),
        ("bo@example.org", "bounce", bo),
        ("bo@example.org", "bounce", None),
    ]
    assert rows[2].raw["event-data"]["user-variables"] == {"ab": "c"}
    with app.extensions["engage"]["store"].connect() as c:  # the hard bounce took effect
        assert core.get(c, "bo@example.org").status == "bounced"


def test_a_mailgun_recipient_longer_than_any_address_is_kept_as_unreadable(app) -> None:
    long = "x" * 400 + "@example.org"
    answer = post_event(app, mailgun_event(app, recipient=long))
    assert (answer.status_code, answer.json) == (200, {"stored": 0, "repeated": 0, "unreadable": 1})
    [kept] = query(app, sa.select(unreadable_events))
    assert (kept.reason, kept.recipient) == (
        "mailgun bounced event: the recipient is 412 characters long, longer than any email "
        "address (320)",
        "",
    )
    assert json.loads(kept.raw)["event-data"]["recipient"] == long
    assert query(app, sa.select(events)) == []
    with app.extensions["engage"]["store"].connect() as c:  # nobody was changed
        assert core.get(c, "bo@example.org").status == "subscribed"


@pytest.mark.parametrize("delivery", ["9" * 5000, "99999999999", "²", "-1"])
def test_a_mailgun_user_variable_of_any_size_is_no_server_error(app, delivery) -> None:
    variables = {"engage_delivery": delivery, "notes": "z" * 200_000}
    answer = post_event(
        app, mailgun_event(app, severity="temporary", **{"user-variables": variables})
    )
    assert (answer.status_code, answer.json) == (200, STORED)
    [(recipient, linked, raw)] = query(
        app, sa.select(events.c.recipient, events.c.delivery_id, events.c.raw)
    )
    assert (recipient, linked) == ("bo@example.org", None)
    assert raw["event-data"]["user-variables"] == variables


def mailgun_reply(to: str, text: str, subject: str, message_id: str) -> tuple[bytes, str]:
    headers = [["From", "Ann <ann@example.org>"], ["To", to], ["Message-Id", message_id]]
    fields = signed(
        {
            "recipient": to,
            "sender": "ann@example.org",
            "from": "Ann <ann@example.org>",
            "subject": subject,
            "body-plain": text,
            "message-headers": json.dumps(headers),
        }
    )
    return encode_multipart_formdata(list(fields.items()))


def test_a_signed_reply_with_nul_is_kept_cleaned_with_a_note(app) -> None:
    to = reply_to(app, "ann@example.org")
    long_id = "<" + "i" * 400 + "@example.org>"
    body, kind = mailgun_reply(to, "My story\x00 is\x07 here.", "Re: st\x00ory", long_id)
    answer = app.test_client().post("/inbound/mailgun", data=body, content_type=kind)
    assert (answer.status_code, answer.json) == (200, {"stored": 1, "repeated": 0})
    [row] = query(app, sa.select(inbound))
    assert (row.text, row.subject, row.message_id) == (
        "My story is here.",
        "Re: story",
        long_id[:300],
    )
    assert (row.clean_text, row.kind, row.sender) == (
        "My story is here.",
        "story",
        "ann@example.org",
    )
    assert row.notes == [
        CLEANED + "the subject (1 NUL character taken out); the text (2 control characters "
        "taken out); the Message-ID (cut from 414 to 300 characters); the fields as the "
        "provider sent them (characters taken out)."
    ]
    body, kind = mailgun_reply(to, "My story\x00 is\x07 here.", "Re: st\x00ory", long_id)
    again = app.test_client().post("/inbound/mailgun", data=body, content_type=kind)
    assert again.json == {"stored": 0, "repeated": 1}  # the provider's retry is the same reply


def nested_multipart(depth: int, to: str, message_id: str) -> bytes:
    head = (
        f"From: Ann <ann@example.org>\r\nTo: {to}\r\nSubject: Re: deep\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
    ).encode()
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nMy story, deep down." + closing


def nested_rfc822(depth: int, to: str, message_id: str) -> bytes:
    mail = b"From: someone@example.net\r\nSubject: the bottom\r\n\r\nThe bottom.\r\n"
    for n in range(depth):
        mail = b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % n + mail
    top = EmailMessage()
    top["From"], top["To"], top["Subject"] = "Ann <ann@example.org>", to, "Re: forwarded"
    top["Message-ID"] = message_id
    top.set_content("I forwarded it to you.\n")
    text = top.as_bytes().replace(b"MIME-Version: 1.0\n", b"")
    boundary = b"outer-boundary"
    return (
        text.split(b"Content-Type:")[0]
        + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer-boundary"\r\n\r\n'
        + b"--"
        + boundary
        + b"\r\nContent-Type: text/plain\r\n\r\nI forwarded it to you.\r\n--"
        + boundary
        + b"\r\n"
        + mail
        + b"\r\n--"
        + boundary
        + b"--\r\n"
    )


@pytest.mark.parametrize(("depth", "note"), [(40, DEEP), (1000, TOO_DEEP), (5000, TOO_DEEP)])
def test_sendgrid_raw_mail_nested_deep_is_kept_with_a_note(app, depth, note) -> None:
    to = reply_to(app, "ann@example.org")
    mail = nested_multipart(depth, to, f"<deep.{depth}@example.org>")
    parts = [
        ("email", mail),
        ("envelope", json.dumps({"to": [to], "from": "ann@example.org"})),
        ("charsets", json.dumps({"to": "UTF-8"})),
    ]
    body, kind = encode_multipart_formdata(parts)
    answer = app.test_client().post(
        "/inbound/sendgrid", data=body, content_type=kind, headers=basic("sendgrid", SG_PASSWORD)
    )
    assert (answer.status_code, answer.json) == (200, {"stored": 1, "repeated": 0})
    [row] = query(app, sa.select(inbound))
    assert row.sender == "ann@example.org" and row.subject == "Re: deep"
    assert row.notes[0] == note
    assert row.raw["email"] == mail.decode()  # the mail as it came is kept


@pytest.mark.parametrize(
    ("make", "depth", "words", "note"),
    [
        (nested_rfc822, 100, "I forwarded it to you.", DEEP),
        (nested_rfc822, 500, "I forwarded it to you.", DEEP),
        (nested_rfc822, 3000, "", TOO_DEEP),
        (nested_multipart, 1000, "", TOO_DEEP),
    ],
)
def test_an_eml_nested_deep_is_imported_with_a_note(app, make, depth, words, note) -> None:
    mail = make(depth, reply_to(app, "ann@example.org"), f"<eml.{depth}@example.org>")
    path = app.project.write("deep.eml", "")
    path.write_bytes(mail)
    result = app.project.run("replies", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "\n1 new, 0 already here.\n" in result.output
    [row] = query(app, sa.select(inbound))
    assert (row.original, row.text.strip(), row.notes) == (mail, words, [note])


def test_imap_fetch_takes_a_mail_nested_deep_with_a_note(app, imap_server, monkeypatch) -> None:
    from .test_imap import PASSWORD, use_imap

    monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
    use_imap(app.project, imap_server.port)
    mail = nested_multipart(2000, reply_to(app, "ann@example.org"), "<imap.deep@example.org>")
    imap_server.append(mail)
    result = app.project.run("replies", "fetch", "--imap")
    assert result.exit_code == 0, result.output
    [row] = query(app, sa.select(inbound))
    assert (row.provider, row.subject, row.original, row.notes) == (
        "imap",
        "Re: deep",
        mail,
        [TOO_DEEP],
    )


# -- CSV import -------------------------------------------------------------------------------


@pytest.fixture
def people(project, monkeypatch, db_url):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    assert project.run("contacts", "list").exit_code == 0  # the database is made before timing
    return project


def test_a_csv_row_with_nul_or_control_characters_or_a_huge_cell_is_rejected(people) -> None:
    path = people.write(
        "people.csv",
        "email,name,team\n"
        "ann@example.org,Ann,Rugby\n"
        "bo@example.org,B\x00o,Rugby\n"
        "cy@example.org,Cy,Boc\x07cia\n"
        f"di@example.org,{'D' * 10_001},Rugby\n"
        "ed@example.org,Ed,Boccia\n",
    )
    result = people.run("contacts", "import", str(path))
    assert result.exit_code == 3
    assert result.stdout.splitlines()[:5] == [
        f"Added 2 new contacts, updated 0, 0 already up to date ({path}).",
        "Rejected 3 rows:",
        "  line 3, column name: it has a NUL character (a zero byte), which cannot be stored.",
        "  line 4, column team: it has a control character (U+0007), which cannot be stored.",
        "  line 5, column name: it is 10,001 characters long; the most that can be stored is "
        "10,000.",
    ]
    assert "Traceback" not in result.output
    with _store(people).connect() as c:
        emails = sorted(c.execute(sa.select(contacts.c.email)).scalars())
    assert emails == ["ann@example.org", "ed@example.org"]


def _store(project):
    from engage.store import open_store

    return open_store(project.workspace)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "email," + "x" * (10 * 1024 * 1024) + "\nann@example.org,1\n",
            "line 1: the line is longer than 1,000,000 characters, so this does not look like "
            "a CSV of contacts. Check that it is the right file. Nothing was imported.",
        ),
        (
            "email," + ",".join(f"c{n}" for n in range(199_999)) + "\n",
            "line 1: the line is longer than 1,000,000 characters, so this does not look like "
            "a CSV of contacts. Check that it is the right file. Nothing was imported.",
        ),
        (
            "email," + ",".join("c" * (n % 5 + 1) for n in range(199_999)) + "\n",
            "line 1: it names 200,000 columns, and engage takes at most 200. Keep the columns "
            "you need (like email, name, tags) and import again.",
        ),
        (
            "email,name\nann@example.org,Ann\nbo@example.org," + "b" * 1_000_001 + "\n",
            "line 3: the line is longer than 1,000,000 characters, so this does not look like "
            "a CSV of contacts. Check that it is the right file. Nothing was imported.",
        ),
        (
            'email,name,story\nann@example.org,Ann,"It starts\n' + ("and goes on\n" * 90_000),
            "line 2, column story: the cell goes on for more than 1,000,000 characters. Most "
            'often a quote mark (") is not closed: check the quotes in that cell, then import '
            "again. Nothing was imported.",
        ),
        (
            "email,na\x00me\nann@example.org,Ann\n",
            "line 1: the file has zero (NUL) bytes, so it is not a CSV text file. Check that it "
            "is the right file, saved as CSV UTF-8.",
        ),
        (
            "email,nam\x07e\nann@example.org,Ann\n",
            "line 1: the name of column 2 is not usable: it has a control character (U+0007), "
            "which cannot be stored.",
        ),
    ],
    ids=["10MB-header-cell", "wide-header", "200k-columns", "long-line", "runaway", "nul", "bell"],
)
def test_an_oversized_or_broken_csv_is_refused_at_once(people, content, message) -> None:
    path = people.write("big.csv", content)
    result = people.run("contacts", "import", str(path))
    assert (result.exit_code, result.stderr) == (1, f"Error: {path}, {message}\n")
    with _store(people).connect() as c:
        assert c.execute(sa.select(contacts.c.email)).all() == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "/dev/zero",
            "/dev/zero, line 1: the file has zero (NUL) bytes, so it is not a CSV text file. "
            "Check that it is the right file, saved as CSV UTF-8.",
        ),
        (
            "picture.csv",
            "picture.csv, line 1: the file is not UTF-8 text. Save it as UTF-8 (in Excel: "
            "Save As, then 'CSV UTF-8') and import it again.",
        ),
    ],
)
def test_an_endless_or_binary_file_is_refused_without_reading_it_all(
    people, source, message
) -> None:
    if source == "picture.csv":  # a picture given by mistake: 50 MB of bytes that are not text
        path = people.root / source
        with path.open("wb") as picture:
            picture.write(b"\x89PNG\r\n\x1a\n")
            picture.truncate(50 * 1024 * 1024)
        source = str(path)
        message = f"{people.root}/{message}"
    elif not Path(source).exists():
        pytest.skip(f"no {source} here")
    started = time.perf_counter()
    result = people.run("contacts", "import", source)
    assert (result.exit_code, result.stderr) == (1, f"Error: {message}\n")
    # An endless file would never end; 50 MB read whole takes seconds. The bound is loose so a
    # busy machine does not fail it: how fast is for the benchmarks.
    assert time.perf_counter() - started < 10.0
