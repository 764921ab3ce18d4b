"""`engage replies fetch --imap` against a real IMAP server on loopback (a private Dovecot; the
fake in tests/imap_server.py where Dovecot cannot start): each message taken once and marked,
a mailbox that refuses us or goes away half way, and mails that are odd or not mail at all."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from engage.store import open_store
from engage.store.schema import inbound

from .imap_server import PASSWORD, USER, CuttingProxy, FakeImapServer, free_port, why_not_dovecot
from .imap_server import imap_server as imap_server_fixture  # noqa: F401

KEY = "imap-test-key"
TAKEN = "$EngageTaken"
WHERE = f"imap ({USER} at 127.0.0.1, folder INBOX)"


def use_imap(project, port: int, **settings: str) -> None:
    """Point [replies.imap] at a server on 127.0.0.1 (replacing any table there already)."""
    text = project.read("engage.toml").split("\n[replies.imap]\n")[0]
    table = {"host": "127.0.0.1", "port": port, "security": "none", "user": USER, "timeout": 10}
    table |= settings
    lines = [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in table.items()]
    project.write("engage.toml", text + "\n[replies.imap]\n" + "\n".join(lines) + "\n")


@pytest.fixture
def mailbox(project, imap_server, monkeypatch):
    """The IMAP server, with the project's [replies.imap] pointing at it."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
    use_imap(project, imap_server.port)
    return imap_server


def mail(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Person {n} <person{n}@example.org>"
    message["To"] = USER
    message["Subject"] = f"Reply {n}"
    message["Message-ID"] = f"<reply-{n}@example.org>"
    message.set_content(f"Hello, this is reply {n}.\n")
    return message.as_bytes()


def stored(project) -> list[tuple[str, str, list[str]]]:
    """(Message-ID, provider, notes) of every reply in the store, in the order taken."""
    store = open_store(project.workspace)
    try:
        with store.connect() as connection:
            rows = connection.execute(
                sa.select(inbound.c.message_id, inbound.c.provider, inbound.c.notes).order_by(
                    inbound.c.id
                )
            ).all()
    finally:
        store.engine.dispose()
    return [(r.message_id, r.provider, list(r.notes or [])) for r in rows]


def ids(project) -> list[str]:
    return [message_id for message_id, _, _ in stored(project)]


def test_the_real_dovecot_answers(imap_server) -> None:
    if imap_server.kind != "dovecot":
        pytest.skip(f"Dovecot was not used: {why_not_dovecot()}")
    assert imap_server.version.split(".")[0] == "2"
    assert imap_server.flags() == {}


def test_each_message_is_taken_once_and_marked_leaving_seen_alone(project, mailbox) -> None:
    mailbox.append(mail(1), flags="\\Seen")  # someone has read this one by hand
    mailbox.append(mail(2))
    mailbox.append(mail(3))

    first = project.run("replies", "fetch", "--imap")
    assert (first.exit_code, first.stdout, first.stderr) == (
        0,
        f"{WHERE}: 3 new, 0 already here.\n",
        "",
    )
    assert ids(project) == [
        "<reply-1@example.org>",
        "<reply-2@example.org>",
        "<reply-3@example.org>",
    ]
    assert {provider for _, provider, _ in stored(project)} == {"imap"}
    assert mailbox.flags() == {1: {"\\Seen", TAKEN}, 2: {TAKEN}, 3: {TAKEN}}

    again = project.run("replies", "fetch", "--imap")
    assert (again.exit_code, again.output) == (0, f"{WHERE}: 0 new, 0 already here.\n")
    assert len(stored(project)) == 3


def test_a_message_unmarked_by_hand_comes_back_as_already_here(project, mailbox) -> None:
    mailbox.append(mail(1))
    mailbox.append(mail(2))
    assert project.run("replies", "fetch", "--imap").exit_code == 0
    mailbox.unflag(2, TAKEN)

    result = project.run("replies", "fetch", "--imap")
    assert (result.exit_code, result.output) == (0, f"{WHERE}: 0 new, 1 already here.\n")
    assert ids(project) == ["<reply-1@example.org>", "<reply-2@example.org>"]
    assert mailbox.flags() == {1: {TAKEN}, 2: {TAKEN}}


def test_a_refused_login_is_reported_and_nothing_is_taken(project, mailbox) -> None:
    mailbox.append(mail(1))
    result = project.run("replies", "fetch", "--imap", env={"IMAP_PASSWORD": "not-it"})
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Problem: imap: The IMAP server refused the login for {USER}: [AUTHENTICATIONFAILED] "
        "Authentication failed; check [replies.imap] user and the password in $IMAP_PASSWORD.\n"
    )
    assert stored(project) == []
    assert mailbox.flags() == {1: set()}


