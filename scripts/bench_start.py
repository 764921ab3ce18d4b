"""Start-up times of whole `engage` processes, for scripts/bench_start.

Each command runs RUNS times (after one run not counted) in a copy of the example workspace,
whose campaigns are not due yet, and the median wall time is printed with the fastest and the
slowest. `engage lint` runs with the pronouncing dictionary's cache (render/pronouncing.py)
kept from the run before, and with an empty cache folder each time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {"ENGAGE_SECRET_KEY": "bench-secret", "ENGAGE_NOW": "2026-12-01T09:00:00Z"}


def workspace(folder: Path) -> Path:
    root = folder / "workspace"
    root.mkdir()
    shutil.copy(ROOT / "engage.toml", root / "engage.toml")
    for name in ("templates", "campaigns", "audiences"):
        shutil.copytree(ROOT / name, root / name)
    return root


def timed(args: list[str], env: dict[str, str], runs: int, fresh_cache: Path | None) -> list[float]:
    """Wall seconds of each counted run of `python -m engage ARGS`."""
    seconds = []
    for run in range(runs + 1):
        if fresh_cache is not None:
            shutil.rmtree(fresh_cache, ignore_errors=True)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "engage", *args], env=env, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - started
        if done.returncode not in (0, 1):  # lint exits 1 when it finds errors; that is fine
            sys.exit(f"engage {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        if run:
            seconds.append(elapsed)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=9)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as folder:
        root = workspace(Path(folder))
        cache = Path(folder) / "cache"
        env = {**os.environ, **ENV, "XDG_CACHE_HOME": str(cache)}
        ws = ["--workspace", str(root)]
        cases = [
            ("engage --help", ["--help"], None),
            ("engage --version", ["--version"], None),
            ("engage run, nothing due", [*ws, "run"], None),
            ("engage lint, dictionary cached", [*ws, "lint", "doing-with-not-doing-to"], None),
            ("engage lint, no cache", [*ws, "lint", "doing-with-not-doing-to"], cache),
        ]
        for name, command, fresh in cases:
            seconds = timed(command, env, args.runs, fresh)
            print(
                f"{name:32} median {statistics.median(seconds):.3f} s "
                f"(fastest {min(seconds):.3f}, slowest {max(seconds):.3f}; {len(seconds)} runs)"
            )


if __name__ == "__main__":
    main()
