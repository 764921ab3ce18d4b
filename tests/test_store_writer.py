"""The store's writers (store/group.py, Store.begin): on SQLite the work of many threads is
committed together by one writer, each piece undone alone when it fails, and nobody is told
their work is stored before the commit that stores it."""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from engage import store as store_module
from engage.store import Store, open_url
from engage.store.group import Writer
from engage.store.schema import seen_tokens

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(db_url):  # noqa: ANN201
    opened = open_url(db_url)
    yield opened
    opened.engine.dispose()


def note(token: str):  # noqa: ANN201
    def action(connection: sa.Connection) -> str:
        connection.execute(seen_tokens.insert().values(provider="t", token=token, seen_at=NOW))
        return token

    return action


def tokens(store: Store) -> list[str]:
    with store.connect() as connection:
        return sorted(connection.execute(sa.select(seen_tokens.c.token)).scalars())


def commits(store: Store) -> list[int]:
    """A list that grows by one at each commit on `store`."""
    counted: list[int] = []
    sa.event.listen(store.engine, "commit", lambda _connection: counted.append(1))
    return counted


class CountingQueue(queue.Queue):
    """The writer's queue, counting what was put in it."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    def put(self, item, block: bool = True, timeout: float | None = None) -> None:  # noqa: ANN001
        super().put(item, block, timeout)
        self.puts += 1


def wait_until(condition) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def queued_behind_a_writer(store: Store, writer: Writer, actions: list) -> list[Future]:
    """Run `actions` through `writer`, each from its own thread, while this thread holds the
    write lock: the writer takes the first and waits for the lock; the others queue behind."""
    queued = writer._queue = CountingQueue()  # before the writer's thread waits on its queue
    writer.run(lambda _connection: None)  # the writer's thread is up, waiting for work
    pool = ThreadPoolExecutor(len(actions))
    with store.begin():
        futures = [pool.submit(writer.run, actions[0])]
        wait_until(lambda: queued.puts == 2 and queued.empty())  # the writer took it
        futures += [pool.submit(writer.run, action) for action in actions[1:]]
        wait_until(lambda: queued.puts == 1 + len(actions))
        assert not any(f.done() for f in futures)  # nothing answered before its commit
    pool.shutdown(wait=False)
    return futures


def test_sqlite_commits_what_waits_together(store) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL writes many transactions at once: no group commit")
    writer, counted = Writer(store), commits(store)
    futures = queued_behind_a_writer(store, writer, [note(f"t{i}") for i in range(10)])
    assert [f.result(timeout=30) for f in futures] == [f"t{i}" for i in range(10)]
    # The helper's own two transactions, the first piece alone, then the nine that waited.
    assert len(counted) == 2 + 1 + 1
    assert tokens(store) == sorted(f"t{i}" for i in range(10))


def test_a_failing_piece_is_undone_alone(store) -> None:
    writer = Writer(store)
    actions = [note("a"), note("a"), note("b")]  # the second is a twin of the first
    if writer.grouped:
        futures = queued_behind_a_writer(store, writer, actions)
    else:
        one_after_another = ThreadPoolExecutor(1)  # so the first "a" is the one that comes first
        futures = [one_after_another.submit(writer.run, action) for action in actions]
    assert futures[0].result(timeout=30) == "a"
    with pytest.raises(sa.exc.IntegrityError):
        futures[1].result(timeout=30)
    assert futures[2].result(timeout=30) == "b"
    assert tokens(store) == ["a", "b"]


def test_a_commit_that_fails_fails_everyone_in_it(store) -> None:
    writer = Writer(store)
    refused = threading.Event()

    def refuse(_connection: sa.Connection) -> None:
        if not refused.is_set():
            refused.set()
            raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    sa.event.listen(store.engine, "commit", refuse)
    futures = [ThreadPoolExecutor(1).submit(writer.run, note(t)) for t in ("x",)]
    with pytest.raises(sa.exc.OperationalError, match="disk I/O error"):
        futures[0].result(timeout=30)
    assert tokens(store) == []
    assert writer.run(note("y")) == "y"  # the writer carries on
    assert tokens(store) == ["y"]


def test_the_sqlite_writer_lock_is_per_database_and_never_deadlocks(tmp_path, monkeypatch) -> None:
    """Two databases have two locks. A Store.begin inside another on one thread does not wait
    for itself in Python: SQLite's busy timeout answers, as it always did."""
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)
    one, two = (open_url(f"sqlite:///{tmp_path / name}") for name in ("one.db", "two.db"))
    try:
        with one.begin(), two.begin() as other:  # two files: no waiting at all
            other.execute(seen_tokens.insert().values(provider="t", token="2", seen_at=NOW))
        assert tokens(two) == ["2"]
        started = time.monotonic()
        locked = pytest.raises(sa.exc.OperationalError, match="database is locked")
        with one.begin(), locked, one.begin():
            pass
        assert time.monotonic() - started < 5
    finally:
        one.engine.dispose()
        two.engine.dispose()
