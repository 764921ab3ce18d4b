"""engage's own emails go through a queue in the store: a sign-up page never calls the provider
and does the same work for every address; the worker in `engage serve` and `engage run` send
each queued email once, even two at a time; a lost answer is unknown and never sent again.
Through the fake Postmark on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from engage import outgoing, subscriptions
from engage.contacts import core, life
from engage.store import open_store
from engage.store.schema import outgoing as queue
from engage.store.schema import stories, story_history
from engage.web import create_app
from engage.workflow.own_emails import send_own_emails
from engage.workflow.worker import Worker

from .fakes import FakePostmark
from .test_faults import use_provider
from .test_stories_rules import mails, page_form, to_draft

KEY = "outgoing-test-key"


@pytest.fixture
def fake():
    server = FakePostmark(api_key="pm-1", message_stream="outbound").start()
    yield server
    server.stop()


@pytest.fixture
def app(project, monkeypatch, db_url, fake):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    use_provider(project, monkeypatch, "postmark", fake)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    app = create_app(project.workspace, TESTING=True)
    app.project = project
    yield app
    app.extensions["engage"]["store"].engine.dispose()


def store(app):
    return app.extensions["engage"]["store"]


def drain(app) -> outgoing.Drained:
    engage = app.extensions["engage"]
    return send_own_emails(engage["store"], engage["workspace"], engage["signer"])


def sign_up(app, address: str, ip: str = "192.0.2.1"):
    form = {"email": address, "name": "Sam Jones", "format": "html", "consent": "yes"}
    client = app.test_client()
    return client.post("/subscribe", data=form, environ_base={"REMOTE_ADDR": ip})


def rows(app) -> list[tuple[str, str, int, str]]:
    with store(app).connect() as c:
        found = c.execute(
            sa.select(queue.c.address, queue.c.state, queue.c.attempts, queue.c.error).order_by(
                queue.c.id
            )
        )
        return [tuple(r) for r in found]


def contact_status(app, address: str) -> str:
    with store(app).connect() as c:
        return core.find(c, address).status


def sent_to(fake) -> list[str]:
    return [m["email"] for m in fake.messages]


def test_a_sign_up_calls_no_provider_and_the_queue_sends_its_email_once(app, fake) -> None:
    page = sign_up(app, "kim@example.org")
    assert page.status_code == 200
    assert "<h1>Check your email</h1>" in page.get_data(as_text=True)
    assert fake.requests == []  # nothing went to the provider during the request
    assert rows(app) == [("kim@example.org", "waiting", 0, "")]
    with store(app).connect() as c:
        assert core.find(c, "kim@example.org") is None  # made when its email is sent
    done = drain(app)
    assert (done.sent, done.problems) == (1, [])
    assert sent_to(fake) == ["kim@example.org"]
    assert "/confirm/" in fake.messages[0]["text"]
    assert rows(app) == [("kim@example.org", "sent", 1, "")]
    with store(app).connect() as c:
        assert core.find(c, "kim@example.org").status == "pending"
        assert c.execute(sa.select(queue.c.payload)).scalar() == {}  # the name is not kept
    assert drain(app).sent == 0
    assert sent_to(fake) == ["kim@example.org"]


def statements(app, address: str, ip: str) -> list[str]:
    """The SQL one sign-up request runs, in order, without its values."""
    said: list[str] = []

    def note(_conn, _cursor, statement, _parameters, _context, _many) -> None:  # noqa: ANN001
        said.append(" ".join(statement.split()))

    engine = store(app).engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        assert sign_up(app, address, ip).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    return said


def test_every_sign_up_does_the_same_work_whatever_the_address(app, fake) -> None:
    with store(app).begin() as c:
        life.add(c, "sub@example.org", core.ConsentGiven())
        life.add(c, "left@example.org", core.ConsentGiven())
        life.unsubscribe(c, "left@example.org", method="manual", source="test", by="test-runner")
        subscriptions.sign_up(c, app.extensions["engage"]["signer"], "pend@example.org", "", "html")
    assert contact_status(app, "pend@example.org") == "pending"
    seen = {
        kind: statements(app, address, ip)
        for kind, address, ip in [
            ("new", "new@example.org", "192.0.2.10"),
            ("pending", "pend@example.org", "192.0.2.11"),
            ("subscribed", "sub@example.org", "192.0.2.12"),
            ("unsubscribed", "left@example.org", "192.0.2.13"),
        ]
    }
    assert seen["new"] == seen["pending"] == seen["subscribed"] == seen["unsubscribed"]
    assert any(s.startswith("INSERT INTO outgoing") for s in seen["new"])
    assert not any("contacts" in s or "suppressions" in s for s in seen["new"])
    assert fake.requests == []
    done = drain(app)  # the subscribed address gets nothing; the others their link
    assert (done.sent, done.skipped) == (3, 1)
    assert sorted(sent_to(fake)) == ["left@example.org", "new@example.org", "pend@example.org"]


def test_two_drainers_at_once_send_each_email_once(app, fake, project) -> None:
    addresses = [f"p{i:02d}@example.org" for i in range(30)]
    with store(app).begin() as c:
        for address in addresses:
            outgoing.ask_to_confirm(c, address, "", "html", [])
    fake.delay = 0.03  # so the two overlap
    workspace = project.workspace
    results: list[outgoing.Drained] = []

    def one() -> None:
        own = open_store(workspace)
        try:
            results.append(outgoing.drain(own, workspace))
        finally:
            own.engine.dispose()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent_to(fake)) == addresses  # each once
    assert sum(r.sent for r in results) == 30
    assert all(r.sent for r in results), "both drainers took a share"
    assert {state for _, state, _, _ in rows(app)} == {"sent"}


def test_a_lost_answer_leaves_the_email_unknown_and_never_sends_it_again(app, fake) -> None:
    sign_up(app, "kim@example.org")
    fake.accept_then_hang(seconds=3)  # Postmark takes it; the answer comes after our 1 s
    done = drain(app)
    assert (done.sent, done.unknown) == (0, 1)
    assert done.problems == [
        "The confirmation email to kim@example.org may or may not have gone: Postmark did "
        "not answer within 1 s after taking the request. engage does not send it again by itself."
    ]
    [(address, state, attempts, _)] = rows(app)
    assert (address, state, attempts) == ("kim@example.org", "unknown", 1)
    assert drain(app).sent == 0
    assert sent_to(fake) == ["kim@example.org"]  # the one Postmark took; never a second


def test_a_refused_send_waits_and_goes_later(app, fake, clock) -> None:
    sign_up(app, "kim@example.org")
    fake.fail_next(503, retry_after=None)
    done = drain(app)
    assert (done.sent, done.retrying) == (0, 1)
    assert rows(app) == [("kim@example.org", "waiting", 1, "Postmark answered HTTP 503")]
    assert drain(app).sent == 0  # not due yet: 30 seconds first
    clock.advance(seconds=31)
    assert drain(app).sent == 1
    assert sent_to(fake) == ["kim@example.org"]
    assert rows(app) == [("kim@example.org", "sent", 2, "")]


def test_rows_left_by_a_process_that_ended(app, fake) -> None:
    """Claimed and never handed over: sent by the next drain. Marked sending: it may have
    reached the provider, so it is unknown and not sent."""
    sign_up(app, "kim@example.org")
    sign_up(app, "lee@example.org", ip="192.0.2.2")
    gone = "localhost-that-ended:1:x"
    with store(app).begin() as c:
        for address, state in [("kim@example.org", "claimed"), ("lee@example.org", "sending")]:
            c.execute(
                queue.update()
                .where(queue.c.address == address)
                .values(
                    state=state,
                    owner=gone,
                    claimed_at=core.now() - dt.timedelta(hours=1),  # its lease has run out
                )
            )
    assert drain(app).sent == 1
    assert sent_to(fake) == ["kim@example.org"]
    assert [(a, s) for a, s, _, _ in rows(app)] == [
        ("kim@example.org", "sent"),
        ("lee@example.org", "unknown"),
    ]


def test_the_worker_sends_a_queued_email_and_stops_cleanly(app, fake) -> None:
    engage = app.extensions["engage"]
    worker = Worker(engage["store"], engage["workspace"], engage["signer"], every=30)
    worker.start()
    try:
        sign_up(app, "kim@example.org")  # wakes it: no 30 s wait
        deadline = time.monotonic() + 10
        while not fake.messages and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.stop()
    assert sent_to(fake) == ["kim@example.org"]
    assert not worker._thread.is_alive()


def test_engage_run_sends_what_the_web_app_queued(project, monkeypatch, db_url, clock) -> None:
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    app = create_app(project.workspace, TESTING=True)
    app.project = project
    try:
        sign_up(app, "kim@example.org")
    finally:
        app.extensions["engage"]["store"].engine.dispose()
    folder = project.root / "outbox" / "system" / "confirm"
    assert not folder.exists()
    result = project.run("run")
    assert result.output == (
        "engage run: 0 campaign(s) worked on, 0 message(s) handed over; 1 email(s) the web "
        "app queued (like sign-up links).\n"
    )
    assert len(list(folder.glob("*.eml"))) == 1
    assert project.run("run").output == "engage run: nothing was due.\n"


@pytest.fixture
def team(project, monkeypatch, clock, db_url):
    """Sam, a contributor, on the outbox provider."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    assert project.run("contacts", "add", "sam@example.org", "--consent", "Yes").exit_code == 0
    return project


