"""Exactly once under faults: real sends through a real SMTP server (aiosmtpd) and the fake
HTTP providers, with the server failing at a chosen message, the connection refused or
dropped, the answer lost. After every fault, and after resuming, nobody has two copies,
nobody is skipped, and every message marked *unknown* was really in flight."""

from __future__ import annotations

import collections
import random
import signal
import time
from functools import partial

import pytest
import sqlalchemy as sa

from engage import campaigns
from engage.errors import ProviderError
from engage.providers import provider_for
from engage.providers.mailgun.send import Mailgun
from engage.sending import Options, Report, Sender
from engage.store import open_store
from engage.workflow.lint import require_clean

from . import kill_loop
from .fakes import FakeMailgun, FakePostmark, FakeSendGrid
from .smtp_sink import SmtpSink
from .test_crash import engage
from .test_providers import ENV, FAKES, KEYS, SETTINGS
from .test_sending import KEY, SLUG, smtp_config

N = 250  # three SMTP batches of 100
# Sends through the CLI say --now: these tests are about faults, not about send_at, and the
# fake providers keep their records by the computer's clock, so engage's clock stays real.


def address(i: int) -> str:
    return f"p{i:03d}@example.org"


EVERYONE = {address(i) for i in range(N)}


@pytest.fixture
def many(project, db_url, monkeypatch):
    """N subscribers of the newsletter, on SQLite and on PostgreSQL."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw")
    rows = "".join(f"{address(i)},Person {i},newsletter\n" for i in range(N))
    path = project.write("many.csv", "email,name,tags\n" + rows)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    return project


@pytest.fixture(params=["step by step", "pipelining"])
def sink(request):
    """The SMTP server: one that answers each command before the next, and one that offers
    PIPELINING, where engage sends MAIL, RCPT and DATA at once."""
    server = SmtpSink(password="pw", pipelining=request.param == "pipelining").start()
    yield server
    server.stop()


def send(project, **options: object) -> Report:
    """One `engage send`, through the library so retries wait milliseconds, not seconds."""
    workspace = project.workspace
    store = open_store(workspace)
    campaign = campaigns.load(workspace, SLUG)
    try:
        sender = Sender(
            store,
            workspace,
            campaign,
            provider_for(workspace),
            Options(backoff=0.01, **options),
            partial(require_clean, workspace, campaign),  # lint first, as every caller does
        )
        return sender.run()
    finally:
        store.engine.dispose()


def use_provider(project, monkeypatch, name: str, fake, settle: float | None = None) -> None:
    """Send through the fake HTTP provider `fake` (a 1 s time-out); `settle`: seconds before
    its records count as complete (the fakes' records are complete at once)."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv(ENV[name], KEYS[name])
    extra = "" if settle is None else f"\nreconcile_settle_seconds = {settle}"
    project.replace(
        "engage.toml", 'provider = "outbox"', f'provider = "{name}"\ntimeout = 1{extra}'
    )
    project.public_links()
    project.write(
        "engage.toml", project.read("engage.toml") + "\n" + SETTINGS[name].format(url=fake.url)
    )


def crowd_through_mailgun(project, monkeypatch, fake, n: int, rate: int) -> None:
    """`n` newsletter subscribers (address(i)), sent to through the fake Mailgun `fake` at
    `rate` a second, its records complete at once (settle 0), with a 5 s time-out."""
    use_provider(project, monkeypatch, "mailgun", fake, settle=0)
    project.replace("engage.toml", "timeout = 1", f"timeout = 5\nrate_per_second = {rate}")
    rows = "".join(f"{address(i)},Person {i},newsletter\n" for i in range(n))
    path = project.write("many.csv", "email,name,tags\n" + rows)
    assert project.run("contacts", "import", str(path)).exit_code == 0


def states(project) -> dict[str, tuple[str, str | None]]:
    store = open_store(project.workspace)
    with store.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT contacts.email, deliveries.status, deliveries.error FROM deliveries "
                "JOIN contacts ON contacts.id = deliveries.contact_id"
            )
        ).all()
    store.engine.dispose()
    return {email: (status, error) for email, status, error in rows}


