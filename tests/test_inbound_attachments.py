"""Replies of any size the providers send, with their attachments kept as files.

Each provider's inbound URL takes a 30 MB reply carrying a voice note (binary, not UTF-8): the
reply is stored, the file is byte-identical, and it is a story because it answers a call for
stories. A file over the cap is set aside with a note and the words are kept; a repeated
delivery adds nothing; erasing the person removes the files. IMAP and .eml attachments go the
same way. Runs on SQLite, and on PostgreSQL when ENGAGE_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
import threading
import time
import tracemalloc
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from urllib3 import encode_multipart_formdata

from engage.contacts import life
from engage.replies import attachments as kept_files
from engage.store.schema import attachments, inbound, stories
from engage.tokens import Signer
from engage.web import create_app
from engage.workflow.stories import catch_up

from .imap_server import imap_server as imap_server_fixture  # noqa: F401

PAYLOADS = Path(__file__).parent / "payloads"
KEY, MG_KEY, PM_PASSWORD, SG_PASSWORD = "attach-key", "mg-signing-key", "pm-pass", "sg-pass"
PEOPLE = "email,name,tags\nann@example.org,Ann,contributor\nbo@example.org,Bo,contributor\n"
MB = 1024 * 1024
WORDS = "Here is my story as a voice note. I play wheelchair rugby on Tuesdays."


def voice_note(size: int) -> bytes:
    """Ogg-looking bytes that are not UTF-8 (0xff, 0xfe, lone continuation bytes)."""
    body = random.Random(size).randbytes(size - 8)
    return b"OggS\x00\x02\xff\xfe" + body


@pytest.fixture(scope="module")
def note30() -> bytes:
    return voice_note(30 * MB)


@pytest.fixture
def app(project, monkeypatch, db_url):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    for name, value in {
        "ENGAGE_SECRET_KEY": KEY,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MG_KEY,
        "POSTMARK_WEBHOOK_PASSWORD": PM_PASSWORD,
        "SENDGRID_INBOUND_PASSWORD": SG_PASSWORD,
    }.items():
        monkeypatch.setenv(name, value)
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    assert project.run("send", "share-your-story", "--yes", "--now").exit_code == 0
    app = create_app(project.workspace, TESTING=True)
    app.project = project
    yield app
    app.extensions["engage"]["store"].engine.dispose()


def query(app, statement):
    with app.extensions["engage"]["store"].connect() as c:
        return c.execute(statement).all()


def delivery_id(app, address: str) -> int:
    [(found,)] = query(
        app,
        sa.text(
            "SELECT d.id FROM deliveries d JOIN contacts c ON c.id = d.contact_id "
            "WHERE c.email = :e"
        ).bindparams(e=address),
    )
    return found


def reply_to(app, address: str) -> str:
    return f"reply+{Signer(KEY).sign('r', delivery_id(app, address))}@replies.example.org"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# -- each provider's inbound post, in its own shape --------------------------------------------


def mailgun_post(to: str, files: list[tuple[str, str, bytes]], message_id: str):
    """(body, content type) of a Mailgun route's multipart post: fields, then attachment-N."""
    fields = json.loads((PAYLOADS / "mailgun/inbound-route.json").read_text())
    token, stamp = secrets.token_hex(25), str(int(time.time()))
    headers = [
        ["From", "Ann <ann@example.org>"],
        ["To", to],
        ["Subject", "Re: We would love to hear your story"],
        ["Message-Id", message_id],
    ]
    fields.update(
        recipient=to,
        sender="ann@example.org",
        **{"from": "Ann <ann@example.org>"},
        subject="Re: We would love to hear your story",
        **{"body-plain": WORDS + "\r\n", "body-html": "", "stripped-text": WORDS},
        **{"message-headers": json.dumps(headers), "attachment-count": str(len(files))},
        token=token,
        timestamp=stamp,
        signature=hmac.new(MG_KEY.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest(),
    )
    parts = list(fields.items()) + [
        (f"attachment-{n}", (name, data, kind)) for n, (name, kind, data) in enumerate(files, 1)
    ]
    return encode_multipart_formdata(parts)


def postmark_post(to: str, files: list[tuple[str, str, bytes]], message_id: str) -> bytes:
    mail = json.loads((PAYLOADS / "postmark/inbound.json").read_text())
    mail.update(
        From="ann@example.org",
        FromFull={"Email": "ann@example.org", "Name": "Ann", "MailboxHash": ""},
        To=to,
        ToFull=[{"Email": to, "Name": "", "MailboxHash": ""}],
        OriginalRecipient=to,
        Subject="Re: We would love to hear your story",
        TextBody=WORDS + "\n",
        HtmlBody="",
        Headers=[{"Name": "Message-ID", "Value": message_id}],
        Attachments=[
            {
                "Name": name,
                "Content": base64.b64encode(data).decode("ascii"),
                "ContentType": kind,
                "ContentLength": len(data),
                "ContentID": "",
            }
            for name, kind, data in files
        ],
    )
    return json.dumps(mail).encode()


def sendgrid_post(to: str, files: list[tuple[str, str, bytes]], message_id: str):
    headers = (
        "From: Ann <ann@example.org>\r\n"
        f"To: {to}\r\nSubject: Re: We would love to hear your story\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
    )
    info = {
        f"attachment{n}": {"filename": name, "name": name, "type": kind}
        for n, (name, kind, _) in enumerate(files, 1)
    }
    parts = [
        ("headers", headers),
        ("from", "Ann <ann@example.org>"),
        ("to", to),
        ("subject", "Re: We would love to hear your story"),
        ("text", WORDS + "\n"),
        ("envelope", json.dumps({"to": [to], "from": "ann@example.org"})),
        ("charsets", json.dumps({"to": "UTF-8", "subject": "UTF-8", "text": "UTF-8"})),
        ("attachments", str(len(files))),
        ("attachment-info", json.dumps(info)),
    ] + [(f"attachment{n}", (name, data, kind)) for n, (name, kind, data) in enumerate(files, 1)]
    return encode_multipart_formdata(parts)


def mail_with(to: str, files: list[tuple[str, str, bytes]], message_id: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Ann <ann@example.org>"
    message["To"] = to
    message["Subject"] = "Re: We would love to hear your story"
    message["Message-ID"] = message_id
    message.set_content(WORDS + "\n")
    for name, kind, data in files:
        maintype, subtype = kind.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def sendgrid_raw_post(to: str, files: list[tuple[str, str, bytes]], message_id: str):
    parts = [
        ("email", mail_with(to, files, message_id)),
        ("envelope", json.dumps({"to": [to], "from": "ann@example.org"})),
        ("charsets", json.dumps({"to": "UTF-8"})),
    ]
    return encode_multipart_formdata(parts)


def post(app, provider: str, to: str, files, message_id: str = "<voice.1@example.org>"):
    client = app.test_client()
    if provider == "mailgun":
        body, kind = mailgun_post(to, files, message_id)
        return client.post("/inbound/mailgun", data=body, content_type=kind)
    if provider == "postmark":
        body = postmark_post(to, files, message_id)
        return client.post(
            "/inbound/postmark",
            data=body,
            content_type="application/json",
            headers=basic("postmark", PM_PASSWORD),
        )
    make = sendgrid_raw_post if provider == "sendgrid-raw" else sendgrid_post
    body, kind = make(to, files, message_id)
    return client.post(
        "/inbound/sendgrid", data=body, content_type=kind, headers=basic("sendgrid", SG_PASSWORD)
    )


def stored_files(app) -> list[tuple]:
    return query(
        app,
        sa.select(
            attachments.c.name,
            attachments.c.content_type,
            attachments.c.size,
            attachments.c.sha256,
            attachments.c.path,
            attachments.c.set_aside,
        ).order_by(attachments.c.id),
    )


PROVIDERS = ["mailgun", "postmark", "sendgrid", "sendgrid-raw"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_30_mb_voice_note_is_kept_byte_for_byte_and_opens_a_story(app, provider, note30):
    to = reply_to(app, "ann@example.org")
    # The cap is raised so the 30 MB file is kept (the default keeps 25 MB).
    app.extensions["engage"]["inbox"].attachments.cap = 40 * MB
    answer = post(app, provider, to, [("voice note.ogg", "audio/ogg", note30)])
    assert (answer.status_code, answer.json) == (200, {"stored": 1, "repeated": 0})
    [row] = query(app, sa.select(inbound))
    assert (row.kind, row.campaign, row.matched_by, row.clean_text) == (
        "story",
        "share-your-story",
        "reply-token",
        WORDS,
    )
    assert len(json.dumps(row.raw)) < 100_000  # no base64 or mail bytes in the raw payload
    [(name, kind, size, digest, path, set_aside)] = stored_files(app)
    assert (name, kind, size, digest, set_aside) == (
        "voice note.ogg",
        "audio/ogg",
        len(note30),
        hashlib.sha256(note30).hexdigest(),
        "",
    )
    assert path.startswith(f"{row.id}-") and path.endswith("/1-voice_note.ogg")
    assert (app.project.root / "attachments" / path).read_bytes() == note30
    # What `engage run` does after replies come in: the story opens.
    catch_up(app.extensions["engage"]["store"], app.project.workspace)
    [story] = query(app, sa.select(stories.c.reply_id, stories.c.campaign))
    assert tuple(story) == (row.id, "share-your-story")
    # The same delivery again: nothing new, no second file.
    again = post(app, provider, to, [("voice note.ogg", "audio/ogg", note30)])
    assert again.json == {"stored": 0, "repeated": 1}
    assert len(stored_files(app)) == 1
    assert len(list((app.project.root / "attachments").rglob("*.ogg"))) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_file_over_the_cap_is_set_aside_and_the_words_kept(app, provider) -> None:
    to = reply_to(app, "bo@example.org")
    app.extensions["engage"]["inbox"].attachments.cap = 1 * MB
    small, big = voice_note(300_000), voice_note(2 * MB)
    files = [("photo.jpg", "image/jpeg", small), ("../../etc/passwd", "audio/mpeg", big)]
    answer = post(app, provider, to, files, "<cap.1@example.org>")
    assert answer.json == {"stored": 1, "repeated": 0}
    [row] = query(app, sa.select(inbound))
    note = (
        "The attachment ../../etc/passwd (2.0 MB) is bigger than the 1.0 MB engage keeps, "
        "so it was set aside; the words are kept."
    )
    assert (row.clean_text, row.notes, row.kind) == (WORDS, [note], "story")
    [photo, aside] = stored_files(app)
    assert photo[:4] == ("photo.jpg", "image/jpeg", 300_000, hashlib.sha256(small).hexdigest())
    assert photo[4].endswith("/1-photo.jpg") and photo[5] == ""
    assert aside == (
        "../../etc/passwd",
        "audio/mpeg",
        2 * MB,
        "",
        None,
        "bigger than the 1.0 MB engage keeps",
    )
    folder = app.project.root / "attachments"
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["1-photo.jpg"]
    shown = app.project.run("replies", "show", str(row.id))
    assert shown.exit_code == 0
    assert (
        "Attachments:\n"
        f"  photo.jpg (image/jpeg, 293 KB): attachments/{photo[4]}\n"
        "  ../../etc/passwd (audio/mpeg, 2.0 MB): set aside, bigger than the 1.0 MB engage keeps\n"
    ) in shown.stdout


def test_erasing_a_person_removes_their_files(app, note30) -> None:
    to = reply_to(app, "ann@example.org")
    assert post(app, "postmark", to, [("song.mp3", "audio/mpeg", note30[:MB])]).status_code == 200
    [(path,)] = query(app, sa.select(attachments.c.path))
    file = app.project.root / "attachments" / path
    assert file.read_bytes() == note30[:MB]
    data = json.loads(app.project.run("contacts", "export", "ann@example.org").stdout)
    assert [a["name"] for r in data["replies"] for a in r["attachments"]] == ["song.mp3"]
    result = app.project.run("contacts", "erase", "ann@example.org", "--yes")
    assert result.exit_code == 0, result.output
    assert query(app, sa.select(attachments)) == []
    assert not file.exists() and not file.parent.exists()


def test_a_failed_transaction_leaves_no_file(app) -> None:
    inbox = app.extensions["engage"]["inbox"]
    raw = mail_with(
        reply_to(app, "ann@example.org"), [("clip.mp4", "video/mp4", b"\x00\xff" * 1000)], "<x@y>"
    )
    store = app.extensions["engage"]["store"]
    with pytest.raises(RuntimeError), store.begin() as c:
        inbox.take_raw(c, raw, "import")
        assert len(list((app.project.root / "attachments").rglob("*.mp4"))) == 1
        raise RuntimeError("the database went away")
    assert list((app.project.root / "attachments").rglob("*")) == []
    assert query(app, sa.select(attachments)) == []


def test_eml_import_keeps_attachments_the_same_way(app, note30) -> None:
    raw = mail_with(
        reply_to(app, "ann@example.org"), [("voice.ogg", "audio/ogg", note30[: 3 * MB])], "<e@x>"
    )
    path = app.project.write("voice.eml", "")
    path.write_bytes(raw)
    result = app.project.run("replies", "import", str(path))
    assert result.exit_code == 0, result.output
    [row] = query(app, sa.select(inbound))
    assert row.kind == "story"
    assert len(row.original) < 5_000  # the 3 MB is kept once, as a file
    [(name, kind, size, digest, rel, aside)] = stored_files(app)
    assert (name, kind, size, aside) == ("voice.ogg", "audio/ogg", 3 * MB, "")
    assert (app.project.root / "attachments" / rel).read_bytes() == note30[: 3 * MB]
    again = app.project.run("replies", "import", str(path))
    assert again.stdout.endswith("0 new, 1 already here.\n")
    assert len(stored_files(app)) == 1


def test_imap_fetch_keeps_attachments_the_same_way(app, imap_server, monkeypatch, note30):
    from .test_imap import PASSWORD, use_imap

    monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
    use_imap(app.project, imap_server.port)
    raw = mail_with(
        reply_to(app, "ann@example.org"), [("voice.ogg", "audio/ogg", note30[:MB])], "<i@x>"
    )
    imap_server.append(raw)
    result = app.project.run("replies", "fetch", "--imap")
    assert result.exit_code == 0, result.output
    [row] = query(app, sa.select(inbound))
    assert (row.provider, row.kind) == ("imap", "story")
    [(name, _, size, _, rel, _)] = stored_files(app)
    assert (name, size) == ("voice.ogg", MB)
    assert (app.project.root / "attachments" / rel).read_bytes() == note30[:MB]


def test_every_other_route_keeps_its_small_limit(app) -> None:
    client = app.test_client()
    too_big = b"x" * (11 * MB)
    assert client.post("/subscribe", data=too_big, content_type="text/plain").status_code == 413
    assert (
        client.post("/webhooks/mailgun", data=too_big, content_type="application/json").status_code
        == 413
    )
    over = b"{" + b" " * (65 * MB) + b"}"
    answer = client.post(
        "/inbound/postmark",
        data=over,
        content_type="application/json",
        headers=basic("postmark", PM_PASSWORD),
    )
    assert answer.status_code == 413
    unsigned = client.post(
        "/inbound/postmark", data=b"{}", content_type="application/json"
    )  # credentials are checked before the body is read
    assert unsigned.status_code == 401


def test_a_big_post_is_not_held_in_memory(app, tmp_path, note30) -> None:
    """Through a real server, from files on disk: the peak of Python's memory stays well under
    the size of the post (Mailgun: every part spooled) or near it (Postmark: the JSON is
    parsed once, and each attachment decoded in pieces)."""
    from waitress.server import create_server

    app.extensions["engage"]["inbox"].attachments.cap = 40 * MB
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}"
    to = reply_to(app, "ann@example.org")
    mg_body, mg_kind = mailgun_post(to, [("a.ogg", "audio/ogg", note30)], "<mem.1@example.org>")
    pm_body = postmark_post(to, [("b.ogg", "audio/ogg", note30)], "<mem.2@example.org>")
    (tmp_path / "mailgun").write_bytes(mg_body)
    (tmp_path / "postmark").write_bytes(pm_body)
    sizes = {"mailgun": len(mg_body), "postmark": len(pm_body)}
    del mg_body, pm_body
    peaks = {}
    try:
        for provider, kind, headers in (
            ("mailgun", mg_kind, {}),
            ("postmark", "application/json", basic("postmark", PM_PASSWORD)),
        ):
            tracemalloc.start()
            with (tmp_path / provider).open("rb") as body:
                answer = requests.post(
                    f"{url}/inbound/{provider}",
                    data=body,
                    headers={"Content-Type": kind, **headers},
                    timeout=120,
                )
            peaks[provider] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert answer.json() == {"stored": 1, "repeated": 0}
    finally:
        server.close()
    assert peaks["mailgun"] < sizes["mailgun"] / 4
    assert peaks["postmark"] < sizes["postmark"] * 2.5
    assert len(stored_files(app)) == 2


def test_safe_names_never_leave_the_folder() -> None:
    assert kept_files.safe_name("../../etc/passwd") == "passwd"
    assert kept_files.safe_name("..\\..\\boot.ini") == "boot.ini"
    assert kept_files.safe_name("Nöte vocale – été.m4a") == "Note_vocale_ete.m4a"
    assert kept_files.safe_name("", "audio/mpeg", 3) == "attachment-3.mp3"
    assert kept_files.safe_name("....", "image/png", 1) == "attachment-1.png"
    assert kept_files.safe_name(".hidden") == "hidden"
    long = kept_files.safe_name("a" * 300 + ".ogg")
    assert (len(long), long[-4:]) == (80, ".ogg")


def test_the_erase_query_is_for_that_person_only(app) -> None:
    for who in ("ann@example.org", "bo@example.org"):
        body = postmark_post(reply_to(app, who), [("n.ogg", "audio/ogg", b"\xff" * 10)], f"<{who}>")
        body = body.replace(b"ann@example.org", who.encode())
        answer = app.test_client().post(
            "/inbound/postmark",
            data=body,
            content_type="application/json",
            headers=basic("postmark", PM_PASSWORD),
        )
        assert answer.json == {"stored": 1, "repeated": 0}
    with app.extensions["engage"]["store"].begin() as c:
        gone = life.erase(c, "ann@example.org").attachments
    [(left,)] = query(app, sa.select(attachments.c.path))
    assert len(gone) == 1 and gone[0] != left
