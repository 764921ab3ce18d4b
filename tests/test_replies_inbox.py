"""The replies inbox from the team's side: a call for stories goes out, people answer in many
ways, `engage replies import` takes the saved mails in, and list/show/assign/done work them."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from engage.models import InboundMessage
from engage.replies.inbox import for_workspace
from engage.store import open_store
from engage.store.schema import contacts, inbound, suppressions

KEY = "test-secret-key"
CALL = "share-your-story"
PEOPLE = (
    "email,name,first_name,tags,format\n"
    "amira@example.org,Amira Hassan,Amira,contributor,html\n"
    "ben@example.org,Ben Okafor,Ben,contributor,large-print\n"
    "cat@example.org,Cat Evans,Cat,contributor,plain\n"
    "dev@example.org,Dev Patel,Dev,contributor,html\n"
)
STORY = (
    "Hello team,\n\n"
    "I started playing wheelchair basketball last spring. I was nervous at first, but the "
    "coach made me feel welcome from the very first session. Now I train twice a week and "
    "I have made good friends. I would love to share my story.\n\n"
    "Amira"
)


@pytest.fixture
def sent(project, monkeypatch, db_url):
    """The call for stories, sent to four contributors through the outbox, on SQLite and (when
    it answers) PostgreSQL."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    result = project.run("send", CALL, "--yes", "--now")
    assert result.exit_code == 0, result.output
    mails = {}
    for eml in sorted((project.root / "outbox" / CALL).glob("*.eml")):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        mails[email.utils.parseaddr(message["To"])[1]] = message
    assert sorted(mails) == [
        "amira@example.org",
        "ben@example.org",
        "cat@example.org",
        "dev@example.org",
    ]
    return project, mails


