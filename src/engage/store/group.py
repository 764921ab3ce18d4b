"""Group commit: one writer thread stores what many request threads hand it, several pieces
of work in one transaction, and each thread is answered only once its work is committed.

On SQLite one transaction writes at a time, and each commit waits for the disk. When 20 web
threads each want a small write, one writer that takes everything waiting and commits it
together does in one commit what took 20. Each piece runs in a savepoint, so one that fails
(a twin event that raced in) is undone alone and its error goes back to its own thread; a
commit that fails goes back to every thread in it, so nothing is ever answered as stored that
was not.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from . import Store

T = TypeVar("T")
MOST = 64  # pieces of work in one transaction
log = logging.getLogger("engage.store")


class _Work(Generic[T]):
    def __init__(self, action: Callable[[sa.Connection], T]) -> None:
        self.action = action
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class Writer:
    """Runs `action(connection)` in a transaction and returns what it returned, or raises
    what it raised. On SQLite the work of several threads shares one transaction (a thread
    of its own writes it); elsewhere each runs in its own, on the caller's thread: PostgreSQL
    writes many transactions at once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.grouped = store.engine.dialect.name == "sqlite"
        self._queue: queue.SimpleQueue[_Work[Any]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def run(self, action: Callable[[sa.Connection], T]) -> T:
        if not self.grouped or threading.current_thread() is self._thread:  # never wait on itself
            with self.store.begin() as connection:
                return action(connection)
        work = _Work(action)
        self._start()
        self._queue.put(work)
        work.done.wait()
        if work.error is not None:
            raise work.error
        return work.result

    def _start(self) -> None:
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="engage-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MOST:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[_Work[Any]]) -> None:
        try:
            with self.store.begin() as connection:
                for work in batch:
                    _in_savepoint(connection, work)
        except BaseException as exc:  # noqa: BLE001 - the commit failed: none of the batch is stored
            for work in batch:
                if work.error is None:
                    work.result, work.error = None, exc
        finally:
            for work in batch:
                work.done.set()


def _in_savepoint(connection: sa.Connection, work: _Work[Any]) -> None:
    """Run `work` so that, if it fails, only what it did is undone. The SAVEPOINT is said to
    the driver directly: SQLAlchemy's begin_nested builds and compiles it anew each time."""
    connection.exec_driver_sql("SAVEPOINT work")
    try:
        work.result = work.action(connection)
    except Exception as exc:  # noqa: BLE001 - handed back to its own thread
        work.error = exc
        connection.exec_driver_sql("ROLLBACK TO SAVEPOINT work")
    connection.exec_driver_sql("RELEASE SAVEPOINT work")
