"""`engage serve` in its own process: it stays up when many connections sit idle (with
waitress's defaults, 110 idle connections stopped every page, unsubscribe and webhook), and
behind a reverse proxy it reads the visitor's address from the proxy's headers alone."""

from __future__ import annotations

import json
import os
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from engage.contacts import core
from engage.store import open_store
from engage.tokens import Signer

from .live_site import free_port
from .test_web_hooks import mailgun_body

KEY, MG_KEY = "idle-test-key", "idle-mailgun-key"
PAYLOADS = Path(__file__).parent / "payloads"
IDLE = 500


class Served:
    def __init__(self, base: str, process: subprocess.Popen, started: str) -> None:
        self.base, self.process, self.started = base, process, started

    def stop(self) -> str:
        """Stop the server; what it said after it started serving."""
        self.process.terminate()
        return self.process.communicate(timeout=30)[0]


@contextmanager
def engage_serve(
    project, env: dict[str, str], *options: str, open_files: int | None = None
) -> Iterator[Served]:
    """`engage serve` in its own process, once it says it is serving; `open_files` is the
    system's limit on the files it may open."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    port = free_port()
    command = [sys.executable, "-m", "engage", "--workspace", str(project.root), "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port), *options],
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=limit if open_files else None,
    )
    try:
        said = []
        for line in process.stdout:  # type: ignore[union-attr]
            said.append(line)
            if line.startswith("engage is serving"):
                break
        else:
            raise AssertionError("engage serve stopped: " + "".join(said))
        yield Served(f"http://127.0.0.1:{port}", process, "".join(said))
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def idle_connections(stack: ExitStack, port: int, count: int) -> list[socket.socket]:
    """`count` connections that say nothing, or half a request and then nothing."""
    sockets = []
    for i in range(count):
        connection = stack.enter_context(socket.create_connection(("127.0.0.1", port), 5))
        if i % 2:
            connection.sendall(b"GET /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(connection)
    return sockets


def test_500_idle_connections_leave_the_site_answering(project, db_url, monkeypatch) -> None:
    env = {
        "ENGAGE_SECRET_KEY": KEY,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MG_KEY,
        "ENGAGE_DATABASE_URL": db_url,
    }
    for name, value in env.items():  # for this test's own use of the store, as for the server
        monkeypatch.setenv(name, value)
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    store = open_store(project.workspace)
    with store.connect() as c:
        amira = core.find(c, "amira.hassan@example.org")
    unsubscribe = f"/unsubscribe/{Signer(KEY).sign('u', amira.id, 0)}"
    event = json.loads((PAYLOADS / "mailgun/failed-permanent.json").read_text())["event-data"]
    event["timestamp"] = time.time()
    with engage_serve(project, env) as served, ExitStack() as stack:
        base = served.base
        port = int(base.rsplit(":", 1)[1])
        idle_connections(stack, port, IDLE)
        took = {}
        for name, method, path, kwargs in [
            ("page", "GET", "/subscribe", {}),
            ("unsubscribe", "POST", unsubscribe, {"data": "List-Unsubscribe=One-Click"}),
            ("webhook", "POST", "/webhooks/mailgun", {"json": mailgun_body(event, key=MG_KEY)}),
        ]:
            started = time.perf_counter()
            answer = requests.request(method, base + path, timeout=20, **kwargs)
            took[name] = time.perf_counter() - started
            assert answer.status_code == 200, (name, answer.text[:300])
        assert max(took.values()) < 5, took  # a sanity bound; measured well under 0.1 s
    with store.connect() as c:
        assert core.find(c, "amira.hassan@example.org").status == "unsubscribed"
    store.engine.dispose()


def test_serve_explains_its_connection_limit(project) -> None:
    result = project.run("serve", "--connections", "5")
    assert result.exit_code == 2
    assert result.output.endswith(
        "Error: Invalid value for '--connections': 5 is not in the range 10<=x<=100000.\n"
    )


@pytest.mark.parametrize(
    ("options", "seen_as"),
    [((), "127.0.0.1"), (("--proxy", "127.0.0.1"), "203.0.113.9")],
    ids=["alone", "behind a proxy"],
)
def test_the_visitor_address_comes_from_the_proxy_alone(project, options, seen_as) -> None:
    env = {"ENGAGE_SECRET_KEY": KEY, "MAILGUN_WEBHOOK_SIGNING_KEY": MG_KEY}
    with engage_serve(project, env, *options) as served:
        refused = requests.post(
            served.base + "/webhooks/mailgun",
            json={},
            headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
            timeout=20,
        )
        assert refused.status_code == 401
        said = served.stop()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| Problem: refused mailgun events webhook from "
        + re.escape(seen_as)
        + r": Mailgun webhook: no timestamp, token, signature in the request\n",
        said,
    ), said


def test_a_low_limit_on_open_files_means_fewer_connections_and_says_so(project) -> None:
    env = {"ENGAGE_SECRET_KEY": KEY}
    with engage_serve(project, env, "--connections", "1000", open_files=300) as served:
        assert requests.get(served.base + "/subscribe", timeout=20).status_code == 200
    assert re.search(
        r"\| Problem: This system lets engage open 300 files, so it will keep 236 connections "
        r"open, not 1000\. Raise the limit \(ulimit -n\) to allow more\.\n",
        served.started,
    ), served.started


def test_requests_waiting_for_a_thread_fill_no_log(project) -> None:
    """With one thread and 20 requests at once, most wait their turn: that is normal, and the
    log says nothing of it (waitress wrote "Task queue depth is N" for each one)."""
    env = {"ENGAGE_SECRET_KEY": KEY}
    with engage_serve(project, env, "--threads", "1") as served:

        def page(_: int) -> int:
            return requests.get(served.base + "/subscribe", timeout=30).status_code

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(page, range(100)))
        said = served.stop()
    assert answers == [200] * 100
    assert "Task queue depth" not in said
    assert "Problem" not in said, said
