"""Sends can be stopped, and status says which: real processes, on SQLite and PostgreSQL.

`engage send CAMPAIGN --stop` from another process stops a running send after its batch in
hand; Ctrl-C does too; a stopped send waits for `--resume` and `engage run` leaves it alone. A
send whose process was killed is interrupted, and `engage run` carries it on. `engage run` and
`engage send` never send one campaign at once, and two campaigns sending at once share
[email] rate_per_second. After all of it, everyone has exactly one copy.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import time

import pytest

from .smtp_sink import SmtpSink
from .test_crash import engage
from .test_faults import EVERYONE, N, address, copies, counts, wait_for
from .test_sending import KEY, SLUG, smtp_config

HOST = os.uname().nodename


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


@pytest.fixture
def slow_sink():
    """An SMTP server that takes 50 ms a message: 250 take twelve seconds, time enough for a
    second engage process to start and act while the first sends, even on a busy machine.
    Tests set `delay = 0` once that race is over, so the rest goes quickly."""
    server = SmtpSink(password="pw", delay=0.05).start()
    yield server
    server.stop()


def finish(process, timeout: float = 120) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def status(project, slug: str = SLUG) -> str:
    """A campaign's row of `engage campaigns list --format json`: status, sent of total."""
    listed = json.loads(project.run("campaigns", "list", "--format", "json").stdout)
    row = next(r for r in listed if r["slug"] == slug)
    return f"{row['status']} {row['sent']} of {row['total']}"


def test_stop_from_another_process_then_resume(many, slow_sink, monkeypatch) -> None:
    smtp_config(many, slow_sink.port)
    sender = engage(many, "send", SLUG, "--yes")
    wait_for(lambda: len(slow_sink.received) >= 30)
    assert status(many).startswith("sending ")
    code, out, err = finish(engage(many, "send", SLUG, "--stop"))
    first = copies(slow_sink)
    sent = len(first)
    assert 30 <= sent < N
    assert (code, err) == (0, ""), out + err
    assert out == (
        f"{SLUG} is stopped: {sent} of {N} went. Nobody will get it twice. To send the rest, "
        f"run `engage send {SLUG} --resume`. `engage run` leaves it alone until then.\n"
    )
    slow_sink.delay = 0
    code, out, err = finish(sender)
    assert code == 1, out + err
    assert out.splitlines()[-2:] == [
        f"{SLUG}: {sent} handed to smtp this time. Of {N}: {sent} sent, 0 failed, 0 skipped, "
        f"0 unknown, {N - sent} still to send.",
        f"{SLUG} is stopped, as test asked: {sent} of {N} went and {N - sent} are still to "
        "send. Every answer that came was recorded, so nobody will get it twice. To send the "
        f"rest, run `engage send {SLUG} --resume`. `engage run` leaves it alone until then.",
    ]
    assert counts(many) == {"sent": sent, "pending": N - sent}
    assert status(many) == f"stopped {sent} of {N}"
    report = many.run("report", SLUG).stdout.splitlines()[1]
    assert report.startswith("Stopped by test on ")
    assert report.endswith(
        f", with {N - sent} still to send. `engage send {SLUG} --resume` sends the rest."
    )

    monkeypatch.setenv("ENGAGE_NOW", "2026-12-05T09:00:00Z")  # the newsletter is due
    assert finish(engage(many, "run"))[:2] == (0, "engage run: nothing was due.\n")
    code, out, err = finish(engage(many, "send", SLUG, "--yes"))
    assert code == 1 and err.startswith(f"Error: {SLUG} was stopped by test on ")
    assert copies(slow_sink) == first

    code, out, err = finish(engage(many, "send", SLUG, "--yes", "--resume"))
    assert code == 0, out + err
    assert out.splitlines()[0] == (
        f"{SLUG}: {N - sent} handed to smtp this time. Of {N}: {N} sent, 0 failed, 0 skipped, "
        "0 unknown, 0 still to send."
    )
    assert copies(slow_sink) == collections.Counter(EVERYONE)
    assert status(many) == f"sent {N} of {N}"


