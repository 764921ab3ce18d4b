"""SIGKILL `engage send` at random moments, 15 times or more, then let it finish.

N recipients (default 10,000) at R a second (default 200) through a fake Mailgun API on
loopback that answers each call after 300 ms (so a kill often lands while it has a batch) and
keeps records engage can ask (its events
API). After each kill it counts the deliveries left in doubt (sending or unknown) and the
batches they belong to; each new start asks Mailgun's records about those. At the end it
counts every address's copies: the target is 0 duplicates and 0 skipped, with at most the
batch in flight in doubt after any kill.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engage.config import load_workspace  # noqa: E402
from engage.contacts.importer import Options, import_file  # noqa: E402
from engage.store import open_store  # noqa: E402
from tests import kill_loop  # noqa: E402
from tests.fakes import FakeMailgun  # noqa: E402

ENV = {"ENGAGE_SECRET_KEY": "bench-secret", "BENCH_MG_KEY": "key-bench", "ENGAGE_USER": "bench"}


def workspace(folder: Path, n: int, rate: int, url: str) -> Path:
    root = folder / "ws"
    root.mkdir()
    for name in ("templates", "campaigns", "audiences"):
        shutil.copytree(ROOT / name, root / name)
    config = (
        (ROOT / "engage.toml")
        .read_text()
        .replace(
            'provider = "outbox"',
            f'provider = "mailgun"\nrate_per_second = {rate}\nreconcile_settle_seconds = 0',
        )
        # A real provider needs links everyone can reach (lint's base-url rule).
        .replace('base_url = "http://127.0.0.1:8025"', 'base_url = "https://news.example.org"')
    )
    config += (
        f'\n[email.mailgun]\ndomain = "mg.example.org"\nbase_url = "{url}"\n'
        'api_key_env = "BENCH_MG_KEY"\n'
    )
    (root / "engage.toml").write_text(config)
    rows = "".join(f"person{i}@example.org,Person {i},newsletter\n" for i in range(n))
    (root / "people.csv").write_text("email,name,tags\n" + rows)
    store = open_store(load_workspace(root / "engage.toml"))
    import_file(store, root / "people.csv", Options(wording="Yes", actor="bench"))
    store.engine.dispose()
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--kills", type=int, default=15)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds the fake takes")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {sys.version.split()[0]}")
    fake = FakeMailgun(api_key="key-bench", domain="mg.example.org", delay=args.delay)
    fake.keep_bodies = False
    fake.start()
    folder = Path(tempfile.mkdtemp(prefix="engage-bench-kill-"))
    try:
        root = workspace(folder, args.n, args.rate, fake.url)
        # Kill at a random moment within one batch's time, so kills land in every step.
        found = kill_loop.run(
            root,
            ENV,
            lambda: len(fake.messages),
            kills=args.kills,
            rng=random.Random(args.seed),
            most=1.5,
        )
        copies = collections.Counter(m["email"] for m in fake.messages)
        everyone = {f"person{i}@example.org" for i in range(args.n)}
        duplicates = sum(count - 1 for count in copies.values() if count > 1)
        skipped = len(everyone - set(copies))
        in_flight = [rows for rows, _ in found.in_doubt]
        batches = max((b for _, b in found.in_doubt), default=0)
        print(
            f"{args.n:,} recipients at {args.rate} a second through a fake Mailgun that answers "
            f"in {args.delay * 1000:.0f} ms, {found.kills} SIGKILLs at random "
            f"moments, {found.seconds:.0f} s in all; in doubt after each kill: {in_flight} "
            f"(at most {max(in_flight, default=0)} rows in {batches} batch); after the last "
            f"run: {duplicates} duplicates, {skipped} skipped, exit {found.final_code}"
        )
        ok = found.kills >= args.kills and duplicates == 0 and skipped == 0
        ok = ok and found.final_code == 0 and batches <= 1
        if not ok:
            print(found.final_output)
            sys.exit(1)
    finally:
        fake.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
