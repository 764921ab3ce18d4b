"""The console's door: team accounts (`engage team`), sign-in by email link and by password,
sessions and their cookie, sign-out here and everywhere, roles, CSRF, the audit log."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
import sqlalchemy as sa

from engage.store.schema import team_links, team_sessions
from engage.team import audit, members, passwords, sessions
from engage.web.console.base import COOKIE
from engage.workflow.own_emails import send_own_emails

from .console import form_token, member_of, signed_in

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def sign_in_emails(project) -> list[email.message.EmailMessage]:
    folder = project.root / "outbox" / "system" / "signin"
    if not folder.exists():
        return []
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def ask_for_link(app, address: str):
    client = app.test_client()
    page = client.get("/console/sign-in")
    assert page.status_code == 200
    answer = client.post(
        "/console/sign-in", data={"email": address, "csrf": form_token(page.get_data(True))}
    )
    return client, answer


def deliver(app) -> None:
    engage = app.extensions["engage"]
    send_own_emails(engage["store"], engage["workspace"], engage["signer"])


def link_in(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://127\.0\.0\.1:8025(/console/sign-in/\S+)", text).group(1)


def test_a_member_signs_in_by_a_link_that_works_once(console_app, clock) -> None:
    app, project = console_app, console_app.project
    member_of(app, "editor", "Sam@Example.org", "Sam Jones")
    client, answer = ask_for_link(app, "sam@example.org")
    assert answer.status_code == 200
    assert "Check your email" in answer.get_data(True)
    deliver(app)
    [message] = sign_in_emails(project)
    assert message["To"] == "Sam@example.org"
    assert message["Subject"] == "Your link to sign in"
    link = link_in(message)
    secret = link.rsplit("/", 1)[1]
    with app.extensions["engage"]["store"].connect() as connection:  # only its hash is kept
        kept = connection.execute(sa.select(team_links.c.secret_hash)).scalars().all()
    assert secret not in kept and len(kept) == 1
    page = client.get(link)  # a mail program that opens the link uses nothing up
    assert page.status_code == 200 and "Press the button to sign in" in page.get_data(True)
    done = client.post(link, data={"csrf": form_token(page.get_data(True))})
    assert done.status_code == 303 and done.headers["Location"] == "/console/"
    cookie = done.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for part in ("HttpOnly", "SameSite=Lax", "Path=/console"):
        assert part in cookie
    assert "Secure" not in cookie  # base_url is http here
    home = client.get("/console/")
    assert home.status_code == 200 and "Hello, Sam Jones" in home.get_data(True)
    assert home.headers["Cache-Control"] == "no-store"
    again = app.test_client().post(link, data={"csrf": form_token(page.get_data(True))})
    assert again.status_code == 400
    assert "This link has been used already" in again.get_data(True)


def test_a_link_expires_after_15_minutes(console_app, clock) -> None:
    app = console_app
    member_of(app, "editor")
    client, _ = ask_for_link(app, "editor@example.org")
    deliver(app)
    link = link_in(sign_in_emails(app.project)[0])
    clock.advance(minutes=15)
    page = client.get(link)
    assert page.status_code == 400
    assert "This link has expired. Each link works for 15 minutes." in page.get_data(True)


def test_an_address_not_on_the_team_gets_the_same_page_and_no_email(console_app) -> None:
    app = console_app
    member_of(app, "editor")
    _, on_team = ask_for_link(app, "editor@example.org")
    _, stranger = ask_for_link(app, "stranger@example.org")
    assert on_team.status_code == stranger.status_code == 200
    assert on_team.get_data(True) == stranger.get_data(True)
    deliver(app)
    assert [m["To"] for m in sign_in_emails(app.project)] == ["editor@example.org"]


def test_a_removed_member_cannot_use_their_link_or_session(console_app) -> None:
    app = console_app
    member_of(app, "admin", "boss@example.org")
    client = signed_in(app, "editor")
    _, _ = ask_for_link(app, "editor@example.org")
    with app.extensions["engage"]["store"].begin() as connection:
        members.remove(connection, "editor@example.org", "test")
    deliver(app)
    assert sign_in_emails(app.project) == []  # the row was skipped: nobody to sign in
    answer = client.get("/console/")
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/sign-in"


def test_sign_in_by_password(console_app, monkeypatch) -> None:
    app = console_app
    app.project.replace("engage.toml", "[web]", '[team]\nsign_in = "password"\n\n[web]')
    from engage.config import load_workspace
    from engage.web import create_app

    app = create_app(load_workspace(app.project.root / "engage.toml"), TESTING=True)
    member_of(app, "sender", "pat@example.org")
    with app.extensions["engage"]["store"].begin() as connection:
        members.set_password(connection, "pat@example.org", "four words to remember", "test")
    client = app.test_client()
    page = client.get("/console/sign-in?next=/console/log")
    html = page.get_data(True)
    assert 'type="password"' in html and 'autocomplete="current-password"' in html
    wrong = client.post(
        "/console/sign-in",
        data={"email": "pat@example.org", "password": "not it at all", "csrf": form_token(html)},
    )
    assert wrong.status_code == 400
    assert "That email address and password do not match" in wrong.get_data(True)
    nobody = client.post(
        "/console/sign-in",
        data={"email": "who@example.org", "password": "not it at all", "csrf": form_token(html)},
    )
    assert nobody.get_data(True) == wrong.get_data(True).replace("pat@", "who@")
    right = client.post(
        "/console/sign-in",
        data={
            "email": "PAT@example.org",
            "password": "four words to remember",
            "next": "/console/log",
            "csrf": form_token(html),
        },
    )
    assert right.status_code == 303 and right.headers["Location"] == "/console/log"
    offsite = client.post(
        "/console/sign-in",
        data={
            "email": "pat@example.org",
            "password": "four words to remember",
            "next": "//evil.example/console/",
            "csrf": form_token(html),
        },
    )
    assert offsite.headers["Location"] == "/console/"
    app.extensions["engage"]["store"].engine.dispose()


def test_sign_in_tries_are_limited(console_app) -> None:
    app = console_app
    client = app.test_client()
    token = form_token(client.get("/console/sign-in").get_data(True))
    codes = [
        client.post(
            "/console/sign-in", data={"email": f"p{i}@example.org", "csrf": token}
        ).status_code
        for i in range(11)
    ]
    assert codes == [200] * 10 + [429]


def test_a_form_without_the_session_token_changes_nothing(console_app) -> None:
    app = console_app
    client = signed_in(app, "admin")
    answer = client.post(
        "/console/team", data={"email": "new@example.org", "name": "New", "role": "editor"}
    )
    assert answer.status_code == 400
    assert "This form has expired" in answer.get_data(True)
    with app.extensions["engage"]["store"].connect() as connection:
        assert members.find(connection, "new@example.org") is None


@pytest.mark.parametrize(("role", "code"), [("editor", 403), ("sender", 403), ("admin", 200)])
def test_only_an_admin_manages_the_team(console_app, role, code) -> None:
    client = signed_in(console_app, role)
    for path in ("/console/team", "/console/log"):
        answer = client.get(path)
        assert answer.status_code == code, path
        if code == 403:
            text = answer.get_data(True)
            assert "You cannot do this" in text
            assert f"Your role is {role}. To manage the team, you need to be an admin" in text


def test_an_admin_adds_and_removes_members_and_the_log_says_so(console_app, clock) -> None:
    app = console_app
    client = signed_in(app, "admin", "ali@example.org")
    added = client.post(
        "/console/team",
        data={"email": "Kim@Example.org", "name": "Kim", "role": "sender", "csrf": client.csrf},
    )
    assert added.status_code == 200
    twice = client.post(
        "/console/team",
        data={"email": "kim@example.org", "name": "Kim", "role": "editor", "csrf": client.csrf},
    )
    assert twice.status_code == 400 and "is on the team already" in twice.get_data(True)
    ask = client.post(
        "/console/team/remove", data={"email": "kim@example.org", "csrf": client.csrf}
    )
    assert "Remove kim@example.org from the team?" in ask.get_data(True)
    gone = client.post(
        "/console/team/remove",
        data={"email": "kim@example.org", "confirm": "yes", "csrf": client.csrf},
    )
    assert gone.status_code == 200
    with app.extensions["engage"]["store"].connect() as connection:
        log = [(e.actor, e.action, e.subject) for e in audit.entries(connection)]
    assert log[:2] == [
        ("ali@example.org", "team member removed", "Kim@example.org"),
        ("ali@example.org", "team member added", "Kim@example.org"),
    ]
    page = client.get("/console/log").get_data(True)
    assert "team member removed" in page and "Kim@example.org" in page


def test_sign_out_here_and_everywhere(console_app) -> None:
    app = console_app
    one = signed_in(app, "editor")
    two = signed_in(app, "editor")
    out = one.post("/console/sign-out", data={"csrf": one.csrf})
    assert out.status_code == 303 and out.headers["Location"] == "/console/signed-out"
    assert one.get("/console/").status_code == 302
    assert two.get("/console/").status_code == 200  # the other browser is still signed in
    three = signed_in(app, "editor")
    three.post("/console/sign-out", data={"csrf": three.csrf, "everywhere": "yes"})
    assert two.get("/console/").status_code == 302
    with app.extensions["engage"]["store"].connect() as connection:
        open_ = connection.execute(
            sa.select(sa.func.count()).where(team_sessions.c.ended_at.is_(None))
        ).scalar()
        actions = [e.action for e in audit.entries(connection)]
    assert open_ == 0
    assert actions[:3] == ["signed out everywhere", "signed in", "signed out"]


def test_a_session_ends_after_its_hours(console_app, clock) -> None:
    client = signed_in(console_app, "editor")
    clock.advance(hours=11, minutes=59)
    assert client.get("/console/").status_code == 200
    clock.advance(minutes=1)
    assert client.get("/console/").status_code == 302


def test_a_cookie_that_is_not_a_session_is_not_signed_in(console_app) -> None:
    client = console_app.test_client()
    for value in ("nonsense", "x" * 3000, ""):
        client.set_cookie(COOKIE, value, path="/console")
        answer = client.get("/console/campaigns-nowhere")
        assert answer.status_code == 404
        assert client.get("/console/").status_code == 302


def test_passwords_are_kept_as_argon2_hashes_and_weak_ones_refused(console_app) -> None:
    app = console_app
    member_of(app, "editor")
    with app.extensions["engage"]["store"].begin() as connection:
        with pytest.raises(passwords.WeakPassword, match="Use at least 12"):
            members.set_password(connection, "editor@example.org", "short", "test")
        members.set_password(connection, "editor@example.org", "a long enough phrase", "test")
        stored = members.password_hash(
            connection, members.find(connection, "editor@example.org").id
        )
    assert stored.startswith("$argon2id$") and "a long enough phrase" not in stored
    assert passwords.matches(stored, "a long enough phrase")
    assert not passwords.matches(stored, "a long enough phrasE")
    assert not passwords.matches("", "")


def test_a_session_begun_before_a_password_change_ends(console_app, clock) -> None:
    app = console_app
    client = signed_in(app, "editor")
    assert client.get("/console/").status_code == 200
    clock.advance(seconds=1)
    with app.extensions["engage"]["store"].begin() as connection:
        members.set_password(connection, "editor@example.org", "a brand new phrase", "test")
    assert client.get("/console/").status_code == 302


def test_two_requests_with_one_link_sign_in_once(console_app) -> None:
    app = console_app
    member = member_of(app, "editor")
    store = app.extensions["engage"]["store"]
    with store.begin() as connection:
        secret = sessions.new_link(connection, member)
    with store.begin() as connection:
        first = sessions.use_link(connection, secret)
    with store.begin() as connection:
        second = sessions.use_link(connection, secret)
    assert (first.email, second) == ("editor@example.org", None)


def test_the_menu_says_where_you_are(console_app) -> None:
    app = console_app
    assert app.project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    client = signed_in(app, "editor")
    listing = client.get("/console/people").get_data(True)
    assert '<a href="/console/people" aria-current="page">People</a>' in listing
    assert '<a href="/console/replies">Replies</a>' in listing
    person = re.search(r'href="(/console/people/\d+)"', listing).group(1)
    below = client.get(person).get_data(True)
    assert '<a href="/console/people" aria-current="true">People</a>' in below
    assert 'aria-current="page"' not in below


def _example(rule) -> str:
    """A URL for a console route, its parts filled in with something of the right shape."""
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name]  # noqa: SLF001 - werkzeug keeps them here
        values[name] = 1 if type(converter).__name__ == "IntegerConverter" else "x"
    return rule.build(values, append_unknown=False)[1]


def test_every_console_form_needs_its_token(console_app) -> None:
    """Every POST route of the console refuses a form without the session's token (400), before
    it looks at anything else: none can be sent from another site."""
    app = console_app
    client = signed_in(app, "admin")
    posts = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.") and "POST" in (rule.methods or ())
    ]
    assert len(posts) == 24  # every part has its forms: a new one is checked here too
    for rule in posts:
        answer = client.post(_example(rule), data={"csrf": "not-the-token"})
        assert answer.status_code == 400, rule.rule
    with app.extensions["engage"]["store"].connect() as connection:
        actions = [e.action for e in audit.entries(connection) if e.actor == "admin@example.org"]
    assert actions == ["signed in"]  # and nothing else the admin did


def test_every_console_page_is_no_store(console_app) -> None:
    client = signed_in(console_app, "admin")
    gets = [
        rule
        for rule in console_app.url_map.iter_rules()
        if rule.endpoint.startswith("console.") and "GET" in (rule.methods or ())
    ]
    for rule in gets:
        answer = client.get(_example(rule))
        assert answer.headers.get("Cache-Control") == "no-store", rule.rule
        assert answer.status_code < 500, rule.rule
    assert client.get("/console/nowhere").headers["Cache-Control"] == "no-store"


def test_on_https_the_session_cookie_is_secure(console_app) -> None:
    app = console_app
    app.project.replace(
        "engage.toml", 'base_url = "http://127.0.0.1:8025"', 'base_url = "https://news.example.org"'
    )
    from engage.config import load_workspace
    from engage.web import create_app

    app = create_app(load_workspace(app.project.root / "engage.toml"), TESTING=True)
    member = member_of(app, "editor")
    with app.extensions["engage"]["store"].begin() as connection:
        secret = sessions.new_link(connection, member)
    client = app.test_client()
    page = client.get(f"/console/sign-in/{secret}")
    done = client.post(f"/console/sign-in/{secret}", data={"csrf": form_token(page.get_data(True))})
    assert done.status_code == 303
    assert "Secure" in done.headers["Set-Cookie"]
    assert done.headers["Strict-Transport-Security"] == "max-age=31536000"
    app.extensions["engage"]["store"].engine.dispose()
