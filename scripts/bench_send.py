"""engage send, end to end, in its own process, as cron would run it.

Part 1: N recipients (default 10,000, 100,000 and 1,000,000, one send each) through a fake
Mailgun API on loopback that waits 50 ms before answering each call. Measured: wall time from
start to "sent", the sending process's CPU time and peak memory, and that the fake accepted
every address exactly once. With --workers W and --database-url (PostgreSQL), W `engage send`
processes, each with its own workspace folder as if on its own host, share each send.

Part 2: M recipients (default 2,000) over SMTP to a local aiosmtpd sink, by `engage send` and
by `mailmerge` (the PyPI mail merge tool) with the same message, one after the other.
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import platform
import quopri
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engage import campaigns  # noqa: E402
from engage.config import load_workspace  # noqa: E402
from engage.contacts.importer import Options, import_file  # noqa: E402
from engage.render.build import build, sample_recipient  # noqa: E402
from engage.store import open_store, open_url  # noqa: E402
from tests.fakes import FakeMailgun  # noqa: E402
from tests.smtp_sink import SmtpSink  # noqa: E402

SLUG = "doing-with-not-doing-to"
ENV = {"ENGAGE_SECRET_KEY": "bench-secret", "BENCH_MG_KEY": "key-bench", "ENGAGE_USER": "bench"}


def workspace(folder: Path, n: int, provider: str, settings: str, url: str = "") -> Path:
    root = folder / f"ws-{n}"
    root.mkdir()
    for name in ("templates", "campaigns", "audiences"):
        shutil.copytree(ROOT / name, root / name)
    config = (ROOT / "engage.toml").read_text()
    config = config.replace('provider = "outbox"', f'provider = "{provider}"')
    # A real provider needs links everyone can reach (lint's base-url rule); nothing follows them.
    config = config.replace(
        'base_url = "http://127.0.0.1:8025"', 'base_url = "https://news.example.org"'
    )
    (root / "engage.toml").write_text(config + "\n" + settings)
    with (root / "people.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "first_name", "tags", "format"])
        for i in range(n):
            fmt = ("html", "html", "html", "plain", "large-print")[i % 5]
            writer.writerow([f"person{i}@example.org", f"Person {i}", "Person", "newsletter", fmt])
    ws = load_workspace(root / "engage.toml")
    store = open_url(url) if url else open_store(ws)
    import_file(store, root / "people.csv", Options(wording="Yes", actor="bench"))
    store.engine.dispose()
    (root / "people.csv").unlink()
    return root


def engage_send(roots: list[Path], url: str = "") -> tuple[float, float, float]:
    """Seconds, the CPU seconds of the sending processes together, and the peak RSS (MB) of the
    largest. Several roots: one process each, all at once, sharing the send."""
    env = {**os.environ, **ENV, **({"ENGAGE_DATABASE_URL": url} if url else {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    senders = [
        subprocess.Popen(
            [sys.executable, "-m", "engage", "--workspace", str(root), "send", SLUG]
            + ["--yes", "--now"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for root in roots
    ]
    said = [process.communicate() for process in senders]
    seconds = time.perf_counter() - started
    codes = [process.returncode for process in senders]
    if any(codes):
        sys.exit(f"engage send failed: exit codes {codes}\n{said}"[-3000:])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024


def part_one(folder: Path, n: int, workers: int = 1, url: str = "") -> None:
    fake = FakeMailgun(api_key="key-bench", domain="mg.example.org", delay=0.05)
    fake.keep_bodies = False
    fake.start()
    schema = Schema(url) if url else None
    try:
        settings = (
            '[email.mailgun]\ndomain = "mg.example.org"\n'
            f'base_url = "{fake.url}"\napi_key_env = "BENCH_MG_KEY"\n'
        )
        shared = schema.url if schema else ""
        root = workspace(folder, n, "mailgun", settings, shared)
        roots = [root] + [copy_of(root, i) for i in range(1, workers)]
        seconds, cpu, peak = engage_send(roots, shared)
        counts = collections.Counter(m["email"] for m in fake.messages)
        once = len(counts) == n and max(counts.values()) == 1
        calls = sum(1 for r in fake.requests if r.path.endswith("/messages"))
        where = "PostgreSQL" if url else "SQLite"
        who = f"{workers} senders" if workers > 1 else "1 sender"
        print(
            f"Mailgun-style API (50 ms a call), {who}, {where}: {n:,} recipients in "
            f"{seconds:.1f} s ({n / seconds:,.0f} a second, {calls} calls, {cpu:.1f} s of CPU); "
            f"peak RSS of a sender {peak:.0f} MB; every recipient exactly once: "
            f"{'yes' if once else 'NO'}",
            flush=True,
        )
    finally:
        fake.stop()
        if schema:
            schema.drop()


def copy_of(root: Path, i: int) -> Path:
    """Another host's workspace folder: the same files, the database shared by URL."""
    other = root.parent / f"{root.name}-host{i}"
    shutil.copytree(root, other, ignore=shutil.ignore_patterns("*.db*", "outbox"))
    return other


