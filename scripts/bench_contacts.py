"""Import N synthetic contacts from a CSV file, then select an audience from them.

The CSV is written to a temporary folder first (not timed). The import streams the file in
chunks inside one transaction; peak memory is measured as the growth in the process's peak
RSS during the import, for N/10 and N rows, to show whether it stays flat.
"""

from __future__ import annotations

import argparse
import csv
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engage.config import find_workspace
from engage.contacts import audiences
from engage.contacts.importer import Options, import_file
from engage.store import open_url

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ["html", "html", "html", "plain", "large-print"]
REGIONS = ["Leeds", "York", "Bradford", "Hull", "Sheffield"]


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


def run(n: int, folder: Path, url: str | None) -> None:
    csv_path = folder / f"contacts-{n}.csv"
    write_csv(csv_path, n)
    store = open_url(url or f"sqlite:///{folder / f'bench-{n}.db'}")
    before = peak_mb()
    started = time.perf_counter()
    report = import_file(store, csv_path, Options(wording="Yes, send me news", actor="bench"))
    imported = time.perf_counter() - started
    growth = peak_mb() - before
    workspace = find_workspace(ROOT)
    newsletter = audiences.load(workspace, "newsletter")
    contributors = audiences.load(workspace, "contributors")
    with store.connect() as connection:
        started = time.perf_counter()
        ids = connection.execute(audiences.member_ids(newsletter)).scalars().all()
        selected = time.perf_counter() - started
        started = time.perf_counter()
        counted = audiences.count(connection, contributors)
        count_time = time.perf_counter() - started
        started = time.perf_counter()
        members = audiences.members(connection, newsletter)
        listed = time.perf_counter() - started
    assert len(ids) == len(members) == report.added
    print(
        f"N={n:>7,}: import {imported:5.2f} s ({report.added / imported:,.0f} rows/s), "
        f"peak RSS +{growth:.1f} MB during the import; audience 'newsletter' selected "
        f"({len(ids):,} ids) in {selected:.2f} s, listed with names and tags in {listed:.2f} s; "
        f"'contributors' counted ({counted:,}) in {count_time * 1000:.0f} ms"
    )
    store.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000, help="rows (default 100,000)")
    parser.add_argument(
        "--database-url", help="a database to import into (default: a new SQLite file)"
    )
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # one size in this process, so its peak memory is its own
        with tempfile.TemporaryDirectory() as folder:
            run(args.n, Path(folder), args.database_url)
        return
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    for size in sorted({max(1, args.n // 10), args.n}):
        extra = ["--database-url", args.database_url] if args.database_url else []
        subprocess.run([sys.executable, __file__, str(size), "--one", *extra], check=True)


if __name__ == "__main__":
    main()
