"""The store itself: opening, SQLite settings, bad URLs, and migrations that keep data."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engage.store import Store, StoreError, current_revision, make_engine, open_url, upgrade
from engage.store.schema import metadata

AT = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
HEAD = "0021"


def test_a_new_database_gets_the_whole_schema(db_url) -> None:
    store = open_url(db_url)
    try:
        assert current_revision(store) == HEAD
        with store.connect() as connection:
            context = MigrationContext.configure(connection)
            assert compare_metadata(context, metadata) == []
    finally:
        store.engine.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:
    store = open_url(f"sqlite:///{tmp_path / 'e.db'}")
    with store.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA busy_timeout").scalar() == 10000
        assert pragma("PRAGMA foreign_keys").scalar() == 1


def _old_database(db_url: str) -> Store:
    """A database at the first schema version, with a contact and a consent record in it."""
    store = Store(make_engine(db_url))
    upgrade(store, "0001")
    with store.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO contacts (id, email, name, first_name, format, status, attributes, "
                "created_at, updated_at) VALUES (1, 'old@example.org', 'Old Friend', 'Old', "
                "'large-print', 'subscribed', '{\"region\": \"Leeds\"}', :at, :at)"
            ),
            {"at": AT},
        )
        c.execute(
            sa.text(
                "INSERT INTO consents (id, contact_id, action, basis, channel, method, source, wording, "
                "opt_out_offered, actor, recorded_at) VALUES (1, 1, 'given', 'consent', 'email', "
                "'form', 'web', 'Yes please', true, 'web', :at)"
            ),
            {"at": AT},
        )
        c.execute(
            sa.text(
                "INSERT INTO suppressions (id, email_hash, email, reason, source, created_at) "
                "VALUES (1, 'abc', 'gone@example.org', 'bounced', 'mailgun', :at)"
            ),
            {"at": AT},
        )
    return store


def test_an_old_database_is_refused_until_upgraded_and_keeps_its_data(db_url) -> None:
    old = _old_database(db_url)
    with pytest.raises(StoreError) as caught:
        open_url(db_url)
    assert str(caught.value).endswith(
        f"is at schema version 0001, and this engage needs version {HEAD}. "
        "Run `engage db upgrade` (it keeps your data)."
    )
    assert upgrade(old) == ("0001", HEAD)
    store = open_url(db_url)
    with store.connect() as c:
        contact = c.execute(sa.text("SELECT email, name, format, attributes FROM contacts")).one()
        consent = c.execute(sa.text("SELECT contact_id, wording, import_id FROM consents")).one()
        blocked = c.execute(sa.text("SELECT email, reason FROM suppressions")).one()
        context = MigrationContext.configure(c)
        assert compare_metadata(context, metadata) == []
    assert contact[:3] == ("old@example.org", "Old Friend", "large-print")
    assert contact[3] in ({"region": "Leeds"}, '{"region": "Leeds"}')
    assert tuple(consent) == (1, "Yes please", None)
    assert tuple(blocked) == ("gone@example.org", "bounced")
    old.engine.dispose()
    store.engine.dispose()


def test_db_upgrade_command(project, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _old_database(url).engine.dispose()
    env = {"ENGAGE_DATABASE_URL": url}
    refused = project.run("contacts", "list", env=env)
    assert refused.exit_code == 1
    assert refused.stderr == (
        f"Error: The database {url} is at schema version 0001, and this engage needs version "
        f"{HEAD}. Run `engage db upgrade` (it keeps your data).\n"
    )
    assert project.run("db", "status", env=env).output == (
        f"Database: {url}\nSchema version: 0001 (run `engage db upgrade` to reach {HEAD})\n"
    )
    assert project.run("db", "upgrade", env=env).output == (
        f"Upgraded the database from schema version 0001 to {HEAD}.\n"
    )
    assert project.run("db", "upgrade", env=env).output == (
        f"The database is up to date (schema version {HEAD}).\n"
    )
    listed = project.run("contacts", "list", env=env)
    assert listed.exit_code == 0
    assert "old@example.org" in listed.output


def test_the_default_database_is_in_the_workspace(project) -> None:
    assert project.run("db", "upgrade").output == (
        f"Upgraded the database from schema version none to {HEAD}.\n"
    )
    assert (project.root / "engage.db").is_file()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "not a url",
            "Error: 'not a url' is not a database URL. Use sqlite:///engage.db or "
            "postgresql://user@host/dbname in [database] url or ENGAGE_DATABASE_URL.\n",
        ),
        (
            "sqlite:////no/such/folder/engage.db",
            "Error: Cannot open the database sqlite:////no/such/folder/engage.db: unable to open "
            "database file. Check [database] url in engage.toml or ENGAGE_DATABASE_URL.\n",
        ),
        (
            "postgresql://engage:secret@127.0.0.1:1/engage",
            "Error: Cannot open the database postgresql+psycopg://engage:***@127.0.0.1:1/engage: ",
        ),
        (
            "mysql://x@localhost/y",
            "Error: Cannot use the database URL mysql://x@localhost/y: ",
        ),
    ],
)
def test_a_database_that_cannot_be_opened(project, url, message) -> None:
    result = project.run("contacts", "list", env={"ENGAGE_DATABASE_URL": url})
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert "secret" not in result.stderr
    assert "Traceback" not in result.output


def test_upgrading_links_earlier_unsubscribes_to_their_send(db_url) -> None:
    """Withdrawals made with an email's unsubscribe link used to say only "send N": the upgrade
    to contact_changes keeps their words and gives them their send, so reports still count
    them. Other records, and a send that is gone, are left as they were."""
    store = Store(make_engine(db_url))
    upgrade(store, "0009")
    with store.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO contacts (id, email, email_key, name, first_name, format, status, "
                "attributes, created_at, updated_at) VALUES (1, 'ann@example.org', "
                "'ann@example.org', '', '', 'html', 'unsubscribed', '{}', :at, :at)"
            ),
            {"at": AT},
        )
        c.execute(
            sa.text(
                "INSERT INTO sends (id, campaign, subject, audience, provider, status, total, "
                "started_at) VALUES (4, 'winter', 'Winter', 'newsletter', 'outbox', 'sent', 1, :at)"
            ),
            {"at": AT},
        )
        for number, (action, source) in enumerate(
            [
                ("withdrawn", "send 4"),
                ("withdrawn", "send 9"),
                ("withdrawn", "sending 4"),
                ("given", "send 4"),
                ("withdrawn", "engage contacts"),
            ],
            start=1,
        ):
            c.execute(
                sa.text(
                    "INSERT INTO consents (id, contact_id, action, basis, channel, method, "
                    "source, wording, opt_out_offered, actor, recorded_at) VALUES (:id, 1, "
                    ":action, 'consent', 'email', 'one-click', :source, '', true, 'root', :at)"
                ),
                {"id": number, "action": action, "source": source, "at": AT},
            )
    assert upgrade(store)[1] == HEAD
    with store.connect() as c:
        rows = _all(c, "SELECT id, source, send_id FROM consents ORDER BY id")
        changes = c.execute(sa.text("SELECT count(*) FROM contact_changes")).scalar()
        assert compare_metadata(MigrationContext.configure(c), metadata) == []
    store.engine.dispose()
    assert rows == [
        (1, "send 4", 4),
        (2, "send 9", None),
        (3, "sending 4", None),
        (4, "send 4", None),
        (5, "engage contacts", None),
    ]
    assert changes == 0


def _all(c: sa.Connection, sql: str) -> list[tuple]:
    return [tuple(r) for r in c.execute(sa.text(sql)).all()]
