"""Kill `engage send` with SIGKILL at random moments, again and again, then let it finish.

Used by tests/test_faults.py (small) and scripts/bench_kill.py (the issue's target: 10,000
recipients at 200 a second, 15 kills or more). After each kill it counts the deliveries left
in doubt (sending or unknown) and the batches they belong to; at the end it counts how many
copies of the campaign each address has at the provider.
"""

from __future__ import annotations

import collections
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from engage.config import load_workspace
from engage.store import open_store

SLUG = "doing-with-not-doing-to"


@dataclass
class KillLoop:
    kills: int = 0
    in_doubt: list[tuple[int, int]] = field(default_factory=list)  # (rows, batches) per kill
    final_code: int | None = None
    final_output: str = ""
    seconds: float = 0.0


def engage(root: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "engage", "--workspace", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def in_doubt(root: Path) -> tuple[int, int]:
    """Rows sending or unknown, and how many batches they belong to."""
    store = open_store(load_workspace(root / "engage.toml"))
    try:
        with store.connect() as c:
            rows, batches = c.execute(
                sa.text(
                    "SELECT count(*), count(DISTINCT batch) FROM deliveries "
                    "WHERE status IN ('sending', 'unknown')"
                )
            ).one()
    finally:
        store.engine.dispose()
    return rows, batches


def run(
    root: Path,
    env: dict[str, str],
    handed: Callable[[], int],
    kills: int,
    rng: random.Random,
    most: float = 1.0,
) -> KillLoop:
    """Start a send, wait until the provider has something new (`handed()` grows), wait a
    random moment of up to `most` seconds, SIGKILL it; `kills` times (or until a send ends by
    itself). Then one last send, to the end."""
    found = KillLoop()
    started = time.monotonic()
    while found.kills < kills:
        sender = engage(root, env, "send", SLUG, "--yes", "--now")  # the first may be early
        before = handed()
        deadline = time.monotonic() + 120
        while sender.poll() is None and handed() <= before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, most))
        if sender.poll() is not None:
            break
        sender.kill()
        sender.wait()
        found.kills += 1
        found.in_doubt.append(in_doubt(root))
    final = engage(root, env, "send", SLUG, "--yes")
    out, err = final.communicate(timeout=600)
    found.final_code, found.final_output = final.returncode, out + err
    found.seconds = time.monotonic() - started
    return found


def copies(addresses: list[str]) -> collections.Counter:
    return collections.Counter(addresses)
