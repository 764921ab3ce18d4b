"""The schema version read without Alembic (store/version.py): the head it reads from the
migration files is Alembic's own, and a database at that version opens without loading
Alembic at all."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from engage.store import MIGRATIONS, Store, current_revision, make_engine, open_url, version

from .conftest import REPO


def test_the_head_read_from_the_files_is_alembics() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert version.head() == ScriptDirectory.from_config(config).get_current_head()


def test_two_heads_are_not_plain(tmp_path, monkeypatch) -> None:
    for name, revision, down in [("a", "0001", None), ("b", "0002", "0001"), ("c", "0003", "0001")]:
        text = f'"""{name}"""\nrevision = "{revision}"\ndown_revision = {down!r}\n'
        (tmp_path / f"{revision}_{name}.py").write_text(text, encoding="utf-8")
    monkeypatch.setattr(version, "VERSIONS", tmp_path)
    version.head.cache_clear()
    try:
        with pytest.raises(version.NotPlain):
            version.head()
    finally:
        version.head.cache_clear()


def test_the_version_read_with_sqlalchemy_is_alembics(db_url) -> None:
    store = Store(make_engine(db_url))
    try:
        with store.connect() as connection:
            assert version.current(connection) is None  # nothing there yet
        opened = open_url(db_url)
        assert current_revision(opened) == version.head()
        with store.begin() as connection:
            connection.execute(sa.text("INSERT INTO alembic_version VALUES ('0001')"))
        with store.connect() as connection, pytest.raises(version.NotPlain):
            version.current(connection)  # two rows: Alembic says what that means
    finally:
        store.engine.dispose()


def test_opening_a_current_database_does_not_load_alembic(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    open_url(url).engine.dispose()
    code = (
        "import sys; from engage.store import open_url; "
        f"open_url({url!r}); print('alembic' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert (done.returncode, done.stdout) == (0, "False\n"), done.stderr