def test_a_missing_password_names_the_setting(project, mailbox, monkeypatch) -> None:
    monkeypatch.delenv("IMAP_PASSWORD")
    result = project.run("replies", "fetch", "--imap")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "Problem: imap: Set the environment variable IMAP_PASSWORD (named by "
        "replies.imap.password_env in engage.toml).\n"
    )


def test_a_folder_that_is_not_there_is_reported(project, mailbox) -> None:
    use_imap(project, mailbox.port, folder="Replies")
    result = project.run("replies", "fetch", "--imap")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Problem: imap: The IMAP server has no folder Replies for {USER} "
        "(Mailbox doesn't exist: Replies); check [replies.imap] folder.\n"
    )


def test_a_server_that_is_not_there_is_reported(project, monkeypatch) -> None:
    monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
    port = free_port()
    use_imap(project, port)
    result = project.run("replies", "fetch", "--imap")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Problem: imap: Could not connect to the IMAP server at 127.0.0.1 port {port} with "
        'security = "none": Connection refused. Check [replies.imap] host, port and security.\n'
    )


def test_without_a_replies_imap_table_fetch_imap_says_so(project) -> None:
    result = project.run("replies", "fetch", "--imap")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: There is no [replies.imap] table in engage.toml, so there is no mailbox to fetch "
        "replies from. Add one with the host and user of the shared mailbox (see "
        "docs/configuration.md).\n"
    )


def test_without_any_source_fetch_says_so(project) -> None:
    result = project.run("replies", "fetch")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "Error: There is nowhere to fetch replies from: engage.toml has no [replies.imap] table "
        "and no [social.*] channels. Email replies sent to a provider arrive by its webhook.\n"
    )


def test_fetch_alone_fetches_every_source_and_reports_each(project, mailbox) -> None:
    mailbox.append(mail(1))
    project.write(
        "engage.toml", project.read("engage.toml") + '\n[social.team]\nnetwork = "outbox"\n'
    )
    result = project.run("replies", "fetch")
    assert (result.exit_code, result.output) == (
        0,
        f"{WHERE}: 1 new, 0 already here.\nteam: 0 new, 0 already here.\n",
    )
    # A source with a problem is reported; the others still run; engage exits 1.
    refused = project.run("replies", "fetch", env={"IMAP_PASSWORD": "not-it"})
    assert (refused.exit_code, refused.stdout) == (1, "team: 0 new, 0 already here.\n")
    assert refused.stderr.startswith("Problem: imap: The IMAP server refused the login")


# -- a connection that goes away ------------------------------------------------------------


def test_a_connection_dropped_half_way_keeps_what_was_taken(project, mailbox) -> None:
    for n in range(1, 6):
        mailbox.append(mail(n))
    proxy = CuttingProxy(mailbox.port, b"UID FETCH", nth=3)  # the server never sees the third
    use_imap(project, proxy.port)
    try:
        cut = project.run("replies", "fetch", "--imap")
    finally:
        proxy.stop()
    assert (cut.exit_code, cut.stdout) == (1, f"{WHERE}: 2 new, 0 already here.\n")
    assert cut.stderr == (
        "Problem: imap: The connection to the IMAP server at 127.0.0.1 was lost after 2 of 5 "
        "messages (the server closed it); those 2 are kept, run it again to fetch the rest.\n"
    )
    assert ids(project) == ["<reply-1@example.org>", "<reply-2@example.org>"]
    assert mailbox.flags() == {1: {TAKEN}, 2: {TAKEN}, 3: set(), 4: set(), 5: set()}

    use_imap(project, mailbox.port)
    rest = project.run("replies", "fetch", "--imap")
    assert (rest.exit_code, rest.output) == (0, f"{WHERE}: 3 new, 0 already here.\n")
    assert ids(project) == [f"<reply-{n}@example.org>" for n in range(1, 6)]
    assert mailbox.flags() == {n: {TAKEN} for n in range(1, 6)}


def test_a_connection_dropped_in_the_middle_of_a_message_loses_nothing(project, mailbox) -> None:
    for n in range(1, 4):
        mailbox.append(mail(n))
    proxy = CuttingProxy(mailbox.port, b"UID FETCH", nth=2, answer_bytes=120)
    use_imap(project, proxy.port)
    try:
        cut = project.run("replies", "fetch", "--imap")
    finally:
        proxy.stop()
    assert (cut.exit_code, cut.stdout) == (1, f"{WHERE}: 1 new, 0 already here.\n")
    assert "was lost after 1 of 3 messages" in cut.stderr
    assert ids(project) == ["<reply-1@example.org>"]

    use_imap(project, mailbox.port)
    rest = project.run("replies", "fetch", "--imap")
    assert (rest.exit_code, rest.output) == (0, f"{WHERE}: 2 new, 0 already here.\n")
    assert ids(project) == [f"<reply-{n}@example.org>" for n in range(1, 4)]