def test_a_story_page_queues_its_emails_and_the_queue_tells_the_story(team, project, clock) -> None:
    """Approving a draft on the contributor's page queues their update and the team's email;
    sending them starts the story's follow-up clock again, as sending at once did."""
    assert team.run("stories", "open", "sam@example.org", "--quiet").exit_code == 0
    path = to_draft(team)
    updates = len(mails(project, "story-update"))  # "we are working on it", from the CLI
    app = create_app(project.workspace, TESTING=True)
    try:
        client = app.test_client()
        form = {**page_form(client, path), "action": "approve", "place-newsletter": "yes"}
        assert client.post(path, data=form).status_code == 200
        assert len(mails(project, "story-update")) == updates
        assert mails(project, "story-team-approved") == []
        with store(app).connect() as c:
            told_before = c.execute(sa.select(stories.c.told_at)).scalar()
        clock.advance(minutes=5)
        done = drain(app)
        assert (done.sent, done.problems) == (2, [])
        update = mails(project, "story-update")[updates]
        [for_team] = mails(project, "story-team-approved")
        assert (update["To"], for_team["To"]) == ("sam@example.org", "news@example.org")
        with store(app).connect() as c:
            history = c.execute(
                sa.select(story_history.c.action, story_history.c.note).order_by(story_history.c.id)
            ).all()
            told_after = c.execute(sa.select(stories.c.told_at)).scalar()
        assert history[-1] == ("told", "update")
        assert (told_after - told_before).total_seconds() == 300  # told when it was sent
    finally:
        app.extensions["engage"]["store"].engine.dispose()