def counts(project) -> dict[str, int]:
    return dict(collections.Counter(status for status, _ in states(project).values()))


def copies(sink: SmtpSink) -> collections.Counter:
    return collections.Counter(to for to, _ in sink.received)


# --- SMTP: each message's own answer ----------------------------------------------------------


@pytest.mark.parametrize("connections", [1, 2])
@pytest.mark.parametrize("fault", ["451", "421", "drop-at-rcpt", "451-at-rcpt"])
def test_smtp_temporary_failure_at_message_k_retries_only_from_k(
    many, sink, fault, connections
) -> None:
    """The server takes messages 1..k-1, then says 4xx (or drops the line) before taking k:
    k and the ones after it go again on a fresh connection; nobody before k gets two, with one
    connection or with two at once."""
    smtp_config(many, sink.port, connections)
    sink.faults[address(130)] = fault
    report = send(many)
    assert report.problems == []
    assert (report.this_run, report.sent, report.unknown) == (N, N, 0)
    received = copies(sink)
    assert set(received) == EVERYONE
    assert max(received.values()) == 1
    assert counts(many) == {"sent": N}
    # The first connection(s), and one fresh one after the fault. With two, the second batch
    # may find the first connection free, so it is two or three.
    assert len(sink.sessions) in ({2} if connections == 1 else {2, 3})


@pytest.mark.parametrize("connections", [1, 2])
def test_smtp_answer_lost_after_data_is_unknown_never_resent(many, sink, connections) -> None:
    """The server took message k, then the line dropped before its answer: k is unknown and
    never sent again by itself; everyone after k still gets theirs, on a fresh connection
    (and on the other one, with two at once)."""
    smtp_config(many, sink.port, connections)
    sink.faults[address(130)] = "drop-after-data"
    report = send(many)
    assert (report.sent, report.unknown, report.pending) == (N - 1, 1, 0)
    assert report.problems[0].startswith(
        f"The SMTP connection was lost after the message to {address(130)} went and before the "
        "server answered"
    )
    state = states(many)
    assert state[address(130)][0] == "unknown"
    received = copies(sink)
    assert set(received) == EVERYONE  # the unknown one was really in flight: the server has it
    assert max(received.values()) == 1

    again = send(many)  # a resumed send never resends an unknown by itself
    assert again.this_run == 0
    assert copies(sink) == received
    assert counts(many) == {"sent": N - 1, "unknown": 1}


def test_smtp_permanent_refusal_fails_that_message_only(many, sink) -> None:
    smtp_config(many, sink.port)
    sink.faults[address(7)] = "554"
    report = send(many)
    assert (report.sent, report.failed, report.unknown) == (N - 1, 1, 0)
    assert states(many)[address(7)] == ("failed", "554 5.6.0 Message refused")
    assert set(copies(sink)) == EVERYONE - {address(7)}


def test_smtp_connection_refused_leaves_everyone_pending_then_sends_once(many) -> None:
    server = SmtpSink(password="pw")  # its port is chosen, nothing listens there yet
    smtp_config(many, server.port)
    report = send(many, max_tries=2)
    assert report.this_run == 0
    assert report.problems[-1].startswith(f"Cannot reach the SMTP server 127.0.0.1:{server.port}")
    assert report.problems[-1].endswith("; 100 left for the next run")
    assert counts(many) == {"pending": N}
    server.start()
    try:
        again = send(many)
        assert (again.sent, again.unknown, again.problems) == (N, 0, [])
        assert copies(server) == collections.Counter(EVERYONE)
    finally:
        server.stop()


def test_smtp_fault_in_every_batch_still_once_each(many, sink) -> None:
    smtp_config(many, sink.port)
    for i, fault in zip((5, 120, 240), ("421", "451", "drop-at-rcpt"), strict=True):
        sink.faults[address(i)] = fault
    report = send(many)
    assert (report.sent, report.unknown) == (N, 0)
    assert copies(sink) == collections.Counter(EVERYONE)