def reply(
    to_us: EmailMessage,
    sender: str,
    text: str,
    *,
    to: str | None = None,
    message_id: str,
    threaded: bool = True,
    subject: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A reply as a mail program would write it: to our Reply-To, quoting what we sent."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to or str(to_us["Reply-To"])
    mail["Subject"] = subject if subject is not None else "Re: " + str(to_us["Subject"])
    mail["Date"] = "Thu, 26 Nov 2026 10:02:00 +0000"
    mail["Message-ID"] = message_id
    if threaded:
        mail["In-Reply-To"] = str(to_us["Message-ID"])
        mail["References"] = str(to_us["Message-ID"])
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(
        f"{text}\n\nOn Tue, 24 Nov 2026 at 10:00, Get Yourself Active <news@example.org> wrote:\n"
        "> We would love to hear your story\n> Tell us about sport or being active.\n"
    )
    return bytes(mail)


def save(project, name: str, raw: bytes):
    path = project.root / "saved" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    return path


def rows(project, *columns: str) -> list[tuple]:
    store = open_store(project.workspace)
    with store.connect() as connection:
        found = connection.execute(
            sa.select(*(inbound.c[c] for c in columns)).order_by(inbound.c.id)
        ).all()
    store.engine.dispose()
    return [tuple(r) for r in found]


def test_replies_are_imported_matched_cleaned_and_sorted(sent) -> None:
    project, mails = sent
    files = [
        save(
            project,
            "1-story.eml",
            reply(
                mails["amira@example.org"],
                "Amira Hassan <amira@example.org>",
                STORY,
                message_id="<story-1@mail.example.net>",
            ),
        ),
        save(
            project,
            "2-away.eml",
            reply(
                mails["ben@example.org"],
                "Ben Okafor <ben@example.org>",
                "I am out of the office until Monday 30 November.",
                message_id="<away-1@mail.example.net>",
                subject="Automatic reply: We would love to hear your story",
                headers={"Auto-Submitted": "auto-replied"},
            ),
        ),
        save(
            project,
            "3-stop.eml",
            reply(
                mails["cat@example.org"],
                "Cat Evans <cat@example.org>",
                "Please unsubscribe me.",
                message_id="<stop-1@mail.example.net>",
            ),
        ),
        # Sent to our usual address, not the Reply-To: found by the thread headers.
        save(
            project,
            "4-question.eml",
            reply(
                mails["dev@example.org"],
                "Dev Patel <dev.patel@work.example.com>",
                "Can I send a photo with my story?",
                to="news@example.org",
                message_id="<question-1@mail.example.net>",
            ),
        ),
        # Somebody we have never written to.
        save(
            project,
            "5-stranger.eml",
            reply(
                mails["dev@example.org"],
                "Eve Stone <eve@example.net>",
                "My friend showed me your newsletter. How do I join?",
                to="news@example.org",
                message_id="<stranger-1@mail.example.net>",
                threaded=False,
                subject="Joining",
            ),
        ),
    ]
    result = project.run("replies", "import", *map(str, files))
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"{files[0]}: reply 1, story (matched by the reply address).\n"
        f"{files[1]}: reply 2, auto-reply (matched by the reply address).\n"
        f"{files[2]}: reply 3, unsubscribe (matched by the reply address).\n"
        "  Note: cat@example.org was unsubscribed, as this reply asked.\n"
        f"{files[3]}: reply 4, question (matched by the mail it answers).\n"
        f"{files[4]}: reply 5, question (a new person, added as pending).\n"
        "5 new, 0 already here.\n"
        "Opened story 1 and sent the thank-you email.\n"
    )

    # Taking the same files again adds nothing.
    again = project.run("replies", "import", str(files[0]), str(files[3]))
    assert again.exit_code == 0
    assert again.output == (
        f"{files[0]}: already here as reply 1.\n"
        f"{files[3]}: already here as reply 4.\n"
        "0 new, 2 already here.\n"
    )
    assert len(rows(project, "id")) == 5

    assert rows(project, "kind", "status", "campaign", "matched_by") == [
        ("story", "done", CALL, "reply-token"),  # story 1 carries it on
        ("auto-reply", "done", CALL, "reply-token"),
        ("unsubscribe", "new", CALL, "reply-token"),
        ("question", "new", CALL, "in-reply-to"),
        ("question", "new", None, "new-contact"),
    ]
    [(clean, quoted)] = rows(project, "clean_text", "quoted")[:1]
    assert clean == STORY
    assert quoted.startswith("On Tue, 24 Nov 2026 at 10:00, Get Yourself Active")

    store = open_store(project.workspace)
    with store.connect() as connection:
        people = dict(connection.execute(sa.select(contacts.c.email, contacts.c.status)).all())
        blocked = connection.execute(sa.select(suppressions.c.email)).scalars().all()
    store.engine.dispose()
    assert people == {
        "amira@example.org": "subscribed",
        "ben@example.org": "subscribed",  # an out-of-office changes nothing
        "cat@example.org": "unsubscribed",
        "dev@example.org": "subscribed",
        "eve@example.net": "pending",  # never added to any mailing
    }
    assert blocked == ["cat@example.org"]
    assert "eve@example.net" not in project.run("audiences", "show", "contributors").output

    # The report counts them: four of the replies answer the call, from four people.
    report = json.loads(project.run("report", CALL, "--format", "json").output)
    assert (report["sent"], report["unsubscribed"], report["replies_total"]) == (4, 1, 4)
    assert report["replies"] == {
        "story": 1,
        "question": 1,
        "unsubscribe": 1,
        "auto-reply": 1,
        "bounce": 0,
        "other": 0,
    }
    assert (report["replied"], report["reply_rate"]) == (3, 75.0)  # the out-of-office is not