class Schema:
    """A schema of its own in the PostgreSQL database at `base`, dropped at the end."""

    def __init__(self, base: str) -> None:
        import uuid

        import sqlalchemy as sa

        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        self.admin = sa.create_engine(base)
        with self.admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{self.name}"'))
        url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={self.name}"})
        self.url = url.render_as_string(hide_password=False)

    def drop(self) -> None:
        import sqlalchemy as sa

        with self.admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


def mailmerge_files(folder: Path, root: Path, m: int, port: int) -> list[str]:
    ws = load_workspace(root / "engage.toml")
    built = build(ws, campaigns.load(ws, SLUG))
    sample = sample_recipient(ws, campaigns.load(ws, SLUG))
    message = built.personalise(sample)
    html = message.html.replace("Hello Sam,", "Hello {{first_name}},")
    text = message.text.replace("Hello Sam,", "Hello {{first_name}},")

    def part(kind: str, body: str) -> str:  # quoted-printable keeps lines under SMTP's limit
        encoded = quopri.encodestring(body.encode()).decode()
        return (
            f"--engagebench\nContent-Type: text/{kind}; charset=utf-8\n"
            f"Content-Transfer-Encoding: quoted-printable\n\n{encoded}\n"
        )

    template = (
        "TO: {{email}}\nSUBJECT: Doing with, not doing to: our winter news\n"
        "FROM: Get Yourself Active <news@example.org>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/alternative; boundary="engagebench"\n\n'
        + part("plain", text)
        + part("html", html)
        + "--engagebench--\n"
    )
    (folder / "template.txt").write_text(template)
    with (folder / "database.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name"])
        writer.writerows([f"person{i}@example.org", "Person"] for i in range(m))
    (folder / "server.conf").write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\nsecurity = Never\n"
    )
    return [
        "--no-dry-run",
        "--no-limit",
        "--output-format",
        "raw",
        "--template",
        str(folder / "template.txt"),
        "--database",
        str(folder / "database.csv"),
        "--config",
        str(folder / "server.conf"),
    ]


def part_two(folder: Path, m: int) -> None:
    """engage with one connection (its default), then two ([email.smtp] connections = 2),
    then mailmerge, each sending the same message to the same sink."""
    sink = SmtpSink().start()
    try:
        rates = []
        for connections in (1, 2):
            settings = (
                f'[email.smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
                f"connections = {connections}\n"
            )
            (folder / f"smtp-{connections}").mkdir()
            root = workspace(folder / f"smtp-{connections}", m, "smtp", settings)
            seconds, _, _ = engage_send([root])
            rates.append((len(sink.received) / seconds, len(sink.received), seconds))
            sink.received.clear()
        args = mailmerge_files(folder, root, m, sink.port)
        started = time.perf_counter()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "mailmerge"), *args], capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"mailmerge failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        theirs_seconds = time.perf_counter() - started
        theirs = len(sink.received)
        theirs_rate = theirs / theirs_seconds
        print(
            f"SMTP to a local aiosmtpd sink, {m:,} messages, process start included: mailmerge "
            f"{theirs_rate:,.0f} a second ({theirs} in {theirs_seconds:.1f} s)"
        )
        for connections, (rate, count, seconds) in zip((1, 2), rates, strict=True):
            print(
                f"  engage, {connections} connection{'s' if connections > 1 else ''}: "
                f"{rate:,.0f} a second ({count} in {seconds:.1f} s), "
                f"{rate / theirs_rate:.1f}x mailmerge"
            )
    finally:
        sink.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "n", nargs="*", type=int, default=[10_000, 100_000, 1_000_000], help="recipients"
    )
    parser.add_argument("--smtp", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=1, help="senders sharing each send")
    parser.add_argument("--database-url", default="", help="a PostgreSQL URL (for --workers)")
    args = parser.parse_args()
    if args.workers > 1 and not args.database_url:
        parser.error("--workers needs --database-url: several hosts share PostgreSQL")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for n in (n for n in args.n if n):  # 0: only the SMTP part
            part_one(Path(folder), n, args.workers, args.database_url)
        if args.smtp:
            part_two(Path(folder), args.smtp)


if __name__ == "__main__":
    main()