# --- odd addresses --------------------------------------------------------------------------


def test_internationalised_addresses_never_stop_a_campaign(project, monkeypatch) -> None:
    """An IDN domain goes as punycode; an address with letters beyond ASCII before the @
    needs SMTPUTF8: without it that one person is failed with the reason, and the rest go."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw")
    people = "email,name,tags\nann@example.org,Ann,newsletter\njosé@example.org,José,newsletter\nuser@bücher.de,Ute,newsletter\n"
    assert project.run("contacts", "import", str(project.write("p.csv", people))).exit_code == 0
    server = SmtpSink(password="pw").start()
    try:
        smtp_config(project, server.port)
        result = project.run("send", SLUG, "--yes", "--now")
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[0] == (
            f"{SLUG}: 3 handed to smtp this time. Of 3: 2 sent, 1 failed, "
            "0 skipped, 0 unknown, 0 still to send."
        )
        assert sorted(copies(server)) == ["ann@example.org", "user@xn--bcher-kva.de"]
        assert states(project)["josé@example.org"] == (
            "failed",
            "josé@example.org has letters beyond ASCII before the @, and the SMTP server does "
            "not offer SMTPUTF8, which such an address needs",
        )
    finally:
        server.stop()


def test_an_smtputf8_server_gets_the_internationalised_address(project, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "pw")
    people = "email,name,tags\njosé@example.org,José Núñez,newsletter\n"
    assert project.run("contacts", "import", str(project.write("p.csv", people))).exit_code == 0
    server = SmtpSink(password="pw", smtputf8=True).start()
    try:
        smtp_config(project, server.port)
        result = project.run("send", SLUG, "--yes", "--now")
        assert result.exit_code == 0, result.output
        [(to, message)] = server.messages()
        assert to == "josé@example.org"
        assert message["To"] == "José Núñez <josé@example.org>"
    finally:
        server.stop()


def test_the_outbox_takes_any_address(project, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    people = "email,name,tags\njosé@example.org,José,newsletter\nuser@bücher.de,Ute,newsletter\n"
    assert project.run("contacts", "import", str(project.write("p.csv", people))).exit_code == 0
    result = project.run("send", SLUG, "--yes", "--now")
    assert result.exit_code == 0, result.output
    names = sorted(p.name.split("-", 1)[1] for p in (project.root / "outbox" / SLUG).glob("*"))
    assert names == ["jos_@example.org.eml", "user@b_cher.de.eml"]


@pytest.mark.parametrize("name", ["postmark", "sendgrid"])
def test_http_providers_get_punycode_domains_and_refuse_unicode_local_parts(
    project, monkeypatch, name
) -> None:
    fake = FAKES[name]().start()
    try:
        use_provider(project, monkeypatch, name, fake)
        people = "email,name,tags\nann@example.org,Ann,newsletter\njosé@example.org,José,newsletter\nuser@bücher.de,Ute,newsletter\n"
        path = project.write("p.csv", people)
        assert project.run("contacts", "import", str(path)).exit_code == 0
        result = project.run("send", SLUG, "--yes", "--now")
        assert result.exit_code == 0, result.output
        assert sorted(m["email"] for m in fake.messages) == [
            "ann@example.org",
            "user@xn--bcher-kva.de",
        ]
        assert states(project)["josé@example.org"] == (
            "failed",
            f"josé@example.org has letters beyond ASCII before the @, and {name} does not take "
            "such addresses",
        )
    finally:
        fake.stop()


# --- stopping: SIGTERM, SIGINT and SIGKILL at random moments -------------------------------


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_sigterm_finishes_recording_then_stops_and_run_carries_on(many) -> None:
    """SIGTERM (a shutdown, a supervisor) is no person's decision: the send is interrupted, and
    `engage send` again, or the next `engage run`, carries it on."""
    sink = SmtpSink(password="pw", delay=0.005).start()
    try:
        smtp_config(many, sink.port)
        sender = engage(many, "send", SLUG, "--yes")
        wait_for(lambda: len(sink.received) >= 40)
        sender.send_signal(signal.SIGTERM)
        out, err = sender.communicate(timeout=60)
        assert sender.returncode == 143, out + err
        assert err.splitlines()[-1] == (
            "Problem: Stopped by SIGTERM: every answer that came was recorded. The next "
            f"`engage run` carries on from here, or run `engage send {SLUG}` to carry on now."
        )
        first = copies(sink)
        assert counts(many) == {"sent": len(first), "pending": N - len(first)}  # none unknown
        assert out.splitlines()[-1].startswith(
            f"{SLUG}: {len(first)} handed to smtp this time. Of {N}: {len(first)} sent"
        )
        assert status_line(many) == f"{SLUG} interrupted {len(first)} of {N}"

        again = engage(many, "send", SLUG, "--yes")
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, out + err
        assert copies(sink) == collections.Counter(EVERYONE)
    finally:
        sink.stop()


def test_ctrl_c_is_a_person_stopping_it(many, monkeypatch) -> None:
    """Ctrl-C (SIGINT) in `engage send`: what went is recorded, it says so and how to resume,
    exits 130 and the campaign is stopped. Neither `engage run` nor a plain `engage send`
    carries it on; `--resume` does, and everyone has exactly one copy."""
    sink = SmtpSink(password="pw", delay=0.005).start()
    try:
        smtp_config(many, sink.port)
        sender = engage(many, "send", SLUG, "--yes")
        wait_for(lambda: len(sink.received) >= 40)
        sender.send_signal(signal.SIGINT)
        out, err = sender.communicate(timeout=60)
        assert sender.returncode == 130, out + err
        first = copies(sink)
        sent = len(first)
        assert counts(many) == {"sent": sent, "pending": N - sent}  # nothing unknown
        assert out.splitlines()[-2:] == [
            f"{SLUG}: {sent} handed to smtp this time. Of {N}: {sent} sent, 0 failed, "
            f"0 skipped, 0 unknown, {N - sent} still to send.",
            f"{SLUG} is stopped, by Ctrl-C: {sent} of {N} went and {N - sent} are still to "
            "send. Every answer that came was recorded, so nobody will get it twice. To send "
            f"the rest, run `engage send {SLUG} --resume`. `engage run` leaves it alone until "
            "then.",
        ]
        assert "Aborted!" not in out + err
        assert status_line(many) == f"{SLUG} stopped {sent} of {N}"

        monkeypatch.setenv("ENGAGE_NOW", "2026-12-05T09:00:00Z")  # only the newsletter is due
        run = engage(many, "run")  # its send_at has passed: still left alone
        out, err = run.communicate(timeout=60)
        assert (run.returncode, out, err) == (0, "engage run: nothing was due.\n", ""), err
        plain = engage(many, "send", SLUG, "--yes")
        out, err = plain.communicate(timeout=60)
        assert plain.returncode == 1
        assert err.startswith(f"Error: {SLUG} was stopped by test (Ctrl-C) on ")
        assert err.endswith(
            f": {sent} of {N} went. Nobody will get it twice: to send the rest, run "
            f"`engage send {SLUG} --resume`.\n"
        )
        assert copies(sink) == first

        resumed = engage(many, "send", SLUG, "--yes", "--resume")
        out, err = resumed.communicate(timeout=60)
        assert resumed.returncode == 0, out + err
        assert copies(sink) == collections.Counter(EVERYONE)
        assert status_line(many) == f"{SLUG} sent {N} of {N}"
    finally:
        sink.stop()


def status_line(project) -> str:
    """The newsletter's row of `engage campaigns list --format json`: slug, status, sent."""
    import json

    result = project.run("campaigns", "list", "--format", "json")
    row = next(r for r in json.loads(result.stdout) if r["slug"] == SLUG)
    return f"{row['slug']} {row['status']} {row['sent']} of {row['total']}"


