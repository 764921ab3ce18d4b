"""The console's replies pages through the Flask client: the inbox and its filters, a reply's
page, assign, done and answer (each noted in the audit log with who did it), the forms'
refusals; the answer sent once through the outbox provider, threaded, never to a person who
asked us to stop, and on the person's timeline; and `engage replies answer` at the command
line."""

from __future__ import annotations

import email
import email.policy
import email.utils
import html
import re
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from engage.contacts import life
from engage.replies import listing
from engage.store.schema import audit_log, inbound, outgoing
from engage.team import members
from engage.workflow.own_emails import send_own_emails

from .console import ROLES, member_of, signed_in

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)

CALL = "share-your-story"
PEOPLE = (
    "email,name,first_name,tags,format\n"
    "amira@example.org,Amira Hassan,Amira,contributor,html\n"
    "cat@example.org,Cat Evans,Cat,contributor,plain\n"
)
QUOTE = "We would love to hear your story"


def reply(to_us: EmailMessage | None, sender: str, text: str, message_id: str, **kw) -> bytes:
    """A reply as a mail program writes it: threaded to our mail, quoting it."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = str(to_us["Reply-To"]) if to_us is not None else "news@example.org"
    mail["Subject"] = kw.get("subject") or "Re: " + str(to_us["Subject"])
    mail["Date"] = "Mon, 30 Nov 2026 10:02:00 +0000"
    mail["Message-ID"] = message_id
    if to_us is not None:
        mail["In-Reply-To"] = str(to_us["Message-ID"])
        mail["References"] = str(to_us["Message-ID"])
    mail.set_content(
        f"{text}\n\nOn Tue, 24 Nov 2026 at 10:00, Get Yourself Active <news@example.org> wrote:\n"
        f"> {QUOTE}\n> Tell us about sport or being active.\n"
    )
    return bytes(mail)


@pytest.fixture
def inbox(console_app):
    """The call for stories sent to Amira and Cat; then three replies: 1, Amira's question;
    2, Cat asks to stop (she is unsubscribed); 3, a stranger's question (no campaign)."""
    app, project = console_app, console_app.project
    assert (
        project.run("contacts", "import", str(project.write("people.csv", PEOPLE))).exit_code == 0
    )
    sent = project.run("send", CALL, "--yes", "--now")
    assert sent.exit_code == 0, sent.output
    mails = {}
    for eml in (project.root / "outbox" / CALL).glob("*.eml"):
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        mails[email.utils.parseaddr(message["To"])[1]] = message
    raws = [
        reply(
            mails["amira@example.org"],
            "Amira Hassan <amira@example.org>",
            "Is there a word limit?",
            "<question-1@mail.example.net>",
        ),
        reply(
            mails["cat@example.org"],
            "Cat Evans <cat@example.org>",
            "Please unsubscribe me.",
            "<stop-1@mail.example.net>",
        ),
        reply(
            None,
            "Eve Stone <eve@example.net>",
            "How do I join your club?",
            "<stranger-1@mail.example.net>",
            subject="Joining",
        ),
    ]
    files = []
    for number, raw in enumerate(raws, 1):
        path = project.root / "saved" / f"{number}.eml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(raw)
        files.append(str(path))
    imported = project.run("replies", "import", *files)
    assert imported.exit_code == 0, imported.output
    return app, project, mails["amira@example.org"]


def db(app):
    return app.extensions["engage"]["store"]


def deliver(app):
    engage = app.extensions["engage"]
    return send_own_emails(engage["store"], engage["workspace"], engage["signer"])


def answers_sent(project) -> list[EmailMessage]:
    folder = project.root / "outbox" / "system" / "answer"
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def replies_row(app, reply_id: int):
    with db(app).connect() as connection:
        return connection.execute(
            sa.select(inbound.c.status, inbound.c.owner).where(inbound.c.id == reply_id)
        ).one()


def audit_rows(app) -> list[tuple]:
    with db(app).connect() as connection:
        return [
            tuple(r)
            for r in connection.execute(
                sa.select(
                    audit_log.c.actor, audit_log.c.action, audit_log.c.subject, audit_log.c.detail
                )
                .where(audit_log.c.action.like("reply %"))
                .order_by(audit_log.c.id)
            )
        ]


