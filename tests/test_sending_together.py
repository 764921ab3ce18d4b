"""Several senders on one campaign, as several hosts would run them: real processes, each with
its own workspace folder, all on one database (SQLite and PostgreSQL). They split the campaign
through the journal; whatever happens to one of them, everyone gets it exactly once, or is
unknown (never sent twice); the rate holds for all of them together; --stop stops them all.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys

import pytest

from .smtp_sink import SmtpSink
from .test_crash import engage_in, states, unknown_addresses
from .test_faults import wait_for
from .test_sending import KEY, SLUG, smtp_config
from .test_stopping import status

N = 500  # five SMTP batches of 100
EVERYONE = {f"p{i:03d}@example.org" for i in range(N)}
HANDED = f"{SLUG}: "  # the start of a sender's summary line


@pytest.fixture
def crowd(project, db_url, monkeypatch):
    """N subscribers of the newsletter in the database at db_url."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    rows = "".join(
        f"{address},Person {i},newsletter\n" for i, address in enumerate(sorted(EVERYONE))
    )
    path = project.write("many.csv", "email,name,tags\n" + rows)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    return project


@pytest.fixture
def sink():
    """An SMTP server that takes 10 ms a message: a batch of 100 takes a second."""
    server = SmtpSink(password="pw", delay=0.01).start()
    yield server
    server.stop()


def host(project, name: str):
    """Another host's copy of the workspace: its own folder, the same database."""
    root = project.root.parent / name
    shutil.copytree(project.root, root, ignore=shutil.ignore_patterns("*.db*", "outbox"))
    return root


def sender(root, *args: str) -> subprocess.Popen:
    return engage_in(root, "send", SLUG, "--yes", *args)


def finish(process) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=180)
    return process.returncode, out, err


def handed(out: str) -> int:
    """How many a sender handed over, from its summary line."""
    line = next(line for line in out.splitlines() if line.startswith(HANDED))
    return int(line.removeprefix(HANDED).split(" ", 1)[0])


def copies(sink: SmtpSink) -> collections.Counter:
    return collections.Counter(to for to, _ in sink.received)


def test_three_senders_split_one_campaign_and_everyone_gets_it_once(crowd, sink) -> None:
    """Started at the same moment: the audience is snapshotted once, each sender sends its
    own batches, and the last one to finish marks the campaign sent."""
    smtp_config(crowd, sink.port)
    roots = [host(crowd, f"host-{i}") for i in range(3)]
    senders = [sender(root) for root in roots]
    results = [finish(process) for process in senders]
    for code, out, err in results:
        assert code == 0, out + err
        assert "Traceback" not in err
    shares = [handed(out) for _, out, _ in results]
    assert sum(shares) == N
    assert sum(1 for share in shares if share) >= 2, shares  # the work was shared
    assert copies(sink) == collections.Counter(EVERYONE)
    assert states(crowd) == {"sent": N}
    assert status(crowd) == f"sent {N} of {N}"
    assert sum(f"{SLUG} is sent." in out for _, out, _ in results) >= 1


def test_a_killed_sender_leaves_unknown_never_resent_and_the_others_finish(crowd, sink) -> None:
    """SIGKILL one of three senders mid-send: what it had handed over is unknown (never sent
    again), what it had only claimed is taken by the others, and the send finishes."""
    smtp_config(crowd, sink.port)
    first = sender(host(crowd, "host-0"))
    wait_for(lambda: len(sink.received) >= 30)  # the first sender is in its first batch
    others = [sender(host(crowd, f"host-{i}")) for i in (1, 2)]
    wait_for(lambda: len(sink.received) >= 50)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    results = [finish(process) for process in others]
    for code, out, err in results:
        assert code in (0, 1), out + err  # 1: the unknown messages are reported
        assert "Traceback" not in err
    received = copies(sink)
    unknown = unknown_addresses(crowd)
    assert max(received.values()) == 1, "someone got two copies"
    assert 0 < len(unknown) <= 100  # the batch the killed sender had with the server
    assert set(received) | unknown == EVERYONE
    assert states(crowd) == {"sent": N - len(unknown), "unknown": len(unknown)}
    assert status(crowd) == f"sent {N - len(unknown)} of {N}"
    assert any("may or may not have gone" in err for _, _, err in results)