def test_a_killed_send_is_interrupted_and_engage_run_carries_it_on(many, monkeypatch) -> None:
    """kill -9: no stop was recorded and its process is gone, so it is interrupted, and the
    next `engage run` carries it on. Whatever was in flight is unknown, never sent twice."""
    sink = SmtpSink(password="pw", delay=0.005).start()
    try:
        smtp_config(many, sink.port)
        sender = engage(many, "send", SLUG, "--yes")
        wait_for(lambda: len(sink.received) >= 30)
        sender.kill()
        sender.wait()
        state = status(many)
        assert state.startswith("interrupted ")
        assert (
            many.run("report", SLUG)
            .stdout.splitlines()[1]
            .startswith("Interrupted: its sender ended part way, with ")
        )
        monkeypatch.setenv("ENGAGE_NOW", "2026-12-05T09:00:00Z")
        code, out, err = finish(engage(many, "run"))
        unknown = unknown_people(many)
        assert 0 < len(unknown) <= 100  # the batch in flight when it was killed, at most
        assert code == 1, out + err  # they are a problem to report
        assert f"{len(unknown)} message(s) may or may not have gone" in err
        received = copies(sink)
        assert max(received.values()) == 1
        assert set(received) | unknown == EVERYONE
        assert counts(many) == {"sent": N - len(unknown), "unknown": len(unknown)}
        assert status(many) == f"sent {N - len(unknown)} of {N}"
    finally:
        sink.stop()


def unknown_people(project) -> set[str]:
    from .test_crash import unknown_addresses

    return unknown_addresses(project)


def test_stop_with_nobody_sending_stops_an_interrupted_send(many, slow_sink, monkeypatch) -> None:
    smtp_config(many, slow_sink.port)
    sender = engage(many, "send", SLUG, "--yes")
    wait_for(lambda: len(slow_sink.received) >= 30)
    sender.kill()
    sender.wait()
    slow_sink.delay = 0
    assert status(many).startswith("interrupted ")
    code, out, err = finish(engage(many, "send", SLUG, "--stop"))
    assert code == 0, out + err
    assert out.startswith(f"{SLUG} is stopped: ")
    assert status(many).startswith("stopped ")
    monkeypatch.setenv("ENGAGE_NOW", "2026-12-05T09:00:00Z")
    before = copies(slow_sink)
    assert finish(engage(many, "run"))[:2] == (0, "engage run: nothing was due.\n")
    assert copies(slow_sink) == before
    code, out, err = finish(engage(many, "send", SLUG, "--yes", "--resume"))
    received = copies(slow_sink)
    assert max(received.values()) == 1
    assert set(received) | unknown_people(many) == EVERYONE


def test_stop_says_when_there_is_nothing_to_stop(many, slow_sink) -> None:
    result = many.run("send", SLUG, "--stop")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {SLUG} has not started sending, so there is nothing to stop.\n",
    )
    smtp_config(many, slow_sink.port)
    slow_sink.delay = 0
    assert many.run("send", SLUG, "--yes", "--now", "--limit", "5").exit_code == 0
    again = many.run("send", SLUG, "--stop")
    assert (again.exit_code, again.stdout) == (
        0,
        f"{SLUG} was already stopped (by test-runner (--limit 5)): 5 of {N} went. Nobody will "
        f"get it twice. To send the rest, run `engage send {SLUG} --resume`. `engage run` "
        "leaves it alone until then.\n",
    )
    assert many.run("send", SLUG, "--yes", "--resume").exit_code == 0
    done = many.run("send", SLUG, "--stop")
    assert (done.exit_code, done.stderr) == (
        1,
        f"Error: {SLUG} has already been sent ({N} of {N} went), so there is nothing to stop.\n",
    )
    mixed = many.run("send", SLUG, "--stop", "--resume")
    assert mixed.exit_code == 2
    assert mixed.stderr.endswith("Error: --stop only asks the send to stop: use it on its own.\n")


