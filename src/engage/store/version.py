"""The schema version, read without loading Alembic: every command opens the store, and
Alembic (with its script directory) takes longer to load than most commands take to run.

The head comes from the migration files' own `revision` and `down_revision` lines, so there
is no second list to keep; the database's version is the one row of Alembic's version table.
When either is not plain (no single head, several rows), the caller asks Alembic instead.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import sqlalchemy as sa

VERSIONS = Path(__file__).parent / "migrations" / "versions"
VERSION_TABLE = "alembic_version"  # Alembic's default, which migrations/env.py keeps
_ASSIGNED = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


class NotPlain(Exception):
    """The files or the table say something only Alembic can read."""


@functools.cache
def head() -> str:
    """The newest migration's revision: the one no other migration revises."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        found = dict(_ASSIGNED.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue  # not a migration (__init__.py)
        try:
            revision = ast.literal_eval(found["revision"])
            down = ast.literal_eval(found.get("down_revision", "None"))
        except (ValueError, SyntaxError):
            raise NotPlain(path.name) from None
        if not isinstance(revision, str) or not isinstance(down, str | None):
            raise NotPlain(path.name)  # a merge or a computed id
        revisions.add(revision)
        revised.add(down or "")
    heads = revisions - revised
    if len(heads) != 1:
        raise NotPlain(f"{len(heads)} heads")
    return heads.pop()


def current(connection: sa.Connection) -> str | None:
    """The database's schema version; None for a database Alembic has not touched."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    if len(rows) > 1:
        raise NotPlain(f"{len(rows)} rows in {VERSION_TABLE}")
    return rows[0][0] if rows else None
