"""Shared fixtures: a copy of the example workspace in a temporary folder, and a CLI runner."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from engage import clock as engage_clock
from engage.cli import cli
from engage.config import Workspace, load_workspace
from engage.store import resolve_url

from . import mailcheck
from .console import console_app  # noqa: F401 - a fixture for every console test

PG_ENV = "ENGAGE_TEST_DATABASE_URL"

REPO = Path(__file__).resolve().parent.parent


# Markers (declared in pyproject.toml) for the tests that need a real browser or IMAP server,
# set from the fixtures they use, so `-m "not browser and not imap"` leaves them out.
MARKED_BY_FIXTURE = {"browser": {"chromium", "page"}, "imap": {"imap_server"}}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in MARKED_BY_FIXTURE.items():
            if used & fixtures:
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _every_message_checked(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if a message it made breaks a rule of mailcheck.py: those the SMTP sink
    and the fake providers received, and every .eml file written in an outbox folder."""
    mailcheck.take()  # anything left by a server of an earlier test is not this test's
    used = "tmp_path" in request.fixturenames
    root = request.getfixturevalue("tmp_path") if used else None
    yield
    if root is not None:
        for path in sorted(root.rglob("*.eml")):
            if "outbox" in path.relative_to(root).parts:
                mailcheck.note(path.read_bytes(), str(path.relative_to(root)))
    found = mailcheck.take()
    if found:
        pytest.fail("A message breaks the mail rules (tests/mailcheck.py):\n" + "\n".join(found))


@pytest.fixture(autouse=True)
def _real_time_after_each_test() -> Iterator[None]:
    yield
    engage_clock.set(None)


# Where the clock fixture starts: before the example campaigns' send_at (2026-12-03 and
# 2026-12-10), so `engage run` finds them not yet due. A test that runs engage in another
# process gives it this time with ENGAGE_NOW (see src/engage/clock.py).
CLOCK_START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock():  # noqa: ANN201
    """engage's clock, fixed at 2026-12-01 09:00 UTC; move it with clock.advance(days=15)."""
    engage_clock.set(CLOCK_START)
    return engage_clock


class Project:
    """A workspace on disk that a test may change freely."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def workspace(self) -> Workspace:
        return load_workspace(self.root / "engage.toml")

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text(encoding="utf-8")

    def replace(self, relative: str, old: str, new: str) -> None:
        text = self.read(relative)
        assert old in text, f"{old!r} not in {relative}"
        self.write(relative, text.replace(old, new))

    def public_links(self, base: str = "https://news.example.org") -> None:
        """Point the email's links at a public https address, as a real send through any
        provider but the outbox needs (lint's base-url rule)."""
        self.replace("engage.toml", 'base_url = "http://127.0.0.1:8025"', f'base_url = "{base}"')

    def campaign(self, slug: str, body: str, **front: object) -> Path:
        front = {"subject": "Our news", "preheader": "What we did this month.", **front}
        lines = [f"{key} = {_toml(value)}" for key, value in front.items() if value is not None]
        return self.write(f"campaigns/{slug}.md", "+++\n" + "\n".join(lines) + "\n+++\n" + body)

    def run(
        self, *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> Result:
        return CliRunner().invoke(cli, ["--workspace", str(self.root), *args], env=env, input=input)


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A copy of the example workspace; its database is its own engage.db unless a test
    sets ENGAGE_DATABASE_URL."""
    monkeypatch.delenv("ENGAGE_DATABASE_URL", raising=False)
    monkeypatch.delenv("ENGAGE_WORKSPACE", raising=False)
    monkeypatch.setenv("ENGAGE_USER", "test-runner")
    root = tmp_path / "workspace"
    root.mkdir()
    shutil.copy(REPO / "engage.toml", root / "engage.toml")
    for folder in ("templates", "campaigns", "audiences", "samples"):
        shutil.copytree(REPO / folder, root / folder)
    return Project(root)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for one test: a SQLite file, or a new schema in the PostgreSQL database
    named by ENGAGE_TEST_DATABASE_URL (skipped when that is not set)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"set {PG_ENV} to run the store tests on PostgreSQL")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(resolve_url(base, tmp_path))
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(resolve_url(base, tmp_path))
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