def test_sigterm_stops_engage_run_cleanly_too(many, monkeypatch) -> None:
    """cron's `engage run`, stopped by SIGTERM while it sends: what went is recorded, it says
    so, does nothing more this run and exits 143; the next run carries on."""
    monkeypatch.setenv("ENGAGE_NOW", "2026-12-05T09:00:00Z")  # the newsletter is due
    sink = SmtpSink(password="pw", delay=0.005).start()
    try:
        smtp_config(many, sink.port)
        runner = engage(many, "run")
        wait_for(lambda: len(sink.received) >= 40)
        runner.send_signal(signal.SIGTERM)
        out, err = runner.communicate(timeout=60)
        assert runner.returncode == 143, out + err
        assert err.startswith("engage run: 1 campaign(s) worked on, ")
        assert (
            "Stopped by SIGTERM: every answer that came was recorded. The next `engage run` "
            f"carries on from here, or run `engage send {SLUG}` to carry on now."
        ) in err
        first = copies(sink)
        assert counts(many) == {"sent": len(first), "pending": N - len(first)}

        again = engage(many, "run")
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, out + err
        assert copies(sink) == collections.Counter(EVERYONE)
    finally:
        sink.stop()


def test_sigkill_at_random_moments_then_everyone_once(project, monkeypatch) -> None:
    """Killed again and again part way, the outbox send leaves at most the batch in flight
    unknown; each start settles those from the files, and in the end everyone has one."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    n, rate = 1500, 1000
    rows = "".join(f"{address(i)},Person {i},newsletter\n" for i in range(n))
    path = project.write("many.csv", "email,name,tags\n" + rows)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    project.replace(
        "engage.toml", 'provider = "outbox"', f'provider = "outbox"\nrate_per_second = {rate}'
    )
    folder = project.root / "outbox" / SLUG
    chance = random.Random(12)
    kills = 0
    while kills < 6:
        sender = engage(project, "send", SLUG, "--yes")
        before = len(list(folder.glob("*.eml"))) if folder.exists() else 0
        wait_for(
            lambda s=sender, b=before: s.poll() is not None or len(list(folder.glob("*.eml"))) > b
        )
        time.sleep(chance.uniform(0.0, 0.3))
        if sender.poll() is not None:
            break
        sender.kill()
        sender.wait()
        kills += 1
        store = open_store(project.workspace)
        with store.connect() as c:
            in_doubt = c.execute(
                sa.text(
                    "SELECT count(*), count(DISTINCT batch) FROM deliveries "
                    "WHERE status IN ('sending', 'unknown')"
                )
            ).one()
        store.engine.dispose()
        assert in_doubt[0] <= rate and in_doubt[1] <= 1  # only the batch that was in flight
    assert kills >= 2
    final = engage(project, "send", SLUG, "--yes")
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, out + err
    files = [p.name.split("-", 1)[1] for p in folder.glob("*.eml")]
    assert collections.Counter(files) == collections.Counter(f"{address(i)}.eml" for i in range(n))
    assert counts(project) == {"sent": n}


def test_a_send_never_holds_one_mailbox_twice(project, monkeypatch) -> None:
    """Even if the contacts table held two rows for one mailbox (the unique index dropped by
    hand, say), the send's audience takes one of them."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    people = "email,name,tags\nsam.case@example.org,Sam,newsletter\n"
    assert project.run("contacts", "import", str(project.write("p.csv", people))).exit_code == 0
    store = open_store(project.workspace)
    with store.begin() as c:
        c.execute(sa.text("DROP INDEX ix_contacts_email_key"))
        c.execute(
            sa.text(
                "INSERT INTO contacts (email, email_key, name, first_name, format, status, "
                "attributes, created_at, updated_at) SELECT 'Sam.Case@example.org', email_key, "
                "name, first_name, format, status, attributes, created_at, updated_at "
                "FROM contacts"
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO contact_tags (contact_id, tag_id) SELECT max(contacts.id), "
                "min(tag_id) FROM contacts, contact_tags"
            )
        )
        assert c.execute(sa.text("SELECT count(*) FROM contacts")).scalar() == 2
    store.engine.dispose()
    result = project.run("send", SLUG, "--yes", "--now")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{SLUG}: 1 handed to outbox this time. Of 1: 1 sent")
    assert len(list((project.root / "outbox" / SLUG).glob("*.eml"))) == 1