def test_engage_run_leaves_a_campaign_engage_send_is_sending(many, slow_sink, monkeypatch):
    """One lock per campaign: `engage run` says it is being sent elsewhere and leaves it (not
    a problem: exit 0); the sender's own count is right at the end."""
    smtp_config(many, slow_sink.port)
    sender = engage(many, "send", SLUG, "--yes")
    wait_for(lambda: len(slow_sink.received) >= 20)
    monkeypatch.setenv("ENGAGE_NOW", "2026-12-05T09:00:00Z")
    code, out, err = finish(engage(many, "run"))
    assert sender.poll() is None, "the send finished too soon for this test"
    assert (code, err) == (0, "")
    assert out == (
        "engage run: 0 campaign(s) worked on, 0 message(s) handed over; left alone because "
        f"another engage is sending it: {SLUG} (process {sender.pid} on {HOST}).\n"
    )
    quiet = finish(engage(many, "run", "--quiet"))
    assert quiet[:3] == (0, "", "")
    slow_sink.delay = 0
    code, out, err = finish(sender)
    assert code == 0, out + err
    assert out.splitlines()[0] == (
        f"{SLUG}: {N} handed to smtp this time. Of {N}: {N} sent, 0 failed, 0 skipped, "
        "0 unknown, 0 still to send."
    )
    assert copies(slow_sink) == collections.Counter(EVERYONE)


@pytest.mark.parametrize("background", [False, True], ids=["terminal", "background"])
def test_a_second_ctrl_c_stops_at_once_and_is_still_a_stop(many, slow_sink, background) -> None:
    """Also for an engage started in the background (`engage send ... &` from a script), which
    inherits Ctrl-C ignored: the first still asks for a clean stop, the second still stops it."""
    smtp_config(many, slow_sink.port)
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN) if background else None
    try:
        sender = engage(many, "send", SLUG, "--yes")  # inherits SIGINT ignored when background
    finally:
        if background:
            signal.signal(signal.SIGINT, ignored)
    wait_for(lambda: len(slow_sink.received) >= 30)
    sender.send_signal(signal.SIGINT)
    time.sleep(0.05)
    sender.send_signal(signal.SIGINT)
    code, out, err = finish(sender)
    slow_sink.delay = 0
    assert code == 130, out + err
    assert err.splitlines()[-1] == (
        f"Stopped at once by a second Ctrl-C. {SLUG} is stopped. Anything that was with the "
        "provider at that moment is recorded as unknown, never sent twice. To send the rest, "
        f"run `engage send {SLUG} --resume`."
    )
    assert "Traceback" not in err and "Aborted!" not in err
    assert set(counts(many)) <= {"sent", "pending", "unknown"}  # nothing left claimed
    assert status(many).startswith("stopped ")
    assert many.run("send", SLUG, "--yes").exit_code == 1
    code, out, err = finish(engage(many, "send", SLUG, "--yes", "--resume"))
    received = copies(slow_sink)
    assert max(received.values()) == 1
    assert set(received) | unknown_people(many) == EVERYONE


