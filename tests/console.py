"""What the console's tests share: the app on a database (SQLite, or PostgreSQL when it
answers), a member of each role, and a Flask client signed in as one."""

from __future__ import annotations

import re

import pytest

from engage.team import members, sessions
from engage.web import create_app
from engage.web.console.base import COOKIE

KEY = "console-test-key"
ROLES = ("editor", "sender", "admin")


@pytest.fixture
def console_app(project, monkeypatch, clock, db_url):
    """The web app of a copy of the example workspace, on `db_url`, at engage's clock."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    app = create_app(project.workspace, TESTING=True)
    app.project = project
    yield app
    app.extensions["engage"]["store"].engine.dispose()


def member_of(app, role: str, email: str | None = None, name: str | None = None):
    """A team member with `role` (added once)."""
    email = email or f"{role}@example.org"
    with app.extensions["engage"]["store"].begin() as connection:
        found = members.find(connection, email)
        if found is None:
            found = members.add(connection, email, name or role.capitalize(), role, "test")
    return found


def signed_in(app, role: str, email: str | None = None):
    """A Flask test client signed in as a member with `role`; its CSRF token is `.csrf`."""
    member = member_of(app, role, email)
    with app.extensions["engage"]["store"].begin() as connection:
        session = sessions.begin(connection, member, 12, "test")
    client = app.test_client()
    client.set_cookie(COOKIE, session.secret, path="/console")
    client.csrf = session.csrf
    client.member = member
    return client


def form_token(html: str) -> str:
    """The csrf field of the first form on a page."""
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
