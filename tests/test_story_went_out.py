"""'Your story went out': one email for each day a story went out, however many sends and
posts that day, with every place in plain words and only links anyone can open; sent once,
even by two processes at the same moment, and tried again only when it surely did not go."""

from __future__ import annotations

import email
import email.policy
import re
import threading

import pytest
import sqlalchemy as sa

from engage import campaigns as campaign_files
from engage import clock as engage_clock
from engage.email.base import Outcome
from engage.errors import LostAnswer
from engage.providers.outbox import Outbox
from engage.store import Store, make_engine, open_store, upgrade
from engage.stories import coproduce, telling, usage, wentout
from engage.web import create_app

from .fakes import FakeMastodon

KEY = "went-out-test-key"
SITE = "https://news.example.org"
PEOPLE = "email,first_name,tags\nsam@example.org,Sam,\nben@example.org,Ben,newsletter\n"
BODY = """# {title}

Sam started swimming last spring. Now Sam swims every week, with good friends around.

Read more on [our website](https://www.example.org/stories).
"""


def campaign(project, slug: str, subject: str, social: str = "") -> None:
    front = (
        f'+++\nsubject = "{subject}"\npreheader = "Sam tells us about swimming."\n'
        f'audience = "newsletter"\nstories = [1]\n{social}+++\n'
    )
    project.write(f"campaigns/{slug}.md", front + BODY.format(title=subject))


SOCIAL = (
    '[social.mastodon]\ntext = "Sam swims every week: {{ link }}"\n'
    '[social.outbox]\ntext = "Sam swims every week: {{ link }}"\n'
)


def mails(project, kind: str = "story-went-out") -> list[email.message.EmailMessage]:
    folder = project.root / "outbox" / "system" / kind
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def approve(project, places: tuple[str, ...]) -> None:
    """Sam's story 1, drafted and approved on Sam's own page for these places."""
    assert project.run("stories", "open", "sam@example.org", "--quiet").exit_code == 0
    assert project.run("stories", "set", "1", "in-progress").exit_code == 0
    path = project.write("draft.md", "# Sam swims\n\nSam swims every week.\n")
    assert project.run("stories", "draft", "1", str(path)).exit_code == 0
    [draft] = mails(project, "story-draft")
    link = re.search(rf"{re.escape(SITE)}(/story/\S+)", text_of(draft)).group(1)
    app = create_app(project.workspace, TESTING=True)
    client = app.test_client()
    page = client.get(link).get_data(as_text=True)
    form = {
        "csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1),
        "version": re.search(r'name="version" value="(\d+)"', page).group(1),
        "action": "approve",
        **{f"place-{place}": "yes" for place in places},
    }
    assert client.post(link, data=form).status_code == 200
    app.extensions["engage"]["store"].engine.dispose()


