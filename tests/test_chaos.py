"""Several hosts on one PostgreSQL, with processes killed at random (issue 17).

Three `engage send`, two `engage serve` and two `engage run` loops, each in its own workspace
folder as it would be on its own computer, all pointing at one PostgreSQL. While the campaign
goes out through a fake Mailgun, a client posts delivery events to the two web processes the
way Mailgun does (the same signed body again until it gets a 200), and processes are killed
with SIGKILL at random moments and started again. Afterwards one last `engage send` settles
what the killed ones left. Then: every person has exactly one copy (0 duplicates, 0 skipped),
the send was shared between senders, and every event is stored exactly once (0 lost).
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from engage.store import open_url

from .fakes import FakeMailgun
from .live_site import free_port
from .test_faults import address, crowd_through_mailgun
from .test_providers import ENV, KEYS

SLUG = "doing-with-not-doing-to"
NOW = dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC)  # the newsletter is due (send_at 09:00)
SIGNING_KEY = "chaos-signing-key"
PEOPLE, EVENTS, RATE = 1500, 300, 300


class Host:
    """One process's workspace folder, and the process run in it, started again after a kill
    while the chaos lasts (a sender only until it finishes by itself)."""

    def __init__(self, name: str, root: Path, env: dict[str, str], *args: str) -> None:
        self.name, self.root, self.env, self.args = name, root, env, args
        self.process: subprocess.Popen | None = None
        self.codes: list[int] = []
        self.logs: list[str] = []
        self.kills = 0

    def start(self) -> None:
        log = self.root / f"{self.name}-{len(self.logs)}.log"
        self.logs.append(str(log))
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "engage", "--workspace", str(self.root), *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def reap(self) -> int | None:
        """The exit code when the process ended by itself since the last look."""
        if self.process is None or self.process.poll() is None:
            return None
        code = self.process.returncode
        self.codes.append(code)
        self.process = None
        return code

    def output(self) -> str:
        return "\n".join(f"--- {p}\n{Path(p).read_text()}" for p in self.logs)


def signed_event(i: int, moment: float) -> bytes:
    """A Mailgun delivery event about person i, signed as Mailgun signs: once, with the
    computer's time (a retry sends the very same body); `moment` is engage's time."""
    token = hashlib.sha256(f"chaos-{i}".encode()).hexdigest()[:50]
    stamp = str(int(time.time()))
    signature = hmac.new(SIGNING_KEY.encode(), f"{stamp}{token}".encode(), hashlib.sha256)
    body = {
        "signature": {"token": token, "timestamp": stamp, "signature": signature.hexdigest()},
        "event-data": {
            "id": f"chaos-event-{i}",
            "timestamp": moment,
            "event": "delivered",
            "recipient": address(i % PEOPLE),
            "message": {"headers": {"message-id": f"chaos-{i}@example.org"}},
        },
    }
    return json.dumps(body).encode()


class Poster(threading.Thread):
    """Posts EVENTS events to the web processes, each until one answers 200, as Mailgun
    retries: to whichever process is up, with the same body."""

    def __init__(self, ports: list[int], rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.ports, self.rng = ports, rng
        self.answered = 0
        self.retries = 0
        self.refused: list[str] = []

    def run(self) -> None:
        started = time.monotonic()
        session = requests.Session()
        for i in range(EVENTS):
            body = signed_event(i, NOW.timestamp() + time.monotonic() - started)
            while True:
                port = self.rng.choice(self.ports)
                try:
                    answer = session.post(
                        f"http://127.0.0.1:{port}/webhooks/mailgun",
                        data=body,
                        headers={"Content-Type": "application/json"},
                        timeout=5,
                    )
                except requests.RequestException:
                    answer = None
                if answer is not None and answer.status_code == 200:
                    self.answered += 1
                    break
                if answer is not None and answer.status_code < 500:
                    self.refused.append(f"event {i}: {answer.status_code} {answer.text[:200]}")
                    break
                self.retries += 1
                time.sleep(0.05)
            time.sleep(0.02)


def wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError(f"engage serve on port {port} did not start")


def test_three_senders_two_web_two_runs_killed_at_random(
    project, db_url, monkeypatch, tmp_path
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several hosts share PostgreSQL")
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_NOW", NOW.isoformat())
    monkeypatch.setenv("MAILGUN_WEBHOOK_SIGNING_KEY", SIGNING_KEY)
    # Each process's clock starts at NOW when the process starts and runs on from there. The
    # fake's records keep the time of the earliest start, so they are never earlier than the
    # time a sender gave its hand-over, as they would be by real clocks.
    began = time.monotonic()
    fake = FakeMailgun(
        api_key=KEYS["mailgun"],
        domain="mg.example.org",
        delay=0.05,
        clock=lambda: NOW + dt.timedelta(seconds=time.monotonic() - began),
    )
    fake.keep_bodies = False
    fake.start()
    rng = random.Random(2026)
    hosts: list[Host] = []
    try:
        crowd_through_mailgun(project, monkeypatch, fake, PEOPLE, RATE)

        env = {**os.environ, ENV["mailgun"]: KEYS["mailgun"]}

        def host(name: str, *args: str) -> Host:
            root = tmp_path / name
            shutil.copytree(project.root, root)
            return Host(name, root, env, *args)

        senders = [host(f"sender-{n}", "send", SLUG, "--yes", "--now") for n in (1, 2, 3)]
        ports = [free_port(), free_port()]
        webs = [host(f"web-{n}", "serve", "--port", str(p)) for n, p in enumerate(ports, 1)]
        runs = [host(f"run-{n}", "run") for n in (1, 2)]
        hosts = senders + webs + runs
        for each in webs:
            each.start()
        for port in ports:
            wait_for(port)
        for each in senders + runs:
            each.start()
        poster = Poster(ports, rng)
        poster.start()

        # The chaos: while the campaign is going out, kill one process at a time, at random,
        # and start it again a moment later.
        deadline = time.monotonic() + 60
        kills = 0
        while time.monotonic() < deadline and (len(fake.messages) < PEOPLE * 0.8 or kills < 8):
            time.sleep(rng.uniform(0.2, 0.8))
            for each in runs + webs:  # cron starts `engage run` again; web processes restart
                if each.reap() is not None:
                    each.start()
            for each in senders:
                each.reap()
            alive = [each for each in hosts if each.running()]
            if not alive:
                break
            victim = rng.choice(alive)
            victim.kill()
            kills += 1
            time.sleep(0.1)
            victim.start()
            if victim in webs:
                wait_for(ports[webs.index(victim)])
        poster.join(timeout=120)
        assert not poster.is_alive(), "the webhook events were not all answered"

        # The chaos is over: the survivors finish, then one last send settles what was left.
        for each in hosts:
            if each in webs or each in runs:
                if each.running():
                    each.process.terminate()
                    each.process.wait(timeout=60)
            elif each.running():
                each.process.wait(timeout=300)
            each.reap()
        # A sender that ran for 40 s recorded its hand-overs at NOW + 40 s. The last send comes
        # after all of them, as it would by real clocks: its clock starts where the fake's is.
        later = NOW + dt.timedelta(seconds=time.monotonic() - began + 1)
        final = subprocess.run(
            [sys.executable, "-m", "engage", "--workspace", str(senders[0].root)]
            + ["send", SLUG, "--yes"],
            capture_output=True,
            text=True,
            env={**env, "ENGAGE_NOW": later.isoformat()},
            timeout=300,
        )
        assert final.returncode == 0, final.stdout + final.stderr

        copies = collections.Counter(m["email"] for m in fake.messages)
        duplicates = {a: n for a, n in copies.items() if n > 1}
        skipped = {address(i) for i in range(PEOPLE)} - set(copies)
        assert (duplicates, len(skipped)) == ({}, 0), "\n".join(h.output() for h in senders)
        assert sum(copies.values()) == PEOPLE
        assert poster.refused == []
        assert poster.answered == EVENTS
        assert kills >= 8

        store = open_url(db_url)
        try:
            with store.connect() as connection:
                statuses = dict(
                    connection.execute(
                        sa.text("SELECT status, count(*) FROM deliveries GROUP BY status")
                    ).all()
                )
                owners = connection.execute(
                    sa.text("SELECT count(DISTINCT owner) FROM deliveries WHERE status = 'sent'")
                ).scalar()
                stored = connection.execute(
                    sa.text(
                        "SELECT event_id FROM events WHERE provider = 'mailgun' "
                        "AND event_id LIKE 'chaos-event-%'"
                    )
                ).scalars()
                stored_ids = collections.Counter(e.partition(":")[0] for e in stored)
        finally:
            store.engine.dispose()
        assert statuses == {"sent": PEOPLE}
        assert owners >= 2, "the send was not shared between senders"
        assert stored_ids == collections.Counter(f"chaos-event-{i}" for i in range(EVENTS))
    finally:
        for each in hosts:
            if each.running():
                each.kill()
        fake.stop()
