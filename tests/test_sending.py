"""Sending: every message's headers and parts, exactly once, resuming, suppression at send
time, crashes, SMTP against a real server, and `engage run` with its lock."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
import time
from functools import partial

import pytest
import sqlalchemy as sa

from engage import campaigns
from engage import clock as engage_clock
from engage.errors import LintFailed
from engage.providers import provider_for
from engage.scheduler import Busy, run_lock
from engage.sending import Options, Sender
from engage.store import open_store
from engage.store.schema import contacts, deliveries, sends
from engage.tokens import Signer
from engage.workflow.lint import require_clean

from .smtp_sink import SmtpSink

SLUG = "doing-with-not-doing-to"
KEY = "test-secret-key"
PEOPLE = (
    "email,name,first_name,tags,format\n"
    "ann@example.org,Ann Lee,Ann,newsletter,html\n"
    "bo@example.org,Bo Diaz,Bo,newsletter,large-print\n"
    "cy@example.org,Cy Obi,Cy,newsletter,plain\n"
    "di@example.org,Di Roy,Di,staff,html\n"
)


# After both example campaigns' send_at (2026-12-03 and 2026-12-10), so sending them is not
# early. Tests that use the `clock` fixture start at CLOCK_START instead (before both).
AFTER = dt.datetime(2026, 12, 15, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _after_the_examples_send_at(request: pytest.FixtureRequest) -> None:
    if "clock" not in request.fixturenames:
        engage_clock.set(AFTER)


@pytest.fixture
def sending(project, monkeypatch):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    return project


def outbox(project, slug: str = SLUG) -> dict[str, email.message.EmailMessage]:
    folder = project.root / "outbox" / slug
    if not folder.exists():
        return {}
    found = {}
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        address = email.utils.parseaddr(message["To"])[1]
        assert address not in found, f"{address} got two messages"
        found[address] = message
    return found


def delivery_states(project) -> dict[str, str]:
    store = open_store(project.workspace)
    with store.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT contacts.email, deliveries.status FROM deliveries "
                "JOIN contacts ON contacts.id = deliveries.contact_id ORDER BY contacts.email"
            )
        ).all()
    store.engine.dispose()
    return dict(rows)


def test_send_to_the_outbox(sending) -> None:
    result = sending.run("send", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{SLUG}: 3 handed to outbox this time. Of 3: 3 sent, 0 failed, 0 skipped, "
        "0 unknown, 0 still to send.\n"
        f"{SLUG} is sent.\n"
    )
    sent = outbox(sending)
    assert sorted(sent) == ["ann@example.org", "bo@example.org", "cy@example.org"]
    ann = sent["ann@example.org"]
    assert ann["From"] == "Get Yourself Active <news@example.org>"
    assert ann["To"] == "Ann Lee <ann@example.org>"
    assert ann["Subject"] == "Doing with, not doing to: our winter news"
    assert ann["Date"]
    assert ann["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ann["List-Id"] == "Get Yourself Active <news.example.org>"
    https, mailto = re.fullmatch(r"<(.+)>, <(.+)>", ann["List-Unsubscribe"]).groups()
    assert https.startswith("http://127.0.0.1:8025/unsubscribe/")
    assert mailto.startswith("mailto:unsubscribe+") and mailto.endswith(
        "@replies.example.org?subject=unsubscribe"
    )
    signer = Signer(KEY)
    contact_id, send_id = signer.verify("u", https.rsplit("/", 1)[1])
    assert send_id == 1
    reply = ann["Reply-To"]
    assert re.fullmatch(r"reply\+[a-z0-9.]+@replies\.example\.org", reply)
    (delivery_id,) = signer.verify("r", reply[len("reply+") :].split("@")[0])
    assert ann["Message-ID"].startswith(f"<{SLUG}.{delivery_id}.")
    assert len({m["Message-ID"] for m in sent.values()}) == 3
    assert ann.get_content_type() == "multipart/alternative"
    text, html = (part.get_content().replace("\r\n", "\n") for part in ann.iter_parts())
    assert text.startswith("Hello Ann,\n") and https in text
    assert "Hello Ann," in html and "font-size:18px" in html
    big = [p.get_content() for p in sent["bo@example.org"].iter_parts()][1]
    assert "font-size:24px" in big
    cy = sent["cy@example.org"]
    assert cy.get_content_type() == "text/plain"
    assert cy.get_content().replace("\r\n", "\n").startswith("Hello Cy,\n")


def test_sending_again_sends_nobody_twice(sending) -> None:
    assert sending.run("send", SLUG, "--yes").exit_code == 0
    again = sending.run("send", SLUG, "--yes")
    assert again.exit_code == 0
    assert again.stdout.startswith(f"{SLUG}: 0 handed to outbox this time. Of 3: 3 sent")
    assert len(outbox(sending)) == 3


def test_limit_then_resume_and_suppression_at_send_time(sending) -> None:
    first = sending.run("send", SLUG, "--yes", "--limit", "1")
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        f"{SLUG}: 1 handed to outbox this time. Of 3: 1 sent, 0 failed, 0 skipped, "
        "0 unknown, 2 still to send.",
        f"{SLUG} is stopped, as --limit 1 asked: 1 of 3 went and 2 are still to send. Every "
        "answer that came was recorded, so nobody will get it twice. To send the rest, run "
        f"`engage send {SLUG} --resume` (add --limit again to send only a few more). "
        "`engage run` leaves it alone until then.",
    ]
    assert sorted(outbox(sending)) == ["ann@example.org"]
    assert sending.run("contacts", "unsubscribe", "bo@example.org").exit_code == 0
    second = sending.run("send", SLUG, "--yes", "--resume")
    assert second.stdout.splitlines()[0] == (
        f"{SLUG}: 1 handed to outbox this time. Of 3: 2 sent, 0 failed, 1 skipped (1 "
        "unsubscribed), 0 unknown, 0 still to send."
    )
    assert sorted(outbox(sending)) == ["ann@example.org", "cy@example.org"]
    assert delivery_states(sending) == {
        "ann@example.org": "sent",
        "bo@example.org": "suppressed",
        "cy@example.org": "sent",
    }


def _crash(project, status: str, email: str | None = None) -> None:
    """Leave rows as a sender killed mid-batch would: claimed or sending, by a dead process.
    The pending rows, or the row of `email` whatever its status."""
    store = open_store(project.workspace)
    with store.begin() as c:
        which = deliveries.c.status == "pending"
        if email:
            which = deliveries.c.contact_id.in_(
                sa.select(contacts.c.id).where(contacts.c.email == email)
            )
        c.execute(
            deliveries.update()
            .where(which)
            .values(
                status=status,
                owner=f"{os.uname().nodename}:999999:dead",
                claimed_at=dt.datetime.now(dt.UTC),
                batch="b",
            )
        )
    store.engine.dispose()


def test_claimed_rows_of_a_dead_sender_are_sent(sending) -> None:
    sending.run("send", SLUG, "--yes", "--limit", "1")
    _crash(sending, "claimed")
    result = sending.run("send", SLUG, "--yes", "--resume")
    assert result.exit_code == 0
    assert sorted(outbox(sending)) == ["ann@example.org", "bo@example.org", "cy@example.org"]


def test_unknown_outbox_rows_are_settled_from_the_files(sending) -> None:
    """engage died with two messages handed to the outbox: one file was written, one was not.
    The next send looks at the files: the written one is sent, the other goes now, once."""
    sending.run("send", SLUG, "--yes", "--limit", "2")
    assert sorted(outbox(sending)) == ["ann@example.org", "bo@example.org"]
    _crash(sending, "sending")  # cy: handed over, never written
    _crash(sending, "sending", email="bo@example.org")  # bo: written, never recorded
    result = sending.run("send", SLUG, "--yes", "--resume")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"{SLUG}: 1 handed to outbox this time. Of 3: 3 sent, 0 failed, 0 skipped, "
        "0 unknown, 0 still to send."
    )
    assert sorted(outbox(sending)) == ["ann@example.org", "bo@example.org", "cy@example.org"]


def test_smtp_unknown_rows_are_reported_not_resent_until_asked(sending, sink, monkeypatch) -> None:
    smtp_config(sending, sink.port)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw")
    sending.run("send", SLUG, "--yes", "--limit", "1")
    _crash(sending, "sending")
    result = sending.run("send", SLUG, "--yes", "--resume")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"{SLUG}: 0 handed to smtp this time. Of 3: 1 sent, 0 failed, 0 skipped, "
        "2 unknown, 0 still to send."
    )
    assert result.stderr == (
        "Problem: 2 message(s) may or may not have gone: engage handed them over and never "
        "learned the answer. smtp keeps no records engage can ask: check them by hand (the mail "
        f"server's log), then `engage send {SLUG} --resend-unknown` sends them again, a second "
        "copy to anyone who did get one.\n"
    )
    assert sorted(to for to, _ in sink.received) == ["ann@example.org"]
    check = sending.run("send", SLUG, "--reconcile")
    assert check.exit_code == 1
    assert check.stderr.startswith("Error: smtp keeps no records engage can ask")
    again = sending.run("send", SLUG, "--yes", "--resend-unknown")
    assert again.exit_code == 0
    assert sorted(to for to, _ in sink.received) == [
        "ann@example.org",
        "bo@example.org",
        "cy@example.org",
    ]


def test_lint_errors_block_the_send(sending) -> None:
    sending.replace(f"campaigns/{SLUG}.md", "[read the full walking group story]", "[click here]")
    result = sending.run("send", SLUG, "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {SLUG} has 1 lint error, so nothing was sent. campaigns/{SLUG}.md:31: The link "
        'text "click here" does not say where it goes '
        "(https://www.example.org/stories/walking-group). Fix: Use words that name the page, "
        'like "Read Sam\'s story".\n'
    )
    assert outbox(sending) == {}


def test_dry_run_and_test_copy_record_nothing(sending) -> None:
    dry = sending.run("send", SLUG, "--dry-run")
    assert dry.exit_code == 0
    assert dry.stdout == (
        f"Dry run: {SLUG} would go to 3 people now, and would skip nobody. Rendered 3 message(s); "
        "nothing was sent.\n"
    )
    test = sending.run("send", SLUG, "--test-to", "me@example.org")
    copies = list((sending.root / "outbox" / f"{SLUG}-test").glob("*.eml"))
    assert len(copies) == 1
    assert test.stdout == (
        f"Sent a test copy of {SLUG} to me@example.org through outbox.\n"
        f"It is the file {copies[0]}\n"
    )
    copy = email.message_from_bytes(copies[0].read_bytes(), policy=email.policy.default)
    assert copy["Subject"] == "[Test] Doing with, not doing to: our winter news"
    assert outbox(sending) == {}
    assert delivery_states(sending) == {}
    store = open_store(sending.workspace)
    with store.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(sends)).scalar() == 0
    store.engine.dispose()


def test_confirmation_is_asked(sending) -> None:
    result = sending.run("send", SLUG, input="n\n")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Subject:  Doing with, not doing to: our winter news",
        "Audience: newsletter (3 people will get it)",
        "Provider: outbox",
        "When:     now (it was due on 3 December 2026 at 09:00 UTC)",
        "Send it now? [y/N]: n",
        "Nothing was sent.",
    ]
    assert outbox(sending) == {}


def test_no_secret_key(sending, monkeypatch) -> None:
    monkeypatch.delenv("ENGAGE_SECRET_KEY")
    result = sending.run("send", SLUG, "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Set the environment variable ENGAGE_SECRET_KEY (named by web.secret_key_env in "
        "engage.toml).\n"
    )


def test_header_line_breaks(sending) -> None:
    sending.replace(
        f"campaigns/{SLUG}.md", 'subject = "Doing with', 'subject = "Line\\nbreak. Doing with'
    )
    result = sending.run("send", SLUG, "--yes")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {SLUG} has 1 lint error, so nothing was sent. campaigns/{SLUG}.md:2: The "
        "subject has a line break or control character in it: 'Line\\nbreak. Doing with, not "
        "doing to: our winter news'. Fix: Put the subject on one line, with no \\n or \\r in "
        "it.\n",
    )
    assert outbox(sending) == {}


def test_a_name_with_a_line_break_stays_on_one_header_line(sending) -> None:
    sending.run(
        "contacts",
        "add",
        "ed@example.org",
        "--name",
        "Ed\r\nBcc: evil@example.org",
        "--tag",
        "newsletter",
    )
    assert sending.run("send", SLUG, "--yes").exit_code == 0
    ed = outbox(sending)["ed@example.org"]
    assert ed["Bcc"] is None
    assert ed["To"] == '"Ed Bcc: evil@example.org" <ed@example.org>'


# --- SMTP, against a real server ------------------------------------------------------------


@pytest.fixture
def sink():
    server = SmtpSink(password="pw").start()
    yield server
    server.stop()


def smtp_config(project, port: int, connections: int | None = None) -> None:
    """Send through the SMTP server on `port`; `connections` at once (engage's own default
    when None)."""
    project.replace("engage.toml", 'provider = "outbox"', 'provider = "smtp"')
    project.public_links()
    project.write(
        "engage.toml",
        project.read("engage.toml")
        + (
            f'\n[email.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            'username = "engage"\npassword_env = "TEST_SMTP_PASSWORD"\n'
        )
        + ("" if connections is None else f"connections = {connections}\n"),
    )


def test_smtp_send_one_connection_and_a_refused_recipient(sending, sink, monkeypatch) -> None:
    smtp_config(sending, sink.port)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw")
    sink.refuse.add("bo@example.org")
    result = sending.run("send", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"{SLUG}: 3 handed to smtp this time. Of 3: 2 sent, 1 failed, 0 skipped, "
        "0 unknown, 0 still to send."
    )
    received = sink.messages()
    assert sorted(to for to, _ in received) == ["ann@example.org", "cy@example.org"]
    assert len(sink.sessions) == 1
    store = open_store(sending.workspace)
    with store.connect() as c:
        error = c.execute(
            sa.select(deliveries.c.error).where(deliveries.c.status == "failed")
        ).scalar()
    store.engine.dispose()
    assert error == "550 5.1.1 No such mailbox here"


def test_smtp_wrong_password_stops_the_send(sending, sink, monkeypatch) -> None:
    smtp_config(sending, sink.port)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
    result = sending.run("send", SLUG, "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: the SMTP server 127.0.0.1:{sink.port} refused the username engage and password "
        "(535). Check TEST_SMTP_PASSWORD.\n"
    )
    assert sink.messages() == []
    assert set(delivery_states(sending).values()) == {"pending"}


# --- engage run ---------------------------------------------------------------------------


def test_run_sends_what_is_due(sending, clock) -> None:
    """Due: this campaign (moved to 2020), not share-your-story (2026-12-10 on engage's clock)."""
    sending.replace(
        f"campaigns/{SLUG}.md", "send_at = 2026-12-03T09:00:00Z", "send_at = 2020-01-01T09:00:00Z"
    )
    result = sending.run("run")
    assert result.exit_code == 0, result.output
    assert result.stdout == "engage run: 1 campaign(s) worked on, 3 message(s) handed over.\n"
    assert len(outbox(sending)) == 3
    assert sending.run("run", "--quiet").stdout == ""
    assert sending.run("run").stdout == "engage run: nothing was due.\n"


def test_run_refuses_while_another_run_holds_the_lock(sending) -> None:
    store = open_store(sending.workspace)
    with store.begin() as c:
        c.execute(
            sa.text("INSERT INTO locks (name, owner, expires_at) VALUES ('engage-run', :o, :e)"),
            {
                "o": f"{os.uname().nodename}:{os.getpid()}:x",
                "e": engage_clock.now() + dt.timedelta(minutes=5),
            },
        )
    store.engine.dispose()
    result = sending.run("run")
    assert result.exit_code == 0
    assert result.stdout == (
        f"engage run: another `engage run` (process {os.getpid()} on {os.uname().nodename}) is "
        "working right now, so this one did nothing. That is normal during a long send.\n"
    )
    assert result.stderr == ""
    quiet = sending.run("run", "--quiet")
    assert (quiet.exit_code, quiet.output) == (0, "")


def test_run_takes_over_a_lock_left_by_a_dead_run(sending, clock) -> None:
    store = open_store(sending.workspace)
    with store.begin() as c:
        c.execute(
            sa.text("INSERT INTO locks (name, owner, expires_at) VALUES ('engage-run', :o, :e)"),
            {
                "o": f"{os.uname().nodename}:999999:x",
                "e": clock.now() + dt.timedelta(minutes=5),
            },
        )
    store.engine.dispose()
    result = sending.run("run")
    assert (result.exit_code, result.stdout) == (0, "engage run: nothing was due.\n")


def test_sender_needs_an_audience(sending) -> None:
    sending.replace(f"campaigns/{SLUG}.md", 'audience = "newsletter"\n', "")
    ws = sending.workspace
    campaign = campaigns.load(ws, SLUG)
    check = partial(require_clean, ws, campaign)  # what every caller passes: lint first
    sender = Sender(open_store(ws), ws, campaign, provider_for(ws), Options(), check)
    with pytest.raises(LintFailed) as caught:  # the lint check send runs first says why
        sender.run()
    assert str(caught.value) == (
        f"{SLUG} has 1 lint error, so nothing was sent. campaigns/{SLUG}.md:1: The campaign does "
        'not say who it goes to: it has no audience. Fix: Add audience = "newsletter" (or '
        "another audience) to the front matter. The audiences here are: contributors, "
        "newsletter."
    )
    assert f"{SLUG}.md:1: error [audience-missing]" in sending.run("lint", SLUG).output


def test_rate_per_second_caps_the_pace(sending) -> None:
    sending.replace(
        "engage.toml",
        'reply_domain = "replies.example.org"',
        'reply_domain = "replies.example.org"\nrate_per_second = 2',
    )
    started = time.monotonic()
    result = sending.run("send", SLUG, "--yes")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0
    assert len(outbox(sending)) == 3
    assert elapsed >= 1.0  # three messages at two a second cannot all go in under a second


def test_sending_on_each_database(sending, db_url, monkeypatch) -> None:
    """The claim (FOR UPDATE SKIP LOCKED on PostgreSQL) and resume, on SQLite and PostgreSQL."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    path = sending.write("people.csv", PEOPLE)
    assert sending.run("contacts", "import", str(path)).exit_code == 0
    first = sending.run("send", SLUG, "--yes", "--limit", "2")
    assert first.exit_code == 0, first.output
    assert len(outbox(sending)) == 2
    second = sending.run("send", SLUG, "--yes", "--resume")
    assert second.stdout.splitlines()[-1] == f"{SLUG} is sent."
    assert sorted(outbox(sending)) == ["ann@example.org", "bo@example.org", "cy@example.org"]


def test_run_lock_on_each_database(sending, db_url, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    store = open_store(sending.workspace)
    try:
        with run_lock(store), pytest.raises(Busy), run_lock(store):
            pass
        with run_lock(store):  # free again once released
            pass
    finally:
        store.engine.dispose()