# --- HTTP providers: only proof of "not sent" is retried ---------------------------------


@pytest.mark.parametrize("name", ["mailgun", "postmark", "sendgrid"])
def test_http_connection_refused_is_retried_later_and_sends_once(
    project, monkeypatch, name
) -> None:
    fake = FAKES[name]()  # not started: nothing listens at its address yet
    fake.start()
    url = fake.url
    fake.stop()
    closed = type("Closed", (), {"url": url})()
    use_provider(project, monkeypatch, name, closed)
    path = project.write("p.csv", "email,name,tags\nann@example.org,Ann,newsletter\n")
    assert project.run("contacts", "import", str(path)).exit_code == 0
    report = send(project, max_tries=2)
    assert report.this_run == 0
    assert report.problems[-1].startswith(f"Cannot reach {fake_title(name)} at {url}")
    assert counts(project) == {"pending": 1}


@pytest.mark.parametrize("name", ["mailgun", "postmark", "sendgrid"])
def test_http_429_waits_as_asked_then_sends_once(project, monkeypatch, name) -> None:
    fake = FAKES[name]().start()
    try:
        use_provider(project, monkeypatch, name, fake)
        path = project.write("p.csv", "email,name,tags\nann@example.org,Ann,newsletter\n")
        assert project.run("contacts", "import", str(path)).exit_code == 0
        fake.fail_next(status=429, retry_after=1, times=1)
        started = time.monotonic()
        report = send(project)
        assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
        assert (report.sent, report.unknown, report.problems) == (1, 0, [])
        assert [r.status for r in fake.requests] == [429, 200 if name != "sendgrid" else 202]
        assert [m["email"] for m in fake.messages] == ["ann@example.org"]
    finally:
        fake.stop()


