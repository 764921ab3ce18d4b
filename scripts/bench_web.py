"""The web app under load, as it runs in production: `engage serve` (waitress) in its own
process, and 20 concurrent clients on loopback posting signed Mailgun webhook events (one in
ten a repeat of an earlier event, signed anew, as a provider's retry is) and sign-ups.
Checks that every distinct event is stored exactly once (none lost); reports latency and
throughput after a warm-up, and the server's CPU for each event. On SQLite and PostgreSQL
(--database-url; PostgreSQL in a schema of its own, dropped afterwards).
Then holds IDLE connections open that say nothing (or half a request), as a slow or hostile
client does, and reports how fast pages and webhooks are still answered.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
KEY, MG_KEY = "bench-secret", "bench-mailgun-signing-key"
CLIENTS = 20
WHILE_IDLE = 100  # requests of each kind while the idle connections are held
PG_ENV = "ENGAGE_TEST_DATABASE_URL"
WARM_UP_FROM = 1_000_000  # the warm-up's event numbers, apart from the timed ones


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def workspace(folder: Path, port: int) -> Path:
    root = folder / "ws"
    root.mkdir()
    for name in ("templates", "campaigns", "audiences"):
        shutil.copytree(ROOT / name, root / name)
    config = (
        (ROOT / "engage.toml")
        .read_text()
        .replace('base_url = "http://127.0.0.1:8025"', f'base_url = "http://127.0.0.1:{port}"')
    )
    config = config.replace("[web]\n", "[web]\nsignups_per_hour_per_ip = 1000000\n")
    (root / "engage.toml").write_text(config)
    return root


def signed_event(i: int) -> dict:
    token = secrets.token_hex(25)
    stamp = str(int(time.time()))
    signature = hmac.new(MG_KEY.encode(), f"{stamp}{token}".encode(), hashlib.sha256).hexdigest()
    event = {
        "id": f"bench-{i}",
        "timestamp": 1_790_000_000 + i,
        "event": "delivered",
        "recipient": f"person{i % 1000}@example.org",
        "message": {"headers": {"message-id": f"bench.{i}@example.org"}},
    }
    return {
        "signature": {"token": token, "timestamp": stamp, "signature": signature},
        "event-data": event,
    }


local = threading.local()


def timed(
    method: str, url: str, body: bytes | None = None, form: bool = False
) -> tuple[float, int]:
    """Seconds and status of one request, over this thread's own kept-alive connection. The
    clients are plain http.client, with their bodies made before the clock starts: they share
    the 2 cores with the server, and `requests` cost 1.1 ms of CPU a request on them, in one
    process whose lock made each client wait for the others too (a provider's servers are
    elsewhere: what is measured is engage)."""
    parts = urllib.parse.urlsplit(url)
    if not hasattr(local, "connections"):
        local.connections = {}
    connection = local.connections.get(parts.netloc)  # a server of its own for each database
    if connection is None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        local.connections[parts.netloc] = connection
    kind = "application/x-www-form-urlencoded" if form else "application/json"
    started = time.perf_counter()
    connection.request(method, parts.path, body, {"Content-Type": kind} if body else {})
    answer = connection.getresponse()
    answer.read()
    return time.perf_counter() - started, answer.status


def event_body(i: int) -> bytes:
    return json.dumps(signed_event(i)).encode()


def cpu_seconds(pid: int) -> float:
    """The CPU time process `pid` has used (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(name: str, results: list[tuple[float, int]], seconds: float) -> None:
    latencies = sorted(r[0] for r in results)
    errors = sum(1 for _, status in results if status >= 400)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"{name}: {len(results):,} requests in {seconds:.1f} s, "
        f"{len(results) / seconds:,.0f} a second; "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; "
        f"{errors} errors"
    )