def test_two_campaigns_at_once_share_the_rate(project, db_url, monkeypatch) -> None:
    """rate_per_second = 20 for two campaigns of 60 people, sent by two processes at once:
    120 messages at 20 a second take five seconds or more from the start to the last (each
    alone at the full rate would take two)."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    n, rate = 60, 20
    rows = "".join(f"{address(i)},Person {i},newsletter\n" for i in range(n))
    path = project.write("p.csv", "email,name,tags\n" + rows)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    project.replace(
        "engage.toml", 'provider = "outbox"', f'provider = "outbox"\nrate_per_second = {rate}'
    )
    project.write("campaigns/second.md", project.read(f"campaigns/{SLUG}.md"))
    # When they start, by the file system's clock (the one the outbox files' times come from).
    started = project.write("started", "").stat().st_mtime
    senders = [engage(project, "send", slug, "--yes") for slug in (SLUG, "second")]
    for process in senders:
        code, out, err = finish(process)
        assert code == 0, out + err
    times = sorted(
        path.stat().st_mtime
        for slug in (SLUG, "second")
        for path in (project.root / "outbox" / slug).glob("*.eml")
    )
    assert len(times) == 2 * n
    # The first batch may go at once; each next one waits its second in the shared pace, so the
    # last cannot start before five seconds have passed (measured from the start, not from the
    # first file, which a busy machine may write late).
    assert times[-1] - started >= (2 * n - rate) / rate - 0.05
    busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    assert busiest <= 2 * rate


def test_ctrl_c_in_engage_run_is_a_stop_that_the_next_run_respects(many, slow_sink, monkeypatch):
    """A person who runs `engage run` by hand and presses Ctrl-C stopped the send too: it
    exits 130 saying so, and the next run leaves the campaign for `--resume`."""
    monkeypatch.setenv("ENGAGE_NOW", "2026-12-05T09:00:00Z")  # the newsletter is due
    smtp_config(many, slow_sink.port)
    runner = engage(many, "run")
    wait_for(lambda: len(slow_sink.received) >= 30)
    runner.send_signal(signal.SIGINT)
    code, out, err = finish(runner)
    assert code == 130, out + err
    sent = len(copies(slow_sink))
    assert err.startswith(f"engage run: 1 campaign(s) worked on, {sent} message(s) handed over; ")
    assert f"{SLUG} is stopped, by Ctrl-C: {sent} of {N} went" in err
    assert status(many) == f"stopped {sent} of {N}"
    assert finish(engage(many, "run"))[:2] == (0, "engage run: nothing was due.\n")
    assert len(copies(slow_sink)) == sent


def test_reconcile_resume_and_resend_unknown_wait_for_a_running_sender(many) -> None:
    """While another process is one of the send's senders, what changes rows it may be
    working on waits: `--reconcile`, `--resume` and `--resend-unknown` refuse, naming the
    process, with exit 75, and change nothing."""
    from engage import journal as owners
    from engage.sending import journal
    from engage.store import open_store

    assert many.run("send", SLUG, "--yes", "--now", "--limit", "5").exit_code == 0
    store = open_store(many.workspace)
    try:
        with store.begin() as connection:
            send_id = journal.existing(connection, SLUG).id
            journal.join(connection, send_id, owners.owner_name())  # this test's process
        busy = (
            f"Error: {SLUG} is being sent right now by another engage (process "
            f"{os.getpid()} on {HOST}). Nobody gets it twice: wait for it to finish, or stop "
            f"it with `engage send {SLUG} --stop`.\n"
        )
        for args in (["--reconcile"], ["--yes", "--resume"], ["--yes", "--resend-unknown"]):
            result = many.run("send", SLUG, *args)
            assert (result.exit_code, result.stdout, result.stderr) == (75, "", busy)
        assert counts(many) == {"sent": 5, "pending": N - 5}
    finally:
        store.engine.dispose()


def test_two_workspaces_in_one_postgresql_database_never_hold_each_others_locks(
    tmp_path,
) -> None:
    """PostgreSQL's advisory locks belong to the whole database: two workspaces that share one
    database, each in its own schema, may send campaigns with the same name at the same time,
    while a second sender in the same schema is still refused."""
    import uuid

    import sqlalchemy as sa

    from engage import locks
    from engage.store import Store, make_engine

    from .conftest import PG_ENV

    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"set {PG_ENV} to run the store tests on PostgreSQL")
    schemas = [f"test_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        for schema in schemas:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    stores = []
    try:
        for schema in schemas:
            url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
            store = Store(make_engine(url.render_as_string(hide_password=False)))
            with store.begin() as connection:
                locks.locks.create(connection)  # the one table a lock needs
            stores.append(store)
        first, second = stores
        with locks.hold(first, "send:news", "busy{who}"):
            # the other workspace: free
            with locks.hold(second, "send:news", "busy{who}"), first.connect() as connection:
                assert locks.holder(connection, "send:news") is not None  # still held here
            # the same workspace: refused
            with pytest.raises(locks.Busy), locks.hold(first, "send:news", "busy{who}"):
                pass
    finally:
        for store in stores:
            store.engine.dispose()
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