def test_the_rate_holds_for_all_senders_together(project, db_url, monkeypatch) -> None:
    """rate_per_second = 20 for three senders of one campaign of 120 people: the 120 files
    take five seconds or more between the first and the last. Each with the whole rate, they
    would take two."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    n, rate = 120, 20
    rows = "".join(f"p{i:03d}@example.org,Person {i},newsletter\n" for i in range(n))
    path = project.write("p.csv", "email,name,tags\n" + rows)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    project.replace(
        "engage.toml", 'provider = "outbox"', f'provider = "outbox"\nrate_per_second = {rate}'
    )
    roots = [host(project, f"host-{i}") for i in range(3)]
    results = [finish(process) for process in [sender(root) for root in roots]]
    for code, out, err in results:
        assert code == 0, out + err
    assert sum(1 for _, out, _ in results if handed(out)) >= 2  # they shared it
    times = sorted(path.stat().st_mtime for root in roots for path in root.glob("outbox/*/*.eml"))
    assert len(times) == n
    assert times[-1] - times[0] >= (n - rate) / rate - 0.5
    busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    assert busiest <= 2 * rate


def test_stop_stops_every_sender_then_resume_sends_the_rest_once(crowd, sink) -> None:
    """`engage send CAMPAIGN --stop` stops every sender of the send after its batch in hand."""
    sink.delay = 0.05  # a batch takes five seconds: time for --stop to start and ask
    smtp_config(crowd, sink.port)
    senders = [sender(host(crowd, f"host-{i}")) for i in range(2)]
    wait_for(lambda: len(sink.received) >= 30)
    asked = finish(sender(crowd.root, "--stop"))
    sink.delay = 0
    assert asked[0] == 0, asked
    assert asked[1].startswith(f"{SLUG} is stopped: ")
    for process in senders:
        code, out, err = finish(process)
        assert code == 1, out + err  # a stop asked with --stop
        assert f"{SLUG} is stopped, as test asked" in out
    went = len(copies(sink))
    assert 30 <= went < N
    assert status(crowd) == f"stopped {went} of {N}"
    code, out, err = finish(sender(crowd.root, "--resume"))
    assert code == 0, out + err
    assert copies(sink) == collections.Counter(EVERYONE)
    assert states(crowd) == {"sent": N}


def test_recovery_settles_only_what_dead_senders_left(project, db_url, monkeypatch) -> None:
    """The rule under every test above: a sender's rows are settled (claimed → pending,
    sending → unknown) only once it is no longer working: on this computer when its process
    has ended, on another when its lease has run out. A live sender's rows are never touched,
    and only dead senders leave the list."""
    import datetime as dt
    import socket

    import sqlalchemy as sa

    from engage import clock
    from engage import journal as owners
    from engage.sending import journal
    from engage.store import open_store
    from engage.store.schema import deliveries, senders

    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    rows = "".join(f"p{i}@example.org,Person {i},newsletter\n" for i in range(6))
    assert (
        project.run(
            "contacts", "import", str(project.write("p.csv", "email,name,tags\n" + rows))
        ).exit_code
        == 0
    )
    assert project.run("send", SLUG, "--yes", "--now", "--limit", "1").exit_code == 0
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    here = socket.gethostname()
    live_here, dead_here = owners.owner_name(), f"{here}:{ended.pid}:dead"
    live_there, gone_there = "elsewhere:4242:live", "elsewhere:4243:gone"
    hour = dt.timedelta(hours=1)
    store = open_store(project.workspace)
    try:
        with store.begin() as connection:
            send_id = journal.existing(connection, SLUG).id
            for owner, expires in [
                (live_here, clock.now() - hour),  # on this computer the process decides
                (dead_here, clock.now() + hour),
                (live_there, clock.now() + hour),
                (gone_there, clock.now() - hour),
            ]:
                connection.execute(
                    senders.insert().values(
                        send_id=send_id, owner=owner, joined_at=clock.now(), expires_at=expires
                    )
                )
            pending = (
                connection.execute(
                    sa.select(deliveries.c.id)
                    .where(deliveries.c.send_id == send_id, deliveries.c.status == "pending")
                    .order_by(deliveries.c.id)
                )
                .scalars()
                .all()
            )
            left = [
                ("claimed", live_here),
                ("sending", live_there),
                ("claimed", dead_here),
                ("sending", dead_here),
                ("claimed", gone_there),
            ]
            for row_id, (status_, owner) in zip(pending, left, strict=False):
                connection.execute(
                    deliveries.update()
                    .where(deliveries.c.id == row_id)
                    .values(status=status_, owner=owner)
                )
        assert journal.recover(store, send_id) == 2
        with store.connect() as connection:
            after = [
                connection.execute(
                    sa.select(deliveries.c.status).where(deliveries.c.id == row_id)
                ).scalar()
                for row_id in pending[:5]
            ]
            still = set(connection.execute(sa.select(senders.c.owner)).scalars())
        assert after == ["claimed", "sending", "pending", "unknown", "pending"]
        assert still == {live_here, live_there}
    finally:
        store.engine.dispose()