def fake_title(name: str) -> str:
    return {"mailgun": "Mailgun", "postmark": "Postmark", "sendgrid": "SendGrid"}[name]


THREE = (
    "email,name,first_name,tags,format\n"
    "ann@example.org,Ann Lee,Ann,newsletter,html\n"
    "bo@example.org,Bo Diaz,Bo,newsletter,large-print\n"
    "cy@example.org,Cy Obi,Cy,newsletter,plain\n"
)


@pytest.mark.parametrize("name", ["mailgun", "postmark", "sendgrid"])
@pytest.mark.parametrize("fault", ["accept_then_hang", "accept_then_reset"])
def test_http_answer_lost_after_the_provider_took_it_is_settled_as_sent(
    project, monkeypatch, name, fault
) -> None:
    """The provider took the batch and its answer never came: unknown, not retried; asking
    the provider's records settles it as sent, and nobody ever gets two."""
    fake = FAKES[name]().start()
    try:
        use_provider(project, monkeypatch, name, fake, settle=0)
        assert project.run("contacts", "import", str(project.write("p.csv", THREE))).exit_code == 0
        getattr(fake, fault)(*([3] if fault == "accept_then_hang" else []))
        first = project.run("send", SLUG, "--yes", "--now")
        assert first.exit_code == 1, first.output
        assert sorted(m["email"] for m in fake.messages) == [
            "ann@example.org",
            "bo@example.org",
            "cy@example.org",
        ]
        assert sorted(s for s, _ in states(project).values()) == ["sent", "sent", "unknown"]

        check = project.run("send", SLUG, "--reconcile")
        assert check.exit_code == 0, check.output
        assert check.stdout == (
            f"{SLUG}: 1 unknown message(s) were sent, 0 were not (pending again), "
            "0 still unknown.\n"
        )
        again = project.run("send", SLUG, "--yes")
        assert again.exit_code == 0, again.output
        assert collections.Counter(m["email"] for m in fake.messages) == collections.Counter(
            ["ann@example.org", "bo@example.org", "cy@example.org"]
        )
        assert counts(project) == {"sent": 3}
    finally:
        fake.stop()


