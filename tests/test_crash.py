"""Real processes: a send killed with SIGKILL mid-campaign, and overlapping senders and runs.
Whatever happens, nobody gets the newsletter twice."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from engage.store import open_store

from .conftest import CLOCK_START
from .smtp_sink import SmtpSink
from .test_sending import AFTER, KEY, SLUG, smtp_config

N = 300


def many_people(project) -> None:
    rows = "".join(f"p{i:03d}@example.org,Person {i},newsletter\n" for i in range(N))
    path = project.write("many.csv", "email,name,tags\n" + rows)
    assert project.run("contacts", "import", str(path)).exit_code == 0


def engage(project, *args: str) -> subprocess.Popen:
    """engage in its own process; its clock starts after the example campaigns' send_at, unless
    the test set ENGAGE_NOW."""
    return engage_in(project.root, *args)


def engage_in(root: Path, *args: str) -> subprocess.Popen:
    """`engage` as above, in the workspace folder `root` (another host's copy, say)."""
    env = {
        "ENGAGE_NOW": AFTER.isoformat(),
        **os.environ,
        "ENGAGE_SECRET_KEY": KEY,
        "TEST_SMTP_PASSWORD": "pw",
        "ENGAGE_USER": "test",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "engage", "--workspace", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def states(project) -> dict[str, int]:
    store = open_store(project.workspace)
    with store.connect() as c:
        counts = dict(
            c.execute(sa.text("SELECT status, count(*) FROM deliveries GROUP BY status")).all()
        )
    store.engine.dispose()
    return counts


def unknown_addresses(project) -> set[str]:
    store = open_store(project.workspace)
    with store.connect() as c:
        rows = (
            c.execute(
                sa.text(
                    "SELECT contacts.email FROM deliveries JOIN contacts ON contacts.id = contact_id "
                    "WHERE deliveries.status = 'unknown'"
                )
            )
            .scalars()
            .all()
        )
    store.engine.dispose()
    return set(rows)


def test_sigkill_mid_send_then_rerun_mails_everyone_once(project) -> None:
    many_people(project)
    sink = SmtpSink(password="pw", delay=0.01).start()
    try:
        smtp_config(project, sink.port)
        sender = engage(project, "send", SLUG, "--yes")
        deadline = time.monotonic() + 60
        while len(sink.received) < 130 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait(timeout=10)
        first = collections.Counter(to for to, _ in sink.received)
        assert 130 <= sum(first.values()) < N

        sink.delay = 0
        rerun = engage(project, "send", SLUG, "--yes")
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 1, out + err  # the unknown batch is a problem to report
        unknown = unknown_addresses(project)
        assert 0 < len(unknown) <= 100
        assert "may or may not have gone" in err

        received = collections.Counter(to for to, _ in sink.received)
        assert max(received.values()) == 1, "someone got two copies"
        everyone = {f"p{i:03d}@example.org" for i in range(N)}
        assert set(received) | unknown == everyone
        assert states(project) == {"sent": N - len(unknown), "unknown": len(unknown)}

        resend = engage(project, "send", SLUG, "--yes", "--resend-unknown")
        resend.communicate(timeout=120)
        assert resend.returncode == 0
        final = collections.Counter(to for to, _ in sink.received)
        assert set(final) == everyone
        never_had_it = unknown - set(received)
        assert all(final[a] == 1 for a in never_had_it)
        assert all(final[a] == 1 for a in everyone - unknown)
    finally:
        sink.stop()


def test_a_second_sender_joins_the_first(project, db_url, monkeypatch) -> None:
    """A second `engage send` of a campaign being sent joins it: each sends its own batches,
    nobody gets it twice, and between them they hand over everyone once."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    many_people(project)
    sink = SmtpSink(password="pw", delay=0.02).start()  # six seconds for everyone
    try:
        smtp_config(project, sink.port)
        first = engage(project, "send", SLUG, "--yes")
        deadline = time.monotonic() + 60
        while len(sink.received) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        second = engage(project, "send", SLUG, "--yes")
        handed = 0
        for process in (second, first):
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, out + err
            handed += int(out.split(" handed to smtp", 1)[0].rsplit(" ", 1)[-1])
        sink.delay = 0
        assert handed == N
        received = collections.Counter(to for to, _ in sink.received)
        assert len(received) == N
        assert max(received.values()) == 1
        assert states(project) == {"sent": N}
    finally:
        sink.stop()


def test_two_runs_started_together_send_each_message_once(project, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_NOW", CLOCK_START.isoformat())  # share-your-story is not due
    many_people(project)
    project.replace(
        f"campaigns/{SLUG}.md", "send_at = 2026-12-03T09:00:00Z", "send_at = 2020-01-01T09:00:00Z"
    )
    runs = [engage(project, "run"), engage(project, "run")]
    codes = []
    for process in runs:
        out, err = process.communicate(timeout=120)
        codes.append(process.returncode)
        assert process.returncode in (0, 75), out + err
    files = list((project.root / "outbox" / SLUG).glob("*.eml"))
    assert len(files) == N
    assert len({f.name.split("-", 1)[1] for f in files}) == N
    assert states(project) == {"sent": N}