def test_list_show_assign_and_done(sent) -> None:
    project, mails = sent
    story = save(
        project,
        "story.eml",
        reply(
            mails["amira@example.org"],
            "Amira Hassan <amira@example.org>",
            STORY,
            message_id="<story-2@mail.example.net>",
        ),
    )
    question = save(
        project,
        "question.eml",
        reply(
            mails["amira@example.org"],
            "Amira Hassan <amira@example.org>",
            "Is there a word limit?",
            message_id="<question-2@mail.example.net>",
        ),
    )
    assert project.run("replies", "import", str(story), str(question)).exit_code == 0

    listed = project.run("replies", "list")
    assert listed.exit_code == 0
    assert listed.output.splitlines() == [
        "ID  RECEIVED    KIND      STATUS  OWNER  FROM               CAMPAIGN          SAYS",
        f"1   {listed.output.splitlines()[1][4:14]}  story     done    -      amira@example.org  "
        "share-your-story  Hello team, I started playing wheelchair basketba…",
        f"2   {listed.output.splitlines()[2][4:14]}  question  new     -      amira@example.org  "
        "share-your-story  Is there a word limit?",
    ]
    assert project.run("replies", "list", "--kind", "bounce").output == "No replies match.\n"
    as_json = json.loads(
        project.run("replies", "list", "--kind", "question", "--format", "json").output
    )
    assert [(r["id"], r["kind"], r["contact"], r["campaign"], r["text"]) for r in as_json] == [
        (2, "question", "amira@example.org", CALL, "Is there a word limit?")
    ]

    shown = project.run("replies", "show", "1")
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert lines[:3] == [
        "Reply 1: story, done",
        "From:     Amira Hassan <amira@example.org> (matched by the reply address)",
        f"Campaign: {CALL}",
    ]
    assert lines[3].startswith("Received: ") and lines[3].endswith(" UTC by import")
    assert lines[4:] == [
        "Subject:  Re: We would love to hear your story",
        "Owner:    nobody yet",
        "Story:    1 (received): engage stories show 1",
        "",
        *STORY.splitlines(),
        "",
        "Set aside: quoted text. See it all with --original.",
        "Their other replies:",
        f"  2  {lines[3][10:20]}  question  new  Is there a word limit?",
    ]
    original = project.run("replies", "show", "1", "--original").output
    assert "Message-ID: <story-2@mail.example.net>" in original
    assert "> We would love to hear your story" in original

    assert project.run("replies", "assign", "1", "Priya").output == "Reply 1 is now with Priya.\n"
    assert project.run("replies", "done", "2").output == "Reply 2 is done.\n"
    assert [
        (r["id"], r["status"], r["owner"])
        for r in json.loads(project.run("replies", "list", "--format", "json").output)
    ] == [(1, "assigned", "Priya"), (2, "done", "")]
    assert (
        project.run("replies", "list", "--status", "assigned", "--format", "json").output.count(
            '"id"'
        )
        == 1
    )

    missing = project.run("replies", "show", "99")
    assert missing.exit_code == 1
    assert missing.output == (
        "Error: There is no reply 99. See the replies with: engage replies list\n"
    )
    assert project.run("replies", "assign", "1", "  ").output == (
        "Error: Give the name of the person who will deal with it.\n"
    )


