"""Two mends for Python under Debian's libfaketime 0.9.10, for the time-shifted test passes only
(scripts/test --shifted puts this folder on PYTHONPATH there, and nowhere else). Those passes
keep the monotonic clock real (FAKETIME_DONT_FAKE_MONOTONIC=1): with a faked one, every thread
that waits with a time-out hangs.

1. time.sleep. In that mode libfaketime turns the absolute deadline of
   clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), which Python 3.11 and newer use for
   time.sleep, into a time the kernel refuses: every sleep raises OSError: [Errno 22] Invalid
   argument (https://github.com/wolfcw/libfaketime/issues/426). select() takes a relative
   time-out, which libfaketime leaves alone, so sleep with that.

2. The environment. libfaketime calls getenv() inside pthread_cond_timedwait, which every
   Python thread waiting for the GIL calls; setenv() in another thread (os.environ[...] = ...,
   as pytest's monkeypatch and Click's CliRunner do) may move the environment while getenv()
   reads it, and the process dies with SIGSEGV (seen in about half of the runs). So the C
   environment is left as the process started with it: os.environ still changes for Python,
   and a subprocess started without env= is given os.environ, as it would have inherited it.
"""

from __future__ import annotations

import os
import select
import subprocess
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


def _leave_the_c_environment(*_: object) -> None:
    pass


_execute_child = subprocess.Popen._execute_child


def _execute_child_with_environ(
    self, args, executable, preexec_fn, close_fds, pass_fds, cwd, env, *rest
):  # Popen._execute_child's own parameters: env is the 7th
    environment = os.environ if env is None else env
    return _execute_child(
        self, args, executable, preexec_fn, close_fds, pass_fds, cwd, environment, *rest
    )


time.sleep = _sleep
os.putenv = _leave_the_c_environment
os.unsetenv = _leave_the_c_environment
subprocess.Popen._execute_child = _execute_child_with_environ