@pytest.fixture
def team(project, monkeypatch, clock, db_url):
    """Sam (a contributor) and Ben (on the newsletter), a public site, and only our own
    campaigns; on SQLite and (when it answers) PostgreSQL."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    project.replace("engage.toml", 'base_url = "http://127.0.0.1:8025"', f'base_url = "{SITE}"')
    for found in (project.root / "campaigns").glob("*.md"):
        found.unlink()
    people = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(people)).exit_code == 0
    return project


@pytest.fixture
def two_channels(team, monkeypatch):
    """A Mastodon account (a fake server) and the outbox, which writes posts to files."""
    fake = FakeMastodon(access_token="tok").start()
    monkeypatch.setenv("TEST_MASTODON_TOKEN", "tok")
    team.write(
        "engage.toml",
        team.read("engage.toml")
        + f'\n[social.mastodon]\nnetwork = "mastodon"\nbase_url = "{fake.url}"\n'
        'access_token_env = "TEST_MASTODON_TOKEN"\n\n[social.outbox]\nnetwork = "outbox"\n',
    )
    yield team
    fake.stop()


def test_a_send_and_posts_on_two_channels_the_same_day_make_one_email(two_channels) -> None:
    project = two_channels
    approve(project, ("newsletter", "mastodon", "outbox"))
    waiting = (
        "Story 1 went out on Tuesday 1 December: its contributor will hear where in one "
        "email, from 08:00 UTC on Wednesday 2 December."
    )

    campaign(project, "spring-news", "Spring news", SOCIAL)
    sent = project.run("send", "spring-news", "--yes")
    assert sent.exit_code == 0, sent.output
    assert sent.output.splitlines()[-1] == waiting
    engage_clock.advance(minutes=20)
    posted = project.run("post", "spring-news", "--yes")
    assert posted.exit_code == 0, posted.output
    assert posted.output.splitlines()[-1] == waiting
    [toot] = [
        line.removeprefix("Posted to mastodon: ")
        for line in posted.output.splitlines()
        if line.startswith("Posted to mastodon: ")
    ]
    assert toot.startswith("https://social.example.org/@")
    assert mails(project) == []

    # Not before the morning after: more could still go out that day.
    engage_clock.set(engage_clock.now().replace(day=2, hour=7, minute=59))
    assert project.run("run").exit_code == 0
    assert mails(project) == []

    engage_clock.advance(minutes=1)
    ran = project.run("run")
    assert (ran.exit_code, ran.output) == (
        0,
        "engage run: 0 campaign(s) worked on, 0 message(s) handed over; "
        "1 email(s) to story contributors.\n",
    )
    [went] = mails(project)
    assert went["To"] == "sam@example.org"
    assert went["Subject"] == "Your story went out on Tuesday 1 December"
    text = text_of(went)
    assert (
        "Here is where it went out:\n"
        f"- in our newsletter “Spring news”: {SITE}/archive/spring-news\n"
        f"- on Mastodon: {toot}\n"
        "- on our social media\n\n"
    ) in text
    for never in ("file:", "outbox", "newsletter:", "mastodon:", str(project.root)):
        assert never not in text + html_of(went), never
    assert f'<a href="{toot}" style' in html_of(went)

    # Running again, or sending and posting again, tells nobody twice.
    assert project.run("run").exit_code == 0
    assert project.run("post", "spring-news", "--yes").exit_code == 0
    assert len(mails(project)) == 1

    # A use the next day is another day's email, with only that day's places.
    campaign(project, "summer-news", "Summer news")
    assert project.run("send", "summer-news", "--yes").exit_code == 0
    assert len(mails(project)) == 1
    engage_clock.advance(days=1)
    assert project.run("run").exit_code == 0
    first, second = mails(project)
    assert second["Subject"] == "Your story went out on Wednesday 2 December"
    assert "Here is where it went out:\n- in our newsletter “Summer news”: " in text_of(second)
    assert "Spring news" not in text_of(second) and "Mastodon" not in text_of(second)


def record(project, slug: str, subject: str) -> None:
    """The campaign `slug` goes out with story 1 now (the same call a finished send makes)."""
    campaign(project, slug, subject)
    ws = project.workspace
    store = open_store(ws)
    try:
        assert usage.record_sent(store, ws, campaign_files.load(ws, slug)) == 1
    finally:
        store.engine.dispose()


def announce(project) -> telling.Told:
    ws = project.workspace
    store = open_store(ws)
    try:
        return wentout.announce_uses(store, ws)
    finally:
        store.engine.dispose()


def test_days_missed_by_cron_are_one_email_each_in_order(team) -> None:
    approve(team, ("newsletter",))
    record(team, "spring-news", "Spring news")
    engage_clock.advance(days=1)
    record(team, "summer-news", "Summer news")
    engage_clock.advance(days=2)
    told = announce(team)
    assert told.sent == [1, 1]
    assert [m["Subject"] for m in mails(team)] == [
        "Your story went out on Tuesday 1 December",
        "Your story went out on Wednesday 2 December",
    ]
    assert told.done == [
        "Told the contributor of story 1 where it went out on Tuesday 1 December: in our "
        "newsletter “Spring news”.",
        "Told the contributor of story 1 where it went out on Wednesday 2 December: in our "
        "newsletter “Summer news”.",
    ]


def test_a_site_that_is_not_public_gives_no_link(team) -> None:
    approve(team, ("newsletter",))
    team.replace("engage.toml", f'base_url = "{SITE}"', 'base_url = "http://localhost:8025"')
    record(team, "spring-news", "Spring news")
    engage_clock.advance(days=1)
    assert announce(team).sent == [1]
    [went] = mails(team)
    assert "Here is where it went out:\n- in our newsletter “Spring news”\n\n" in text_of(went)
    assert "localhost:8025/archive" not in text_of(went) + html_of(went)


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://news.example.org/archive/spring", True),
        ("https://bsky.app/profile/team.example.org/post/3k", True),
        ("https://93.184.216.34/archive/spring", True),
        ("http://news.example.org/archive/spring", False),
        ("file:///home/team/engage/outbox/social/outbox/1.json", False),
        ("/home/team/engage/outbox/social/outbox/1.json", False),
        ("https://localhost/archive/spring", False),
        ("https://127.0.0.1:8025/archive/spring", False),
        ("https://192.168.1.20/archive/spring", False),
        ("https://[::1]/archive/spring", False),
        ("https://printer.local/x", False),
        ("https://intranet/archive/spring", False),
        ("https://[not-an-address/x", False),
        ("", False),
    ],
)
def test_only_links_anyone_can_open_are_shown(url: str, public: bool) -> None:
    assert coproduce.public_link(url) == (url if public else "")


@pytest.mark.parametrize(
    ("channel", "network", "subject", "words"),
    [
        ("newsletter", "", "Spring  news\n", "in our newsletter “Spring news”"),
        ("newsletter", "", "", "in our newsletter"),
        ("mastodon", "mastodon", "", "on Mastodon"),
        ("club-toots", "mastodon", "", "on Mastodon"),
        ("bluesky", "bluesky", "", "on Bluesky"),
        ("x", "x", "", "on X (Twitter)"),
        ("outbox", "outbox", "", "on our social media"),
    ],
)
def test_places_in_plain_words(channel: str, network: str, subject: str, words: str) -> None:
    assert coproduce.place_words(channel, network, subject) == words


def test_two_processes_at_once_send_one_email(team, monkeypatch) -> None:
    approve(team, ("newsletter",))
    record(team, "spring-news", "Spring news")
    engage_clock.advance(days=1)
    real = Outbox.send_system
    gate = threading.Barrier(2, timeout=10)

    def slow(self, message):  # noqa: ANN001, ANN202 - a provider that takes its time
        threading.Event().wait(0.5)
        return real(self, message)

    monkeypatch.setattr(Outbox, "send_system", slow)
    results: list[telling.Told] = []

    def one() -> None:
        gate.wait()
        results.append(announce(team))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(len(told.sent) for told in results) == [0, 1]
    assert len(mails(team)) == 1
    assert announce(team).sent == []


def test_an_email_that_surely_did_not_go_is_tried_again_next_time(team, monkeypatch) -> None:
    approve(team, ("newsletter",))
    record(team, "spring-news", "Spring news")
    engage_clock.advance(days=1)
    refused = Outcome(0, False, error="mailbox full")
    real = Outbox.send_system
    monkeypatch.setattr(Outbox, "send_system", lambda self, message: refused)
    failed = announce(team)
    assert (failed.sent, failed.problems) == (
        [],
        [
            "story 1: the went-out email did not go: The went-out story email to "
            "sam@example.org was refused by the outbox provider: mailbox full"
        ],
    )
    monkeypatch.setattr(Outbox, "send_system", real)
    engage_clock.advance(hours=1)
    assert announce(team).sent == [1]
    assert len(mails(team)) == 1
    assert announce(team).sent == []


def test_an_email_that_may_have_gone_is_never_sent_again(team, monkeypatch) -> None:
    approve(team, ("newsletter",))
    record(team, "spring-news", "Spring news")
    engage_clock.advance(days=1)

    def lost(self, message):  # noqa: ANN001, ANN202
        raise LostAnswer("the line dropped before the answer", [0])

    real = Outbox.send_system
    monkeypatch.setattr(Outbox, "send_system", lost)
    maybe = announce(team)
    assert maybe.sent == []
    assert maybe.problems[0].startswith(
        "story 1: the went-out email did not go: The went-out story email to sam@example.org "
        "may or may not have gone"
    )
    monkeypatch.setattr(Outbox, "send_system", real)
    engage_clock.advance(days=1)
    assert announce(team) == telling.Told()
    assert mails(team) == []


def test_a_story_taken_back_before_the_morning_gets_no_went_out_email(team) -> None:
    approve(team, ("newsletter",))
    record(team, "spring-news", "Spring news")
    taken = team.run("stories", "set", "1", "withdrawn", "--yes")
    assert taken.exit_code == 0, taken.output
    engage_clock.advance(days=1)
    assert announce(team) == telling.Told()
    assert mails(team) == []
    [goodbye] = mails(team, "story-update")[-1:]
    assert "We will not write to you about this story again." in text_of(goodbye)


def test_places_recorded_before_the_upgrade_read_plainly(db_url) -> None:
    """Migration 0013 gives the places already recorded words a contributor can read."""
    store = Store(make_engine(db_url))
    upgrade(store, "0009")
    at = engage_clock.now()
    with store.engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO contacts (id, email, email_key, name, first_name, format, status, "
                "attributes, created_at, updated_at) VALUES (1, 'sam@example.org', "
                "'sam@example.org', '', 'Sam', 'html', 'subscribed', '{}', :at, :at)"
            ),
            {"at": at},
        )
        c.execute(
            sa.text(
                "INSERT INTO stories (id, contact_id, title, status, owner, link, opened_at, "
                "updated_at, told_at) VALUES (1, 1, '', 'approved', '', '', :at, :at, :at)"
            ),
            {"at": at},
        )
        for use_id, channel in ((1, "newsletter"), (2, "outbox")):
            c.execute(
                sa.text(
                    "INSERT INTO story_uses (id, story_id, campaign, channel, link, at, told) "
                    "VALUES (:id, 1, 'spring-news', :channel, 'file:///x', :at, :told)"
                ),
                {"id": use_id, "channel": channel, "at": at, "told": False},
            )
    upgrade(store)
    with store.engine.connect() as c:
        found = c.execute(sa.text("SELECT channel, place FROM story_uses ORDER BY id")).all()
    store.engine.dispose()
    assert [tuple(row) for row in found] == [
        ("newsletter", "in our newsletter"),
        ("outbox", "on our social media"),
    ]