def test_import_reports_files_that_are_not_mail_and_keeps_the_rest(sent) -> None:
    project, mails = sent
    good = save(
        project,
        "good.eml",
        reply(
            mails["ben@example.org"],
            "Ben Okafor <ben@example.org>",
            "Thank you, I will write something this weekend.",
            message_id="<good-1@mail.example.net>",
        ),
    )
    empty = save(project, "empty.eml", b"")
    photo = save(project, "photo.eml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    result = project.run("replies", "import", str(empty), str(good), str(photo))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Problem: {empty} is not a mail. It is empty.\n"
        f"Problem: {photo} is not a mail. It has no From, Date, Subject or Message-ID header, "
        "so it does not look like a mail. Save the message from your mail program as an .eml "
        "file and try again.\n"
    )
    assert result.stdout == (  # a promise to write is a yes to the call: a story opens
        f"{good}: reply 1, story (matched by the reply address).\n"
        "1 new, 0 already here, 2 not imported.\n"
        "Opened story 1 and sent the thank-you email.\n"
    )
    assert rows(project, "sender") == [("ben@example.org",)]

    missing = project.run("replies", "import", str(project.root / "nope.eml"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.output


def test_social_replies_find_people_by_handle(project, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    assert (
        project.run(
            "contacts", "add", "sam@example.org", "--name", "Sam Jones", "--consent", "Yes please"
        ).exit_code
        == 0
    )
    store = open_store(project.workspace)
    inbox = for_workspace(project.workspace)

    def mention(post_id: str, author: str, text: str) -> None:
        message = InboundMessage(
            provider="mastodon",
            sender=author,
            sender_name=author,
            recipient="",
            subject="",
            text=text,
            html="",
            message_id=post_id,
            in_reply_to="",
            references="",
            headers=[],
            raw={"network": "mastodon", "url": f"https://example.social/@sam/{post_id}"},
        )
        with store.begin() as connection:
            inbox.take(connection, message, network="mastodon")

    mention("1001", "Sam@example.social", "Can I join the walking group?")
    added = project.run("contacts", "handle", "sam@example.org", "mastodon", "@Sam@example.social")
    assert added.exit_code == 0, added.output
    assert added.output == (
        "sam@example.org is sam@example.social on mastodon. 1 earlier reply is now theirs.\n"
    )
    mention("1002", "sam@example.social", "I would love to tell my story.")
    mention("1002", "sam@example.social", "I would love to tell my story.")  # fetched twice
    assert rows(project, "message_id", "contact_id", "matched_by", "kind") == [
        ("1001", 1, "handle", "question"),
        ("1002", 1, "handle", "other"),
    ]
    store.engine.dispose()
    shown = project.run("contacts", "show", "sam@example.org").output
    assert "Handles:    sam@example.social (mastodon)" in shown

    taken = project.run("contacts", "add", "kim@example.org", "--consent", "Yes please")
    assert taken.exit_code == 0
    clash = project.run("contacts", "handle", "kim@example.org", "mastodon", "sam@example.social")
    assert clash.exit_code == 1
    assert clash.output == (
        "Error: mastodon handle sam@example.social already belongs to sam@example.org. Remove it "
        "there first: engage contacts handle sam@example.org mastodon sam@example.social --remove\n"
    )
    removed = project.run(
        "contacts", "handle", "sam@example.org", "mastodon", "sam@example.social", "--remove"
    )
    assert (
        removed.output == "Removed the mastodon handle sam@example.social from sam@example.org.\n"
    )


def test_a_header_naming_a_charset_in_raw_bytes_is_kept_as_it_came() -> None:
    from engage.replies.mime import parse

    parsed = parse(b"From: a@example.org\r\nSubject: =?\xe9?q?x?=\r\n\r\nhi\r\n", "import")
    assert parsed.message.subject == "=?\u00e9?q?x?="
    assert parsed.message.text == "hi\r\n"


def test_a_reply_to_a_welsh_post_counts_for_its_campaign(project, monkeypatch) -> None:
    """A translation's posts are kept as slug.cy (social/posting.py); a reply to one is a reply
    to the campaign, so the report and the replies filter count it there."""
    from engage.clock import now
    from engage.store.schema import posts

    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    store = open_store(project.workspace)
    with store.begin() as connection:
        for key, remote in (("share-your-story.cy", "2001"), ("share-your-story", "2002")):
            connection.execute(
                posts.insert().values(
                    campaign=key, channel="mastodon", part=0, status="posted", text="Hi",
                    remote_id=remote, updated_at=now(),
                )
            )  # fmt: skip
    inbox = for_workspace(project.workspace)
    for post_id, answer in (("3001", "2001"), ("3002", "2002")):
        message = InboundMessage(
            provider="mastodon",
            sender="sam@example.social",
            sender_name="Sam",
            recipient="",
            subject="",
            text="Mae gen i stori i'w rhannu.",
            html="",
            message_id=post_id,
            in_reply_to=answer,
            references="",
            headers=[],
            raw={"network": "mastodon", "url": f"https://example.social/@sam/{post_id}"},
        )
        with store.begin() as connection:
            inbox.take(connection, message, network="mastodon")
    store.engine.dispose()
    assert rows(project, "message_id", "campaign") == [
        ("3001", "share-your-story"),
        ("3002", "share-your-story"),
    ]