@pytest.mark.parametrize("name", ["mailgun", "postmark", "sendgrid"])
def test_http_time_out_never_taken_goes_once_records_settle(
    project, monkeypatch, clock, name
) -> None:
    """The provider never took the request that timed out. Until its records are complete
    the person stays unknown (and engage says when to ask again); after that, the next send
    finds they never got it and sends it, once."""
    fake = {
        "mailgun": lambda: FakeMailgun(api_key="key-1", domain="mg.example.org", clock=clock.now),
        "postmark": lambda: FakePostmark(api_key="pm-1", clock=clock.now),
        "sendgrid": lambda: FakeSendGrid(api_key="SG.1", clock=clock.now),
    }[name]().start()
    try:
        use_provider(project, monkeypatch, name, fake)
        assert project.run("contacts", "import", str(project.write("p.csv", THREE))).exit_code == 0
        fake.hang_next(seconds=3, times=1)
        first = project.run("send", SLUG, "--yes", "--now")
        assert first.exit_code == 1
        assert len(fake.messages) == 2

        soon = project.run("send", SLUG, "--yes")  # records not complete yet: still unknown
        assert soon.exit_code == 1
        assert "0 handed" in soon.stdout and "1 unknown" in soon.stdout
        assert soon.stderr.startswith(
            f"Problem: 1 message was handed to {fake_title(name)} less than "
        )
        assert "may not be complete yet. Ask again after 1 December 2026, " in soon.stderr
        assert len(fake.messages) == 2

        clock.advance(hours=2)
        later = project.run("send", SLUG, "--yes")
        assert later.exit_code == 0, later.output
        assert later.stdout.splitlines()[-2].startswith(f"{SLUG}: 1 handed to {name} this time.")
        assert collections.Counter(m["email"] for m in fake.messages) == collections.Counter(
            ["ann@example.org", "bo@example.org", "cy@example.org"]
        )
    finally:
        fake.stop()


