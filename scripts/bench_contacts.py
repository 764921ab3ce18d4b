"""Import N synthetic contacts from a CSV file, then select an audience from them.

Each size runs in a process of its own, so the peak memory printed (the process's peak RSS,
and how much it grew during the import) is that import's alone. The CSV is written first (not
timed). The import streams the file in chunks inside one transaction, so time should grow in
line with N and memory should stay flat. Each database URL given is benchmarked in turn:
`sqlite` is a new SQLite file; a PostgreSQL URL gets a new schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ["html", "html", "html", "plain", "large-print"]
REGIONS = ["Leeds", "York", "Bradford", "Hull", "Sheffield"]
SIZES = [10_000, 100_000, 1_000_000]
AUDIENCE_UP_TO = 100_000  # listing a whole audience holds it in memory: timed up to this size


def write_csv(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "first_name", "tags", "format", "region"])
        for i in range(n):
            tags = "newsletter" if i % 3 else "newsletter;contributor"
            writer.writerow(
                [
                    f"person{i}@example.org",
                    f"Person {i}",
                    "Person",
                    tags,
                    FORMATS[i % 5],
                    REGIONS[i % 5],
                ]
            )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(n: int, folder: Path, url: str) -> None:
    """One size, in this process: import, then (up to AUDIENCE_UP_TO) select an audience."""
    from engage.contacts.importer import Options, import_file
    from engage.store import open_url

    csv_path = folder / f"contacts-{n}.csv"
    write_csv(csv_path, n)
    store = open_url(url if url != "sqlite" else f"sqlite:///{folder / f'bench-{n}.db'}")
    before = peak_mb()
    started = time.perf_counter()
    cpu = time.process_time()
    report = import_file(store, csv_path, Options(wording="Yes, send me news", actor="bench"))
    imported, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = peak_mb()
    assert report.added == n, report
    print(
        f"  N={n:>9,}: import {imported:6.2f} s ({n / imported:7,.0f} rows/s, {cpu:.2f} s CPU), "
        f"peak RSS {peak:5.1f} MB (+{peak - before:.1f} MB during the import)",
        flush=True,
    )
    if n <= AUDIENCE_UP_TO:
        audience(store, n)
    store.engine.dispose()


def audience(store: object, n: int) -> None:
    from engage.config import find_workspace
    from engage.contacts import audiences

    workspace = find_workspace(ROOT)
    newsletter = audiences.load(workspace, "newsletter")
    contributors = audiences.load(workspace, "contributors")
    with store.connect() as connection:  # type: ignore[attr-defined]
        started = time.perf_counter()
        ids = connection.execute(audiences.member_ids(newsletter)).scalars().all()
        selected = time.perf_counter() - started
        started = time.perf_counter()
        counted = audiences.count(connection, contributors)
        count_time = time.perf_counter() - started
        started = time.perf_counter()
        members = audiences.members(connection, newsletter)
        listed = time.perf_counter() - started
    assert len(ids) == len(members) == n
    print(
        f"  {'':13} audience 'newsletter' selected ({len(ids):,} ids) in {selected:.2f} s, "
        f"listed with names and tags in {listed:.2f} s; 'contributors' counted ({counted:,}) "
        f"in {count_time * 1000:.0f} ms"
    )


def one(n: int, url: str) -> None:
    """One size in this process; a PostgreSQL URL gets a schema of its own."""
    with tempfile.TemporaryDirectory() as folder:
        if url == "sqlite":
            run(n, Path(folder), url)
            return
        import sqlalchemy as sa

        schema = f"bench_contacts_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(url)
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            own = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
            run(n, Path(folder), own.render_as_string(hide_password=False))
        finally:
            with admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sizes", nargs="*", type=int, help="rows to import (default 10,000, 100,000, 1,000,000)"
    )
    parser.add_argument(
        "--database-url",
        action="append",
        help="`sqlite` (a new file, the default) or a PostgreSQL URL; give it again for both",
    )
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    urls = args.database_url or ["sqlite"]
    if args.one:
        one(args.sizes[0], urls[0])
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    for url in urls:
        print("SQLite" if url == "sqlite" else "PostgreSQL", flush=True)
        for size in args.sizes or SIZES:
            command = [sys.executable, __file__, str(size), "--one", "--database-url", url]
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
