"""Per-recipient personalisation throughput and memory, for scripts/bench_render.

The campaign is rendered once (Markdown → MJML → HTML, and the text twin); then each synthetic
recipient gets their own HTML (one in ten large print) and plain text. Recipients are made one at
a time and each message is dropped once measured, as a real send streams them, so memory should
stay flat however many there are.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
from pathlib import Path

from engage import campaigns
from engage.config import find_workspace
from engage.render.build import build
from engage.render.personal import Recipient

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["Sam", "Ana", "Bo", "Chidi", "Dee", "Eilidh", "Femi", "<Gus & co>", "Hana", "Iwan"]


def recipient(i: int) -> Recipient:
    token = f"{i:012x}"
    return Recipient(
        email=f"person{i}@example.org",
        name=f"{NAMES[i % 10]} Example{i}",
        first_name=NAMES[i % 10],
        unsubscribe_url=f"https://engage.example.org/unsubscribe/{token}",
        preferences_url=f"https://engage.example.org/preferences/{token}",
        web_version_url="https://engage.example.org/archive/doing-with-not-doing-to",
        reply_to=f"reply+{token}@replies.example.org",
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(built, n: int) -> tuple[float, int]:  # noqa: ANN001
    total_bytes = 0
    started = time.perf_counter()
    for i in range(n):
        message = built.personalise(recipient(i), "large-print" if i % 10 == 9 else "standard")
        total_bytes += len(message.html) + len(message.text)
    return time.perf_counter() - started, total_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "n", nargs="?", type=int, default=100_000, help="recipients (default 100,000)"
    )
    n = parser.parse_args().n
    workspace = find_workspace(ROOT)
    campaign = campaigns.load(workspace, "doing-with-not-doing-to")
    started = time.perf_counter()
    built = build(workspace, campaign)
    print(
        f"machine: {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(f"render once (3 variants): {(time.perf_counter() - started) * 1000:.1f} ms")
    run(built, min(n, 1000))  # warm up
    baseline = peak_rss_mb()
    for size in sorted({max(1, n // 10), n}):
        seconds, total = run(built, size)
        rate = size / seconds
        print(
            f"N={size:>9,}: {rate:>9,.0f} messages/s (HTML + text), "
            f"{seconds / size * 1e6:.1f} µs each, {total / size / 1024:.1f} KB each; "
            f"peak RSS {peak_rss_mb():.1f} MB (+{peak_rss_mb() - baseline:.1f} MB over the start)"
        )


if __name__ == "__main__":
    main()