def test_a_missing_key_leaves_every_email_waiting(app, fake, monkeypatch) -> None:
    sign_up(app, "kim@example.org")
    monkeypatch.delenv("TEST_PM_TOKEN")
    done = drain(app)
    assert done.sent == 0
    assert [p.split(":")[0] for p in done.problems] == ["engage's own emails"]
    assert "TEST_PM_TOKEN" in done.problems[0]
    assert rows(app) == [("kim@example.org", "waiting", 0, "")]
    assert fake.requests == []
    monkeypatch.setenv("TEST_PM_TOKEN", "pm-1")
    assert drain(app).sent == 1


def test_erasure_removes_the_emails_queued_for_them(app, fake) -> None:
    sign_up(app, "kim@example.org")
    drain(app)  # sent: the row keeps the address it went to
    sign_up(app, "Kim@EXAMPLE.org", ip="192.0.2.2")  # another spelling, still waiting
    sign_up(app, "lee@example.org", ip="192.0.2.3")
    assert [r[:2] for r in rows(app)] == [
        ("kim@example.org", "sent"),
        ("Kim@example.org", "waiting"),  # the domain is kept in lower case
        ("lee@example.org", "waiting"),
    ]
    with store(app).begin() as c:
        life.erase(c, "kim@example.org")
    assert [r[:2] for r in rows(app)] == [("lee@example.org", "waiting")]