def test_sigkill_at_random_moments_through_mailgun_then_once_each(
    project, db_url, monkeypatch
) -> None:
    """Killed again and again while Mailgun has batches, on each database: only the batch in
    flight is ever in doubt, each start asks Mailgun's records about it, and in the end every
    person has exactly one copy."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    n, rate = 3000, 300
    fake = FakeMailgun(api_key="key-1", domain="mg.example.org", delay=0.05)
    fake.keep_bodies = False
    fake.start()
    try:
        crowd_through_mailgun(project, monkeypatch, fake, n, rate)
        found = kill_loop.run(
            project.root,
            {"ENGAGE_SECRET_KEY": KEY, ENV["mailgun"]: KEYS["mailgun"]},
            lambda: len(fake.messages),
            kills=6,
            rng=random.Random(7),
            most=0.5,
        )
        assert found.final_code == 0, found.final_output
        assert found.kills >= 4
        # In doubt after a kill: only what was with Mailgun, which has up to `in_flight` batches
        # at once (each at most a second's worth of the rate) when its answers come slowly.
        most = Mailgun.in_flight
        assert all(rows <= rate * most and batches <= most for rows, batches in found.in_doubt)
        received = collections.Counter(m["email"] for m in fake.messages)
        assert received == collections.Counter(address(i) for i in range(n))
        assert counts(project) == {"sent": n}
    finally:
        fake.stop()


def test_mailgun_takes_internationalised_addresses_as_written(project, monkeypatch) -> None:
    fake = FAKES["mailgun"]().start()
    try:
        use_provider(project, monkeypatch, "mailgun", fake)
        people = (
            "email,name,tags\njosé@example.org,José,newsletter\nuser@bücher.de,Ute,newsletter\n"
        )
        path = project.write("p.csv", people)
        assert project.run("contacts", "import", str(path)).exit_code == 0
        result = project.run("send", SLUG, "--yes", "--now")
        assert result.exit_code == 0, result.output
        assert sorted(m["email"] for m in fake.messages) == ["josé@example.org", "user@bücher.de"]
    finally:
        fake.stop()


def test_a_key_that_cannot_read_records_does_not_stop_a_resumed_send(project, monkeypatch) -> None:
    """A Mailgun sending key may send and not read events: the unknown stay unknown, said so,
    and the rest of the send goes on."""
    fake = FAKES["mailgun"]().start()
    try:
        use_provider(project, monkeypatch, "mailgun", fake, settle=0)
        assert project.run("contacts", "import", str(project.write("p.csv", THREE))).exit_code == 0
        assert project.run("send", SLUG, "--yes", "--now", "--limit", "1").exit_code == 0
        fake.accept_then_hang(3)
        assert project.run("send", SLUG, "--yes", "--limit", "1", "--resume").exit_code == 1
        fake.fail_next(status=401, retry_after=None)  # the events API refuses the key
        result = project.run("send", SLUG, "--yes", "--resume")
        assert result.exit_code == 1
        assert result.stdout.splitlines()[-2] == (
            f"{SLUG}: 1 handed to mailgun this time. Of 3: 2 sent, 0 failed, 0 skipped, "
            "1 unknown, 0 still to send."
        )
        problems = [line for line in result.stderr.splitlines() if line.startswith("Problem")]
        assert problems[0].startswith(
            "Problem: Could not ask mailgun about unknown messages: Mailgun refused the key"
        )
        assert len(fake.messages) == 3
    finally:
        fake.stop()


def test_smtp_refusing_the_sender_stops_the_send_and_keeps_what_went(many, sink) -> None:
    """A server that stops taking our From address part way: the messages it took stay sent,
    nobody is marked failed for it, the send stops and says what to check; fixed, the rest go."""
    smtp_config(many, sink.port)
    sink.refuse_sender_after = 130
    with pytest.raises(ProviderError) as stopped:
        send(many)
    assert str(stopped.value) == (
        f"The SMTP server 127.0.0.1:{sink.port} refused the sender news@example.org "
        "(550 5.7.1 Sender not allowed to send here), so nothing more can go. Check from in "
        "[email] of engage.toml, and that the server lets it send."
    )
    assert counts(many) == {"sent": 130, "pending": N - 130}
    sink.refuse_sender_after = None
    report = send(many)
    assert (report.sent, report.failed, report.unknown) == (N, 0, 0)
    assert copies(sink) == collections.Counter(EVERYONE)


def test_reconcile_is_used_on_its_own(project, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    result = project.run("send", SLUG, "--reconcile", "--resend-unknown")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "Error: --reconcile only asks the provider and sends nothing: use it on its own, "
        "then send.\n"
    )
    assert not (project.root / "outbox").exists()
    assert project.run("send", SLUG, "--reconcile").stdout == (
        f"{SLUG} has not been sent, so there is nothing to check.\n"
    )


def test_a_resumed_send_on_an_account_without_records_says_what_to_check(
    project, monkeypatch
) -> None:
    fake = FakeSendGrid(api_key="SG.1", email_activity=False).start()
    try:
        use_provider(project, monkeypatch, "sendgrid", fake, settle=0)
        assert project.run("contacts", "import", str(project.write("p.csv", THREE))).exit_code == 0
        fake.accept_then_hang(3)
        assert project.run("send", SLUG, "--yes", "--now").exit_code == 1
        again = project.run("send", SLUG, "--yes")
        assert again.exit_code == 1
        problem = [line for line in again.stderr.splitlines() if line.startswith("Problem")]
        assert problem == [
            "Problem: 1 message(s) may or may not have gone: engage handed them over and never "
            "learned the answer. This SendGrid account cannot be asked which messages it took: "
            "its Email Activity API is a paid add-on (HTTP 400: authorization required). Buy "
            '"additional email activity history" in SendGrid (Account Details > Your Products > '
            "Add-ons) and give the key Email Activity access, or look for these people by hand "
            "in SendGrid's Activity Feed, then use --resend-unknown for those who did not get it."
        ]
        assert len(fake.messages) == 3
    finally:
        fake.stop()