def with_idle_connections(base: str, port: int, count: int, first_event: int) -> None:
    """Pages and webhooks, one at a time, while `count` connections sit idle."""
    idle = []
    try:
        for i in range(count):
            connection = socket.create_connection(("127.0.0.1", port), 5)
            if i % 2:
                connection.sendall(b"GET /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            idle.append(connection)
        started = time.perf_counter()
        pages = [timed("GET", f"{base}/subscribe") for _ in range(WHILE_IDLE)]
        report(f"pages with {count} idle connections", pages, time.perf_counter() - started)
        started = time.perf_counter()
        hooks = [
            timed("POST", f"{base}/webhooks/mailgun", body)
            for body in [event_body(first_event + i) for i in range(WHILE_IDLE)]
        ]
        took = time.perf_counter() - started
        report(f"webhook events with {count} idle connections", hooks, took)
    finally:
        for connection in idle:
            connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="?", type=int, default=10_000)
    parser.add_argument("signups", nargs="?", type=int, default=1_000)
    parser.add_argument("--idle", type=int, default=500, help="idle connections to hold open")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=200,
        help="events posted before the clock starts (the first requests open connections and "
        "load code)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="engage serve's --threads (default: its own default, as it runs unless told)",
    )
    parser.add_argument(
        "--database-url",
        action="append",
        metavar="URL",
        help="a database to measure (repeat for several): sqlite (a new file) or a PostgreSQL "
        f"URL, where a schema of its own is made and dropped. Default: sqlite, and ${PG_ENV} "
        "when it is set",
    )
    args = parser.parse_args()
    urls = args.database_url or ["sqlite", *filter(None, [os.environ.get(PG_ENV)])]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}; {CLIENTS} clients; "
        f"engage serve with {args.threads or 'its default'} threads"
    )
    for url in urls:
        with tempfile.TemporaryDirectory() as folder, database(url, Path(folder)) as chosen:
            print(f"\n{chosen.name}:")
            run(Path(folder), chosen.url, args)


@dataclass
class Database:
    name: str
    url: str


@contextmanager
def database(url: str, folder: Path) -> Iterator[Database]:
    """`url` as a database of the bench's own: a new SQLite file, or a new schema in the
    PostgreSQL database (dropped afterwards)."""
    if url == "sqlite" or url.startswith("sqlite:"):
        yield Database("SQLite", f"sqlite:///{folder / 'engage.db'}")
        return
    schema = f"bench_web_{secrets.token_hex(6)}"
    base = sa.make_url(url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    own = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield Database("PostgreSQL", own.render_as_string(hide_password=False))
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(folder: Path, url: str, args: argparse.Namespace) -> None:
    port = free_port()
    root = workspace(folder, port)
    env = {
        **os.environ,
        "ENGAGE_SECRET_KEY": KEY,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MG_KEY,
        "ENGAGE_DATABASE_URL": url,
    }
    command = [sys.executable, "-m", "engage", "--workspace", str(root), "serve"]
    server = subprocess.Popen(
        [
            *command,
            "--port",
            str(port),
            *(["--threads", str(args.threads)] if args.threads else []),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{base}/subscribe", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        hook = f"{base}/webhooks/mailgun"
        distinct = args.events - args.events // 10
        numbers = [i if i < distinct else i - distinct for i in range(args.events)]
        with ThreadPoolExecutor(CLIENTS) as pool:
            warm = [event_body(WARM_UP_FROM + i) for i in range(args.warm_up)]  # not timed
            list(pool.map(lambda body: timed("POST", hook, body), warm))
            distinct += args.warm_up
            bodies = [event_body(i) for i in numbers]  # signed now, as a provider signs them
            started, cpu = time.perf_counter(), cpu_seconds(server.pid)
            results = list(pool.map(lambda body: timed("POST", hook, body), bodies))
            report("webhook events", results, time.perf_counter() - started)
            used = (cpu_seconds(server.pid) - cpu) / len(results)
            print(f"  the server's CPU: {used * 1000:.2f} ms an event")
            forms = [
                urllib.parse.urlencode(
                    {
                        "email": f"new{i}@example.org",
                        "name": f"New {i}",
                        "format": "html",
                        "consent": "yes",
                    }
                ).encode()
                for i in range(args.signups)
            ]
            started = time.perf_counter()
            signups = list(
                pool.map(lambda form: timed("POST", f"{base}/subscribe", form, form=True), forms)
            )
            report("sign-ups", signups, time.perf_counter() - started)
        if args.idle:
            with_idle_connections(base, port, args.idle, args.events)
            distinct += WHILE_IDLE
    finally:
        server.terminate()
        server.wait(timeout=30)
    counted(url, distinct, args.signups)


def counted(url: str, distinct: int, signups: int) -> None:
    """Count what was stored: every distinct event once, and every sign-up queued once."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT count(*), count(DISTINCT event_id) FROM events")
        ).one()
        queued = connection.execute(
            sa.text("SELECT count(*) FROM outgoing WHERE kind = 'signup'")
        ).scalar()
    engine.dispose()
    print(
        f"events stored: {stored[0]:,} ({stored[1]:,} distinct; {distinct:,} sent, each once): "
        f"{'exactly once' if stored[0] == stored[1] == distinct else 'WRONG'}, "
        f"{distinct - stored[1]:,} lost; sign-ups queued: {queued:,} of {signups:,}"
    )


if __name__ == "__main__":
    main()
