"""The store: one SQLAlchemy engine for the workspace's database, with its schema kept current.

SQLite (the default, one file in the workspace) runs in WAL mode with a busy timeout so the
web app and cron can share it, and with secure_delete on, so what is deleted is overwritten
with zeros; PostgreSQL is chosen by URL. After an erasure, `Store.scrub` clears the space the
deleted rows took (see docs/erasure.md). A new, empty database gets the
schema on first use; an older one is brought up to date with `engage db upgrade`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..config import Workspace
from ..errors import EngageError, sentence
from . import version

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
CONNECTIONS = 8  # the pool's size unless asked (Store.sized)
log = logging.getLogger("engage.store")


class StoreError(EngageError):
    """The database cannot be opened or is not at the right version."""


@dataclass(frozen=True)
class Store:
    engine: sa.Engine

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """One transaction that writes: everything in it is stored, or nothing is.

        On SQLite it starts with BEGIN IMMEDIATE, taking the write lock at once, so a
        transaction that reads and then writes never finds that another process wrote in
        between. Threads of this process first queue for the one writer (_one_writer), so only
        other processes (cron's `engage run`) are waited for with the busy timeout."""
        with _one_writer(self.engine), self.engine.connect() as connection:
            connection = connection.execution_options(engage_write=True)
            with connection.begin():
                yield connection

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as connection:
            yield connection

    def scrub(self, tables: Iterable[str]) -> str:
        """Clear the space deleted rows took, so no old copy of them is left in the database's
        files (see scrub.py). Call it once the transaction that deleted them is committed.
        Returns a problem to report, or ""."""
        from .scrub import scrub

        return scrub(self, list(tables))

    def sized(self, connections: int) -> Store:
        """This database with a pool that lends `connections` at once without waiting (for
        `engage serve`: one for each of its threads, and its worker). This store's engine is
        closed."""
        url = self.engine.url.render_as_string(hide_password=False)
        self.engine.dispose()
        return Store(make_engine(url, connections))

    @property
    def shown_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def shown_place(self) -> str:
        """Where the data is, as a person would look for it: a SQLite file's path, else the
        URL without its password."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return str(url.database)
        return self.shown_url


def database_url(workspace: Workspace) -> str:
    """ENGAGE_DATABASE_URL, else [database] url; a relative SQLite path is in the workspace."""
    url = os.environ.get("ENGAGE_DATABASE_URL") or workspace.config.database.url
    return resolve_url(url, workspace.root)


def resolve_url(url: str, root: Path) -> str:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError(
            f"'{url}' is not a database URL. Use sqlite:///engage.db or "
            "postgresql://user@host/dbname in [database] url or ENGAGE_DATABASE_URL."
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute():
            parsed = parsed.set(database=str(root / path))
    elif parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def open_store(workspace: Workspace) -> Store:
    return open_url(database_url(workspace))


def open_url(url: str, upgrade_new: bool = True) -> Store:
    """Open the database; give a new, empty one the schema; refuse one that is out of date.
    When the version matches, as it nearly always does, Alembic is not loaded at all."""
    store = Store(make_engine(url))
    with _opening(store), store.engine.connect() as connection:
        current = _current(connection)
        has_tables = current is not None or bool(sa.inspect(connection).get_table_names())
    head = head_revision()
    if current is None and not has_tables and upgrade_new:
        upgrade(store)
        log.info("Set up a new database in %s", store.shown_place)
    elif current != head and upgrade_new:
        raise StoreError(
            f"The database {store.shown_url} is at schema version {current or 'none'}, and this "
            f"engage needs version {head}. Run `engage db upgrade` (it keeps your data)."
        )
    return store


def make_engine(url: str, connections: int = CONNECTIONS) -> sa.Engine:
    """The engine for `url`, its pool keeping up to `connections` open (the pool opens them
    only as they are needed); as many again may be opened for a moment at a busy time."""
    try:
        parsed = sa.make_url(url)
        memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
        pool = {} if memory else {"pool_size": connections, "max_overflow": connections}
        engine = sa.create_engine(parsed, **pool)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"Cannot use the database URL {url}: {exc}") from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


_writers: dict[str, threading.RLock] = {}
_writers_lock = threading.Lock()


@contextmanager
def _one_writer(engine: sa.Engine) -> Iterator[None]:
    """On SQLite, one writing transaction at a time in this process, the others waiting in
    turn. SQLite's own busy timeout makes a waiting writer sleep and retry, up to 100 ms at a
    time, so under load some waited a second for a lock that was free after a few
    milliseconds; a Python lock wakes the next one at once. Reentrant, and given up after the
    busy timeout (SQLite's timeout then answers as before), so it can never deadlock."""
    if engine.dialect.name != "sqlite":
        yield
        return
    with _writers_lock:
        lock = _writers.setdefault(str(engine.url), threading.RLock())
    held = lock.acquire(timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        yield
    finally:
        if held:
            lock.release()


def _sqlite_begin(connection: sa.Connection) -> None:
    write = connection.get_execution_options().get("engage_write")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not just freed
    cursor.close()
    dbapi_connection.isolation_level = None  # engage says BEGIN itself (see _sqlite_begin)


@contextmanager
def _opening(store: Store) -> Iterator[None]:
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StoreError(
            f"Cannot open the database {store.shown_url}: {sentence(reason)} Check [database] "
            "url in engage.toml or ENGAGE_DATABASE_URL."
        ) from None


def alembic_config(connection: sa.Connection) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The schema version this engage needs (store/version.py reads it from the migrations;
    Alembic only when they are not plain)."""
    try:
        return version.head()
    except version.NotPlain:
        from alembic.config import Config as AlembicConfig
        from alembic.script import ScriptDirectory

        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(config).get_current_head() or ""


def current_revision(store: Store) -> str | None:
    with store.engine.connect() as connection:
        return _current(connection)


def _current(connection: sa.Connection) -> str | None:
    try:
        return version.current(connection)
    except version.NotPlain:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()


def upgrade(store: Store, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to `revision`; returns the versions before and after."""
    from alembic import command

    before = current_revision(store)
    with _opening(store), store.engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
    after = current_revision(store)
    if before is not None and before != after:
        log.info("Updated the database to schema version %s (it was %s).", after, before)
    return before, after