def test_a_connection_dropped_after_storing_but_before_marking(project, mailbox) -> None:
    for n in range(1, 5):
        mailbox.append(mail(n))
    proxy = CuttingProxy(mailbox.port, b"UID STORE", nth=3)  # the third is stored, not marked
    use_imap(project, proxy.port)
    try:
        cut = project.run("replies", "fetch", "--imap")
    finally:
        proxy.stop()
    assert (cut.exit_code, cut.stdout) == (1, f"{WHERE}: 3 new, 0 already here.\n")
    assert "was lost after 3 of 4 messages (the server closed it); those 3 are kept" in cut.stderr
    assert mailbox.flags() == {1: {TAKEN}, 2: {TAKEN}, 3: set(), 4: set()}

    use_imap(project, mailbox.port)
    rest = project.run("replies", "fetch", "--imap")
    assert (rest.exit_code, rest.output) == (0, f"{WHERE}: 1 new, 1 already here.\n")
    assert ids(project) == [f"<reply-{n}@example.org>" for n in range(1, 5)]
    assert mailbox.flags() == {n: {TAKEN} for n in range(1, 5)}


# -- odd mail -------------------------------------------------------------------------------


def big_attachment() -> bytes:
    message = EmailMessage()
    message["From"] = "Sam <sam@example.org>"
    message["To"] = USER
    message["Subject"] = "Photos from Saturday"
    message["Message-ID"] = "<photos@example.org>"
    message.set_content("Here are the photos.\n")
    message.add_attachment(
        b"\x00" * (30 * 1024 * 1024), maintype="application", subtype="zip", filename="photos.zip"
    )
    return message.as_bytes()


def no_text() -> bytes:
    message = EmailMessage()
    message["From"] = "Ann <ann@example.org>"
    message["To"] = USER
    message["Subject"] = "My form"
    message["Message-ID"] = "<form@example.org>"
    message.add_attachment(b"%PDF-1.4\n", maintype="application", subtype="pdf", filename="f.pdf")
    return message.as_bytes()


UNKNOWN_CHARSET = (
    b"From: Kim <kim@example.org>\r\nTo: replies@example.org\r\nSubject: Hello\r\n"
    b"Message-ID: <charset@example.org>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=x-made-up\r\n\r\nCount me in!\r\n"
)

CUT_SHORT = (
    b"From: Lee <lee@example.org>\r\nTo: replies@example.org\r\nSubject: Cut\r\n"
    b"Message-ID: <cut@example.org>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
    b"--XX\r\nContent-Type: text/plain\r\n\r\nI wanted to say\r\n"
)

NOT_A_MAIL = b"\x00\x01\x02 this is not a mail at all \xff\r\n"


def test_odd_mails_are_stored_with_notes_and_the_fetch_goes_on(project, mailbox) -> None:
    for raw in (big_attachment(), no_text(), UNKNOWN_CHARSET, CUT_SHORT, NOT_A_MAIL, mail(9)):
        mailbox.append(raw)
    result = project.run("replies", "fetch", "--imap")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"{WHERE}: 5 new, 0 already here, 1 refused.\n"
        "  UID 1, reply 1: The attachment photos.zip (30.0 MB) is bigger than the 25.0 MB engage "
        "keeps, so it was set aside; the words are kept. It is still in the mailbox or the "
        "saved file.\n"
        "  UID 2, reply 2: The mail has no text in it (only attachments, or nothing).\n"
        "  UID 3, reply 3: The message said it was in 'x-made-up', which is not a character set "
        "we know; it was read as UTF-8.\n"
        "  UID 4, reply 4: The mail seems cut short (a part has no end marker); what arrived is "
        "kept.\n"
        "  UID 5: not a mail, so engage did not take it: It has no From, Date, Subject or "
        "Message-ID header, so it does not look like a mail. Save the message from your mail "
        "program as an .eml file and try again. It stays in the mailbox, marked $EngageTaken so "
        "it is not read again.\n"
    )
    assert ids(project) == [
        "<photos@example.org>",
        "<form@example.org>",
        "<charset@example.org>",
        "<cut@example.org>",
        "<reply-9@example.org>",
    ]
    assert mailbox.flags() == {n: {TAKEN} for n in range(1, 7)}
    again = project.run("replies", "fetch", "--imap")
    assert again.output == f"{WHERE}: 0 new, 0 already here.\n"