def outgoing_rows(app) -> list[tuple]:
    with db(app).connect() as connection:
        return [
            tuple(r)
            for r in connection.execute(
                sa.select(outgoing.c.kind, outgoing.c.address, outgoing.c.state)
                .where(outgoing.c.kind == "answer")
                .order_by(outgoing.c.id)
            )
        ]


def text(answer) -> str:
    return html.unescape(answer.get_data(True))


def ids_listed(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/console/replies/(\d+)"', page)]


# --- the inbox ----------------------------------------------------------------------------------


def test_the_inbox_and_its_filters(inbox) -> None:
    app, _, _ = inbox
    client = signed_in(app, "editor")
    with db(app).begin() as connection:
        listing.assign(connection, 3, "editor@example.org", "test")
    page = client.get("/console/replies")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    body = text(page)
    assert "<h1>Replies</h1>" in body and "3 replies" in body
    assert ids_listed(body) == [1, 2, 3]  # to do: new and assigned, oldest first
    assert "Is there a word limit?" in body and "Eve Stone" in body and "Editor" in body
    cases = {
        "?show=new": [1, 2],
        "?show=mine": [3],
        "?show=done": [],
        "?show=all": [1, 2, 3],
        "?show=all&kind=question": [1, 3],
        "?show=all&kind=unsubscribe": [2],
        f"?show=all&campaign={CALL}": [1, 2],
        f"?show=new&kind=question&campaign={CALL}": [1],
    }
    for query, wanted in cases.items():
        found = client.get("/console/replies" + query)
        assert found.status_code == 200, query
        assert ids_listed(text(found)) == wanted, query
    assert "No replies match." in text(client.get("/console/replies?show=done"))
    assert f'<option value="{CALL}" selected>' in text(
        client.get(f"/console/replies?campaign={CALL}")
    )
    for query, said in (
        ("?kind=nonsense", "'nonsense' is not a kind of reply."),
        ("?show=everything", "'everything' is not one of the choices of what to show."),
        ("?campaign=no-such", "No replies answer a campaign called 'no-such'."),
    ):
        wrong = client.get("/console/replies" + query)
        assert wrong.status_code == 400 and said in text(wrong), query


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_and_works_the_inbox(inbox, role) -> None:
    app, _, _ = inbox
    client = signed_in(app, role)
    assert client.get("/console/replies").status_code == 200
    assert client.get("/console/replies/1").status_code == 200
    done = client.post("/console/replies/1/done", data={"csrf": client.csrf})
    assert done.status_code == 200 and "Reply 1 is marked as done." in text(done)


def test_not_signed_in_is_sent_to_sign_in_and_changes_nothing(inbox) -> None:
    app, _, _ = inbox
    client = app.test_client()
    page = client.get("/console/replies/1")
    assert page.status_code == 302
    assert page.headers["Location"] == "/console/sign-in?next=/console/replies/1"
    for action, data in (
        ("done", {}),
        ("assign", {"owner": "x@example.org"}),
        ("answer", {"answer": "Hi"}),
    ):
        sent = client.post(f"/console/replies/1/{action}", data=data)
        assert sent.status_code == 303 and sent.headers["Location"] == "/console/sign-in"
    assert tuple(replies_row(app, 1)) == ("new", "")
    assert outgoing_rows(app) == [] and audit_rows(app) == []


# --- a reply's page ------------------------------------------------------------------------------


def test_a_reply_shows_their_words_first_and_folds_the_quote_away(inbox) -> None:
    app, _, _ = inbox
    member_of(app, "admin", "sam@example.org", "Sam Jones")
    client = signed_in(app, "editor")
    page = client.get("/console/replies/1")
    assert page.status_code == 200
    body = text(page)
    assert "<h1>Reply 1 from Amira Hassan</h1>" in body
    words = body.index('<div class="words">Is there a word limit?</div>')
    fold = body.index("<details>\n  <summary>The text they quoted from us</summary>")
    assert words < fold < body.index(f"> {QUOTE}") < body.index("</details>")
    facts = re.sub(r"\s+", " ", body[body.index('<dl class="facts">') : body.index("</dl>")])
    for fact in (
        "<dt>From</dt><dd>Amira Hassan <amira@example.org></dd>",
        f"<dt>Campaign</dt><dd>{CALL}</dd>",
        f"<dt>Subject</dt><dd>Re: {QUOTE}</dd>",
        "<dt>Kind</dt><dd>question</dd>",
        "<dt>Status</dt><dd>new</dd>",
        "<dt>With</dt><dd>nobody yet</dd>",
    ):
        assert fact in facts
    # The team to choose from, the signed-in member chosen first.
    assert '<option value="editor@example.org" selected>Editor (you)</option>' in body
    assert '<option value="sam@example.org">Sam Jones</option>' in body
    assert f"with the subject “Re: {QUOTE}”" in body
    missing = client.get("/console/replies/99")
    assert missing.status_code == 404 and "There is no reply 99." in text(missing)


# --- assign and done ------------------------------------------------------------------------------


def test_an_editor_assigns_and_marks_done_and_the_log_says_so(inbox) -> None:
    app, _, _ = inbox
    sam = member_of(app, "sender", "sam@example.org", "Sam Jones")
    client = signed_in(app, "editor")
    given = client.post("/console/replies/1/assign", data={"csrf": client.csrf, "owner": sam.email})
    assert given.status_code == 200 and "Reply 1 is now with Sam Jones." in text(given)
    assert tuple(replies_row(app, 1)) == ("assigned", "sam@example.org")
    mine = client.post(
        "/console/replies/3/assign", data={"csrf": client.csrf, "owner": "EDITOR@example.org"}
    )
    assert mine.status_code == 200 and "Reply 3 is now with you." in text(mine)
    assert "With</dt><dd>Sam Jones" in text(client.get("/console/replies/1"))
    done = client.post("/console/replies/1/done", data={"csrf": client.csrf})
    assert done.status_code == 200 and "Reply 1 is marked as done." in text(done)
    assert tuple(replies_row(app, 1)) == ("done", "sam@example.org")
    assert audit_rows(app) == [
        ("editor@example.org", "reply assigned", "reply 1", "to Sam Jones (sam@example.org)"),
        ("editor@example.org", "reply assigned", "reply 3", "to Editor (editor@example.org)"),
        ("editor@example.org", "reply marked done", "reply 1", ""),
    ]
    # The command line names the same members, and its actions are logged alike.
    said = app.project.run("replies", "assign", "2", "sam jones")
    assert (
        said.exit_code == 0 and said.output == "Reply 2 is now with Sam Jones (sam@example.org).\n"
    )
    assert app.project.run("replies", "done", "2").output == "Reply 2 is done.\n"
    assert audit_rows(app)[-2:] == [
        (
            "command line (test-runner)",
            "reply assigned",
            "reply 2",
            "to Sam Jones (sam@example.org)",
        ),
        ("command line (test-runner)", "reply marked done", "reply 2", ""),
    ]


def test_refusals_change_nothing(inbox) -> None:
    app, _, _ = inbox
    client = signed_in(app, "editor")
    member_of(app, "admin", "sam@example.org", "Sam Jones")
    for action, data in (
        ("done", {}),
        ("assign", {"owner": "sam@example.org"}),
        ("answer", {"answer": "Hello"}),
    ):
        unsigned = client.post(f"/console/replies/1/{action}", data=data)
        assert unsigned.status_code == 400, action
        assert "This form has expired" in text(unsigned)
        forged = client.post(f"/console/replies/1/{action}", data={**data, "csrf": "forged"})
        assert forged.status_code == 400, action
    stranger = client.post(
        "/console/replies/1/assign", data={"csrf": client.csrf, "owner": "someone@example.net"}
    )
    assert stranger.status_code == 400 and "Choose someone on the team" in text(stranger)
    for action, data in (
        ("done", {}),
        ("assign", {"owner": "sam@example.org"}),
        ("answer", {"answer": "Hi"}),
    ):
        missing = client.post(f"/console/replies/99/{action}", data={**data, "csrf": client.csrf})
        assert missing.status_code == 404 and "There is no reply 99." in text(missing), action
    assert tuple(replies_row(app, 1)) == ("new", "")
    assert outgoing_rows(app) == [] and audit_rows(app) == []


# --- answering -------------------------------------------------------------------------------------


ANSWER = "Hello Amira,\n\nNo, there is no word limit. Write as much or as little as you like.\n\nJo"


def test_an_answer_goes_out_once_threaded_and_joins_the_timeline(inbox) -> None:
    app, project, ours = inbox
    client = signed_in(app, "editor")
    sent = client.post(
        "/console/replies/1/answer", data={"csrf": client.csrf, "answer": ANSWER, "done": "yes"}
    )
    assert sent.status_code == 200
    body = text(sent)
    assert "Your answer is on its way" in body
    assert f"It goes to amira@example.org, with the subject “Re: {QUOTE}”." in body
    assert outgoing_rows(app) == [("answer", "amira@example.org", "waiting")]
    assert answers_sent(project) == []  # the page only queued it
    twice = client.post(  # the form sent again (a double click): still one answer
        "/console/replies/1/answer", data={"csrf": client.csrf, "answer": ANSWER, "done": "yes"}
    )
    assert twice.status_code == 200 and "Your answer is on its way" in text(twice)
    assert outgoing_rows(app) == [("answer", "amira@example.org", "waiting")]
    assert (
        "answer to reply 1 waiting to be sent"
        in project.run("contacts", "show", "amira@example.org").output
    )

    first, again = deliver(app), deliver(app)  # the worker runs twice: it goes once
    assert (first.sent, again.sent) == (1, 0)
    [answer] = answers_sent(project)
    assert answer["To"] == "Amira Hassan <amira@example.org>"
    assert answer["From"] == "Get Yourself Active <news@example.org>"
    assert answer["Subject"] == f"Re: {QUOTE}"
    assert answer["In-Reply-To"] == "<question-1@mail.example.net>"
    assert answer["References"] == f"{ours['Message-ID']} <question-1@mail.example.net>"
    assert answer["Message-ID"].startswith("<answer.") and answer["Message-ID"].endswith(
        "@example.org>"
    )
    assert answer.get_body(("plain",)).get_content().replace("\r\n", "\n") == ANSWER + "\n"
    assert "<p>No, there is no word limit." in answer.get_body(("html",)).get_content()
    assert outgoing_rows(app) == [("answer", "amira@example.org", "sent")]

    assert tuple(replies_row(app, 1)) == ("done", "")
    assert audit_rows(app) == [
        ("editor@example.org", "reply answered", "reply 1", "to amira@example.org"),
        ("editor@example.org", "reply marked done", "reply 1", ""),
    ]
    page = text(client.get("/console/replies/1"))
    assert "<h2>Our answers</h2>" in page
    assert "by editor@example.org: <strong>sent</strong> at 2026-12-01 09:00 UTC" in page
    assert "No, there is no word limit." in page
    shown = project.run("contacts", "show", "amira@example.org")
    assert shown.exit_code == 0
    assert (
        "  2026-12-01 09:00 UTC  answer to reply 1 sent: by editor@example.org: Hello Amira, No, "
        "there is no word limit. Write as much or as little as you like. Jo"
    ) in shown.output.splitlines()
    assert "Answered: 2026-12-01 09:00 UTC by editor@example.org, sent: Hello Amira, No, " in (
        project.run("replies", "show", "1").output
    )
    # Erasing the person erases the answer: its row, and the email in the outbox.
    erased = project.run("contacts", "erase", "amira@example.org", "--yes")
    assert erased.exit_code == 0, erased.output
    assert outgoing_rows(app) == [] and answers_sent(project) == []


def test_no_answer_to_a_person_who_asked_us_to_stop(inbox) -> None:
    app, project, _ = inbox
    client = signed_in(app, "editor")
    page = text(client.get("/console/replies/2"))  # Cat asked to stop: she is unsubscribed
    assert (
        "You cannot answer this reply by email. cat@example.org has unsubscribed, so engage "
        "does not email them."
    ) in page
    assert "<textarea" not in page
    refused = client.post("/console/replies/2/answer", data={"csrf": client.csrf, "answer": "Hi"})
    assert refused.status_code == 409
    assert "Not sent: cat@example.org has unsubscribed" in text(refused)
    assert outgoing_rows(app) == [] and audit_rows(app) == []

    # Eve may be answered; she is suppressed before the worker sends it: it never goes.
    queued = client.post("/console/replies/3/answer", data={"csrf": client.csrf, "answer": "Hi"})
    assert queued.status_code == 200
    with db(app).begin() as connection:
        life.suppress(connection, "eve@example.net", "complained", "test")
    drained = deliver(app)
    assert drained.sent == 0 and answers_sent(project) == []
    assert drained.problems == [
        "The answer to reply 3 to eve@example.net was not sent: not sent: eve@example.net is on "
        "the suppression list (complained on 2026-12-01), so engage does not email it."
    ]
    assert outgoing_rows(app) == [("answer", "eve@example.net", "failed")]
    assert "answer to reply 3 not sent (not sent: eve@example.net is on the suppression list" in (
        project.run("contacts", "show", "eve@example.net").output
    )
    later = text(client.get("/console/replies/3"))
    assert (
        "You cannot answer this reply by email. eve@example.net is on the suppression list" in later
    )


def test_an_empty_answer_is_refused_and_kept_nothing(inbox) -> None:
    app, _, _ = inbox
    client = signed_in(app, "editor")
    empty = client.post("/console/replies/1/answer", data={"csrf": client.csrf, "answer": " \n "})
    assert empty.status_code == 400
    body = text(empty)
    assert "<title>Error: Reply 1 from Amira Hassan" in body
    assert "Your answer was not sent" in body
    assert 'aria-invalid="true"' in body
    assert "The answer is empty. Write what you want to say, then send it." in body
    long = client.post(
        "/console/replies/1/answer", data={"csrf": client.csrf, "answer": "a" * 20_001}
    )
    assert long.status_code == 400
    assert "The answer is 20,001 characters long; 20,000 is the most." in text(long)
    assert outgoing_rows(app) == [] and audit_rows(app) == []


# --- the command line --------------------------------------------------------------------------------


def test_engage_replies_answer(inbox) -> None:
    app, project, _ = inbox
    path = project.write("answer.txt", ANSWER)
    done = project.run("replies", "answer", "1", "--file", str(path))
    assert done.exit_code == 0, done.output
    assert done.output == (f"The answer to reply 1 (Re: {QUOTE}) to amira@example.org was sent.\n")
    again = project.run("run")  # engage run sends engage's own emails: not this one again
    assert again.exit_code == 0, again.output
    assert len(answers_sent(project)) == 1
    by_stdin = project.run("replies", "answer", "3", "--done", input="Welcome, Eve!\n")
    assert by_stdin.exit_code == 0, by_stdin.output
    assert by_stdin.output == (
        "The answer to reply 3 (Re: Joining) to eve@example.net was sent.\nReply 3 is done.\n"
    )
    assert [m["To"] for m in answers_sent(project)] == [
        "Amira Hassan <amira@example.org>",
        "Eve Stone <eve@example.net>",
    ]
    assert tuple(replies_row(app, 3)) == ("done", "")
    actor = "command line (test-runner)"
    assert audit_rows(app) == [
        (actor, "reply answered", "reply 1", "to amira@example.org"),
        (actor, "reply answered", "reply 3", "to eve@example.net"),
        (actor, "reply marked done", "reply 3", ""),
    ]
    for args, kw, said in (
        (
            ("99", "--file", str(path)),
            {},
            "Error: There is no reply 99. See the replies with: engage replies list\n",
        ),
        (
            ("1",),
            {"input": "  \n"},
            "Error: The answer is empty. Write what you want to say, then send it.\n",
        ),
        (
            ("2", "--file", str(path)),
            {},
            "Error: Not sent: cat@example.org has unsubscribed, so engage does not email them.\n",
        ),
    ):
        refused = project.run("replies", "answer", *args, **kw)
        assert (refused.exit_code, refused.output) == (1, said), args
    bad = project.run("replies", "answer", "one")
    assert bad.exit_code == 2 and "'one' is not a valid integer" in bad.output
    assert len(answers_sent(project)) == 2
    with db(app).connect() as connection:
        assert members.listing(connection) == []  # the command line needs no console account
