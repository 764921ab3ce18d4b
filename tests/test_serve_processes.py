"""`engage serve` as several processes behind one proxy: two real servers on one workspace and
one database (a SQLite file on this host, or PostgreSQL), hit at the same moment. The sign-up
limit counts every hit on either, a confirmation link works once, a webhook event is stored
once, engage's own emails go once, and an event answered 2xx is stored even when its server is
killed the next moment."""

from __future__ import annotations

import email
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from engage.store import open_store
from engage.store.schema import consents, contacts, events, outgoing

from .test_serve import Served, engage_serve
from .test_web_hooks import mailgun_body

KEY, MG_KEY = "processes-key", "processes-mailgun-key"
LIMIT = 12  # sign-ups from one address in an hour


@pytest.fixture
def env(project, db_url, monkeypatch) -> dict[str, str]:
    """The servers' environment, also set for the test's own use of the store."""
    values = {
        "ENGAGE_SECRET_KEY": KEY,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MG_KEY,
        "ENGAGE_DATABASE_URL": db_url,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    project.replace("engage.toml", "[web]\n", f"[web]\nsignups_per_hour_per_ip = {LIMIT}\n")
    return values


@contextmanager
def two_servers(project, env: dict[str, str]) -> Iterator[list[Served]]:
    with ExitStack() as stack:
        yield [stack.enter_context(engage_serve(project, env)) for _ in range(2)]


def at_once(calls: list[Callable[[], object]]) -> list:
    """Run `calls` in threads released together; their results in order."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def event(number: int) -> dict:
    return {
        "id": f"processes-{number}",
        "timestamp": 1_790_000_000 + number,  # with the id, the event's id in engage
        "event": "delivered",
        "recipient": f"person{number}@example.org",
        "message": {"headers": {"message-id": f"processes.{number}@example.org"}},
    }


def post_event(base: str, body: dict) -> requests.Response:
    return requests.post(base + "/webhooks/mailgun", json=body, timeout=30)


def query(project, statement: sa.Executable) -> list:
    store = open_store(project.workspace)
    try:
        with store.connect() as connection:
            return connection.execute(statement).all()
    finally:
        store.engine.dispose()


def queue_drained(project, timeout: float = 60) -> list:
    """Wait until no own email is waiting or being sent; every row's state and address."""
    deadline = time.monotonic() + timeout
    while True:
        rows = query(
            project, sa.select(outgoing.c.state, outgoing.c.address).order_by(outgoing.c.id)
        )
        if not any(state in ("waiting", "claimed", "sending") for state, _ in rows):
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)


def test_sign_ups_links_and_own_emails_hold_across_two_processes(project, env) -> None:
    with two_servers(project, env) as servers:
        asked = at_once(
            [
                lambda i=i: (
                    requests.post(
                        servers[i % 2].base + "/subscribe",
                        data={"email": f"new{i}@example.org", "format": "html", "consent": "yes"},
                        timeout=30,
                    ).status_code
                )
                for i in range(30)
            ]
        )
        assert sorted(asked) == [200] * LIMIT + [429] * (30 - LIMIT)
        rows = queue_drained(project)
        assert [state for state, _ in rows] == ["sent"] * LIMIT
        sent = sorted((project.root / "outbox" / "system").rglob("*.eml"))
        mailed = [email.message_from_bytes(path.read_bytes())["To"] for path in sent]
        assert sorted(mailed) == sorted(address for _, address in rows)  # each once
        links = [_confirm_link(path) for path in sent[:4]]
        for path, link in zip(sent[:4], links, strict=True):
            csrf = re.search(
                r'name="csrf" value="([^"]+)"',
                requests.get(servers[0].base + link, timeout=30).text,
            )[1]
            titles = at_once(
                [
                    lambda s=s, link=link, csrf=csrf: _title(
                        requests.post(s.base + link, data={"csrf": csrf}, timeout=30).text
                    )
                    for s in servers
                ]
            )
            assert sorted(titles) == ["You are already signed up", "You are signed up"], path
    for address in [email.message_from_bytes(p.read_bytes())["To"] for p in sent[:4]]:
        given = query(
            project,
            sa.select(consents.c.method)
            .join(contacts, contacts.c.id == consents.c.contact_id)
            .where(contacts.c.email == address, consents.c.method == "form"),
        )
        assert given == [("form",)], address


def _confirm_link(path: Path) -> str:
    found = re.search(r"http://127\.0\.0\.1:\d+(/confirm/[0-9a-z.]+)", path.read_text())
    assert found, path
    return found[1]


def _title(page: str) -> str:
    return re.search(r"<h1[^>]*>\s*(.*?)\s*</h1>", page, re.S)[1]


def stored_numbers(project) -> list[int]:
    """The numbers of the events stored (see event), in order, each as often as stored."""
    ids = query(project, sa.select(events.c.event_id))
    return sorted(int(e.partition(":")[0].rpartition("-")[2]) for (e,) in ids)


def test_a_webhook_event_posted_to_both_processes_is_stored_once(project, env) -> None:
    with two_servers(project, env) as servers:
        answers = at_once(
            [
                lambda n=n, s=s: post_event(s.base, mailgun_body(event(n), key=MG_KEY))
                for n in range(20)
                for s in servers
            ]
        )
        assert [a.status_code for a in answers] == [200] * 40
        for n in range(20):
            pair = [answers[2 * n].json(), answers[2 * n + 1].json()]
            assert sorted(p["stored"] for p in pair) == [0, 1], pair
        replayed = mailgun_body(event(99), key=MG_KEY)  # one signature, sent to both
        twice = at_once([lambda s=s: post_event(s.base, replayed) for s in servers])
        assert [a.status_code for a in twice] == [200, 200]  # the same request: nothing new
        assert sorted(a.json()["stored"] for a in twice) == [0, 1]
        forged = mailgun_body(event(98), key=MG_KEY)  # its token, on another event: refused
        forged["signature"] = replayed["signature"]
        assert [post_event(s.base, forged).status_code for s in servers] == [403, 403]
    assert stored_numbers(project) == [*range(20), 99]


def test_an_event_answered_2xx_survives_its_server_killed(project, env) -> None:
    """kill -9 while a client posts: every event answered 2xx is stored; every other one,
    posted again to the other server, is stored once."""
    numbers = list(range(400))
    answered: set[int] = set()
    with two_servers(project, env) as (doomed, other):

        def client(mine: list[int]) -> None:
            for n in mine:
                try:
                    if post_event(doomed.base, mailgun_body(event(n), key=MG_KEY)).ok:
                        answered.add(n)
                except requests.RequestException:  # refused, or cut off mid-answer
                    return

        with ThreadPoolExecutor(4) as pool:
            running = [pool.submit(client, numbers[i::4]) for i in range(4)]
            while len(answered) < 60:
                time.sleep(0.01)
            os.kill(doomed.process.pid, signal.SIGKILL)
            for done in running:
                done.result()
        assert answered <= set(stored_numbers(project))  # 0 lost
        assert 60 <= len(answered) < len(numbers)
        for n in sorted(set(numbers) - answered):
            answer = post_event(other.base, mailgun_body(event(n), key=MG_KEY))
            assert answer.status_code == 200, answer.text
    assert stored_numbers(project) == numbers  # each once