def test_a_fault_in_engage_leaves_the_message_for_next_time(project, mailbox, monkeypatch) -> None:
    from engage.replies import inbox

    real_parse = inbox.parse

    def parse(raw: bytes, provider: str):  # noqa: ANN202
        if b"reply 2" in raw:
            raise ValueError("something engage did not expect")
        return real_parse(raw, provider)

    for n in (1, 2, 3):
        mailbox.append(mail(n))
    monkeypatch.setattr(inbox, "parse", parse)
    result = project.run("replies", "fetch", "--imap")
    assert result.exit_code == 1
    assert result.stdout == (
        f"{WHERE}: 2 new, 0 already here, 1 failed.\n"
        "  UID 2: engage could not read it (ValueError: something engage did not expect); it "
        "stays unmarked, so the next fetch tries again.\n"
    )
    assert result.stderr == (
        "Problem: imap: 1 message could not be read because of a fault in engage; they stay "
        "unmarked, so the next fetch tries them again. Please report it.\n"
    )
    assert mailbox.flags() == {1: {TAKEN}, 2: set(), 3: {TAKEN}}

    monkeypatch.setattr(inbox, "parse", real_parse)
    fixed = project.run("replies", "fetch", "--imap")
    assert fixed.output == f"{WHERE}: 1 new, 0 already here.\n"
    assert ids(project) == [f"<reply-{n}@example.org>" for n in (1, 3, 2)]


CHECKED = (
    "  This folder does not keep engage's mark ($EngageTaken), so engage compared each "
    "message's Message-ID with the replies it has, and read only the others.\n"
)
REFUSED_EACH_TIME = (
    "  UID 3: not a mail, so engage did not take it: It has no From, Date, Subject or "
    "Message-ID header, so it does not look like a mail. Save the message from your mail "
    "program as an .eml file and try again. It stays in the mailbox, and is reported each "
    "time, as engage cannot mark it.\n"
)


@pytest.mark.parametrize(
    "server", [{"keywords": False}, {"read_only": True}], ids=["no-keywords", "read-only"]
)
def test_where_engage_cannot_mark_messages_it_checks_message_ids(project, monkeypatch, server):
    fake = FakeImapServer(**server)  # Microsoft Exchange keeps no keywords
    try:
        fake.append(mail(1))
        fake.append(mail(2), flags="\\Seen")
        fake.append(NOT_A_MAIL)
        monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
        monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
        use_imap(project, fake.port)
        first = project.run("replies", "fetch", "--imap")
        assert (first.exit_code, first.stderr) == (0, "")
        assert first.stdout == (
            f"{WHERE}: 2 new, 0 already here, 1 refused.\n" + CHECKED + REFUSED_EACH_TIME
        )
        fake.append(mail(4))
        second = project.run("replies", "fetch", "--imap")
        assert second.stdout == (
            f"{WHERE}: 1 new, 0 already here, 1 refused.\n" + CHECKED + REFUSED_EACH_TIME
        )
        assert fake.flags() == {1: set(), 2: {"\\Seen"}, 3: set(), 4: set()}
    finally:
        fake.stop()
    assert ids(project) == [f"<reply-{n}@example.org>" for n in (1, 2, 4)]


def test_the_message_id_check_reads_the_real_servers_answers(project, mailbox, monkeypatch) -> None:
    from engage.replies import imap

    opened = imap._select
    monkeypatch.setattr(imap, "_select", lambda *args: opened(*args) and False)
    mailbox.append(mail(1))
    mailbox.append(b"From: x@example.org\r\nSubject: no Message-ID\r\n\r\nHi\r\n")
    first = project.run("replies", "fetch", "--imap")
    assert first.output == f"{WHERE}: 2 new, 0 already here.\n" + CHECKED
    mailbox.append(mail(3))
    # The one without a Message-ID is read again each time, and found already here.
    second = project.run("replies", "fetch", "--imap")
    assert second.output == f"{WHERE}: 1 new, 1 already here.\n" + CHECKED
    assert len(stored(project)) == 3
    assert mailbox.flags() == {1: set(), 2: set(), 3: set()}


def test_engage_run_fetches_from_the_mailbox(project, mailbox) -> None:
    for campaign in (project.root / "campaigns").glob("*.md"):
        campaign.unlink()  # only the replies are due
    mailbox.append(mail(1))
    mailbox.append(mail(2))
    first = project.run("run")
    assert first.exit_code == 0, first.output
    assert first.output == (
        "engage run: 0 campaign(s) worked on, 0 message(s) handed over; 2 new replies.\n"
    )
    assert ids(project) == ["<reply-1@example.org>", "<reply-2@example.org>"]
    assert project.run("run").output == "engage run: nothing was due.\n"


def test_engage_run_reports_a_mailbox_that_refuses_it(project, mailbox, monkeypatch) -> None:
    for campaign in (project.root / "campaigns").glob("*.md"):
        campaign.unlink()
    monkeypatch.setenv("IMAP_PASSWORD", "wrong")
    result = project.run("run")
    assert result.exit_code == 1
    assert result.output.startswith(
        "engage run: 0 campaign(s) worked on, 0 message(s) handed over; 1 problem(s): "
        "replies from imap: The IMAP server refused the login"
    )
