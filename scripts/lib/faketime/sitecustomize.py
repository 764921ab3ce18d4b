"""Python's time.sleep, mended for the time-shifted test passes (scripts/lib/faketime.sh puts
this folder on PYTHONPATH for them, and nowhere else).

Those passes run under Debian's libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC=1 (with a
faked monotonic clock, every thread that waits with a time-out hangs). In that mode
libfaketime turns the absolute deadline of clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME),
which Python 3.11 and newer use for time.sleep, into a time the kernel refuses: every sleep
raises OSError: [Errno 22] Invalid argument (https://github.com/wolfcw/libfaketime/issues/426).
select() takes a relative time-out, which libfaketime leaves alone, so sleep with that.
"""

from __future__ import annotations

import select
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


time.sleep = _sleep
