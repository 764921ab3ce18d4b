"""Mastodon and Bluesky against fake servers on loopback that check requests as the real
APIs do; X through tweepy with its HTTP calls intercepted at the requests level."""

from __future__ import annotations

import contextlib
import json

import pytest

from .fakes import FakeBluesky, FakeMastodon
from .test_social import send_first

SLUG = "doing-with-not-doing-to"
THREAD = (
    'text = ["Our winter news is out: {{ link }} 🎉 #DoingWith", '
    '"Thank you @sam.example.org for your story."]\n'
)


def configure(project, name: str, table: str, thread: str = THREAD, image: bool = True) -> None:
    project.replace(
        "engage.toml",
        'base_url = "http://127.0.0.1:8025"',
        'base_url = "https://engage.example.org"',
    )
    project.write("engage.toml", project.read("engage.toml") + f"\n[social.{name}]\n{table}")
    extra = ""
    if image:
        (project.root / "images").mkdir(exist_ok=True)
        (project.root / "images" / "walk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
        extra = (
            f'[[social.{name}.images]]\npath = "images/walk.png"\n'
            'alt = "A group walks side by side on a flat park path."\n'
        )
    project.replace(
        f"campaigns/{SLUG}.md",
        'reading_level = "beginner"\n+++',
        f'reading_level = "beginner"\n[social.{name}]\n{thread}{extra}+++',
    )
    send_first(project)  # so the web page the posts link to is there


def x_channel(project, monkeypatch, **options) -> None:
    """An X channel with its four keys set (to made-up values)."""
    for name in ("X_KEY", "X_SECRET", "X_TOKEN", "X_TOKEN_SECRET"):
        monkeypatch.setenv(name, f"{name.lower()}-value")
    table = (
        'network = "x"\nconsumer_key_env = "X_KEY"\nconsumer_secret_env = "X_SECRET"\n'
        'access_token_env = "X_TOKEN"\naccess_token_secret_env = "X_TOKEN_SECRET"\n'
    )
    configure(project, "x", table, **options)


@pytest.fixture
def mastodon(project, monkeypatch):
    fake = FakeMastodon(access_token="tok").start()
    monkeypatch.setenv("TEST_MASTODON_TOKEN", "tok")
    configure(
        project,
        "mastodon",
        f'network = "mastodon"\nbase_url = "{fake.url}"\n'
        'access_token_env = "TEST_MASTODON_TOKEN"\n',
    )
    yield fake, project
    fake.stop()


@pytest.fixture
def bluesky(project, monkeypatch):
    fake = FakeBluesky(handle="team.example.org", password="app-pass", did="did:plc:team").start()
    fake.add_handle("sam.example.org", "did:plc:sam")
    monkeypatch.setenv("TEST_BLUESKY_PASSWORD", "app-pass")
    configure(
        project,
        "bluesky",
        f'network = "bluesky"\nbase_url = "{fake.url}"\n'
        'handle = "team.example.org"\napp_password_env = "TEST_BLUESKY_PASSWORD"\n',
    )
    yield fake, project
    fake.stop()


def test_mastodon_thread_with_alt_text_and_idempotency_keys(mastodon) -> None:
    fake, project = mastodon
    result = project.run("post", SLUG, "--channel", "mastodon", "--yes")
    assert result.exit_code == 0, result.output
    first, second = fake.statuses
    assert first["media"][0]["description"] == "A group walks side by side on a flat park path."
    assert second["in_reply_to_id"] == first["id"]
    keys = [r.headers.get("idempotency-key") for r in fake.requests if r.path == "/api/v1/statuses"]
    assert keys == [
        "engage-doing-with-not-doing-to-mastodon-0",
        "engage-doing-with-not-doing-to-mastodon-1",
    ]
    assert project.run("post", SLUG, "--channel", "mastodon", "--yes").output.endswith(
        "mastodon: already posted.\n"
    )
    assert len(fake.statuses) == 2


@contextlib.contextmanager
def own_mastodon(project, monkeypatch, settings: str = "", **fake_options):
    """A Mastodon of the test's own (`fake_options`: max_characters, delay) as the only
    channel, with `settings` added to its [social.mastodon] table; stopped at the end."""
    fake = FakeMastodon(access_token="tok", **fake_options).start()
    try:
        monkeypatch.setenv("TEST_MASTODON_TOKEN", "tok")
        configure(
            project,
            "mastodon",
            f'network = "mastodon"\nbase_url = "{fake.url}"\n'
            'access_token_env = "TEST_MASTODON_TOKEN"\n' + settings,
            image=False,
        )
        yield fake
    finally:
        fake.stop()


def test_mastodon_limit_comes_from_the_instance(project, monkeypatch) -> None:
    with own_mastodon(project, monkeypatch, max_characters=40) as fake:
        result = project.run("post", SLUG, "--channel", "mastodon", "--yes")
        assert result.exit_code == 1
        assert "mastodon allows 40" in result.stderr
        assert fake.statuses == []


def test_mastodon_wrong_token_stops_that_channel_only(mastodon, monkeypatch) -> None:
    fake, project = mastodon
    monkeypatch.setenv("TEST_MASTODON_TOKEN", "wrong")
    result = project.run("post", SLUG, "--yes")  # the outbox is not configured now: only mastodon
    assert result.exit_code == 1
    assert (
        "refused the access token for [social.mastodon] (HTTP 401). Check TEST_MASTODON_TOKEN"
        in result.stderr
    )
    assert fake.statuses == []
    monkeypatch.setenv("TEST_MASTODON_TOKEN", "tok")
    assert project.run("post", SLUG, "--yes").exit_code == 0
    assert len(fake.statuses) == 2


def test_mastodon_rate_limit_is_left_for_the_next_run(mastodon) -> None:
    fake, project = mastodon
    fake.fail_next(
        status=429, times=2
    )  # the instance's limits (defaults are used), then the upload
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 1
    assert "left for the next run" in result.stderr
    assert project.run("post", SLUG, "--yes").exit_code == 0
    assert len(fake.statuses) == 2


def test_bluesky_facets_images_and_thread(bluesky) -> None:
    fake, project = bluesky
    result = project.run("post", SLUG, "--channel", "bluesky", "--yes")
    assert result.exit_code == 0, result.output
    first, second = fake.posts
    spans = {f["features"][0]["$type"].rsplit("#", 1)[1]: f["text"] for f in first["facets"]}
    assert spans == {
        "link": "https://engage.example.org/archive/doing-with-not-doing-to",
        "tag": "#DoingWith",
    }
    assert first["images"][0]["alt"] == "A group walks side by side on a flat park path."
    mention = second["facets"][0]
    assert (mention["text"], mention["features"][0]["did"]) == ("@sam.example.org", "did:plc:sam")
    assert second["reply"]["root"]["uri"] == first["uri"]
    assert fake.sessions_created == 1


def test_bluesky_refreshes_an_expired_session(bluesky) -> None:
    fake, project = bluesky
    fake.expire_tokens()
    assert project.run("post", SLUG, "--channel", "bluesky", "--yes").exit_code == 0
    assert len(fake.posts) == 2


def test_bluesky_wrong_password(bluesky, monkeypatch) -> None:
    fake, project = bluesky
    monkeypatch.setenv("TEST_BLUESKY_PASSWORD", "nope")
    result = project.run("post", SLUG, "--channel", "bluesky", "--yes")
    assert result.exit_code == 1
    assert "refused the handle or app password for [social.bluesky]" in result.stderr
    assert fake.posts == []


def test_x_shows_the_cost_and_posts_through_tweepy(project, monkeypatch) -> None:
    responses = pytest.importorskip("responses")
    x_channel(project, monkeypatch, image=False)
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            "https://api.twitter.com/2/tweets",
            json={"data": {"id": "101", "text": "a"}},
        )
        mock.add(
            responses.POST,
            "https://api.twitter.com/2/tweets",
            json={"data": {"id": "102", "text": "b"}},
        )
        refused = project.run("post", SLUG, "--channel", "x", input="n\n")
        assert (
            "Posting to x costs about $0.215 (X charges per post, more with a link)."
            in refused.output
        )
        assert refused.exit_code == 1
        result = project.run("post", SLUG, "--channel", "x", "--yes")
        assert result.exit_code == 0, result.output
        bodies = [json.loads(call.request.body) for call in mock.calls]
        auth = mock.calls[0].request.headers["Authorization"]
    assert auth.startswith("OAuth ") and 'oauth_consumer_key="x_key-value"' in auth
    assert bodies[0]["text"].startswith(
        "Our winter news is out: https://engage.example.org/archive/"
    )
    assert bodies[1]["reply"] == {"in_reply_to_tweet_id": "101"}
    assert "Posted to x: https://x.com/i/web/status/102" in result.output


def stored_replies(project) -> list[tuple]:
    import sqlalchemy as sa

    from engage.store import open_store
    from engage.store.schema import inbound

    store = open_store(project.workspace)
    with store.connect() as c:
        rows = c.execute(
            sa.select(
                inbound.c.provider, inbound.c.sender, inbound.c.text, inbound.c.in_reply_to
            ).order_by(inbound.c.id)
        ).all()
    store.engine.dispose()
    return [tuple(r) for r in rows]


def test_mastodon_mentions_are_collected_once(mastodon) -> None:
    fake, project = mastodon
    assert project.run("post", SLUG, "--channel", "mastodon", "--yes").exit_code == 0
    ours = fake.statuses[0]["id"]
    fake.add_mention(
        account="sam@example.social", text="I would love to share my story!", in_reply_to_id=ours
    )
    first = project.run("replies", "fetch", "--social")
    assert first.exit_code == 0, first.output
    assert first.output == "mastodon: 1 new, 0 already here.\n"
    assert (
        project.run("replies", "fetch", "--social").output == "mastodon: 0 new, 0 already here.\n"
    )
    [(provider, sender, text, in_reply_to)] = stored_replies(project)
    assert (provider, sender, in_reply_to) == ("mastodon", "sam@example.social", str(ours))
    assert "I would love to share my story!" in text


def test_bluesky_replies_are_collected_once(bluesky) -> None:
    fake, project = bluesky
    assert project.run("post", SLUG, "--channel", "bluesky", "--yes").exit_code == 0
    ours = fake.posts[0]
    fake.add_notification(
        reason="reply",
        author_handle="ann.example.org",
        text="Count me in",
        reply_to_uri=ours["uri"],
    )
    assert project.run("replies", "fetch", "--social").output == "bluesky: 1 new, 0 already here.\n"
    assert project.run("replies", "fetch", "--social").output == "bluesky: 0 new, 1 already here.\n"
    assert stored_replies(project) == [("bluesky", "ann.example.org", "Count me in", ours["uri"])]


def test_x_mentions_need_access_the_account_may_not_have(project, monkeypatch) -> None:
    responses = pytest.importorskip("responses")
    x_channel(project, monkeypatch, image=False)
    with responses.RequestsMock() as mock:
        mock.add(
            responses.GET,
            "https://api.twitter.com/2/users/me",
            json={"data": {"id": "9", "name": "Team", "username": "team"}},
        )
        mock.add(
            responses.GET,
            "https://api.twitter.com/2/users/9/mentions",
            json={
                "title": "Forbidden",
                "detail": "Your access does not include this",
                "type": "about:blank",
                "status": 403,
            },
            status=403,
        )
        result = project.run("replies", "fetch", "--social")
    assert result.exit_code == 1
    assert result.stderr == (
        "Problem: x: [social.x]: this X account's API access does not include reading "
        "mentions, so replies on X are not collected. Read them on X itself.\n"
    )
    with responses.RequestsMock() as mock:
        mock.add(
            responses.GET,
            "https://api.twitter.com/2/users/me",
            json={"data": {"id": "9", "name": "Team", "username": "team"}},
        )
        mock.add(
            responses.GET,
            "https://api.twitter.com/2/users/9/mentions",
            json={
                "data": [
                    {
                        "id": "55",
                        "text": "@team great news",
                        "author_id": "7",
                        "referenced_tweets": [{"type": "replied_to", "id": "101"}],
                    }
                ],
                "includes": {"users": [{"id": "7", "name": "Kim", "username": "kim"}]},
            },
        )
        result = project.run("replies", "fetch", "--social")
    assert result.output == "x: 1 new, 0 already here.\n"
    assert stored_replies(project) == [("x", "kim", "@team great news", "101")]


def test_x_images_go_up_with_alt_text(project, monkeypatch) -> None:
    responses = pytest.importorskip("responses")
    x_channel(project, monkeypatch, thread='text = "Our winter news: {{ link }}"\n')
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://api.x.com/2/media/upload", json={"data": {"id": "777"}})
        mock.add(
            responses.POST,
            "https://api.x.com/2/media/metadata",
            json={"data": {"associated_metadata": True}},
        )
        mock.add(
            responses.POST,
            "https://api.twitter.com/2/tweets",
            json={"data": {"id": "201", "text": "x"}},
        )
        result = project.run("post", SLUG, "--channel", "x", "--yes")
        assert result.exit_code == 0, result.output
        upload, metadata, tweet = mock.calls
    assert b'name="media_category"' in upload.request.body and b"tweet_image" in upload.request.body
    assert json.loads(metadata.request.body) == {
        "id": "777",
        "metadata": {"alt_text": {"text": "A group walks side by side on a flat park path."}},
    }
    assert json.loads(tweet.request.body)["media"] == {"media_ids": ["777"]}


def test_a_refused_post_records_the_reason(mastodon) -> None:
    fake, project = mastodon
    project.replace(
        f"campaigns/{SLUG}.md",
        '[[social.mastodon.images]]\npath = "images/walk.png"\n'
        'alt = "A group walks side by side on a flat park path."\n',
        "",
    )
    fake.fail_next(
        status=422, times=2, body={"error": "Validation failed: Text is spam"}
    )  # instance, post
    result = project.run("post", SLUG, "--channel", "mastodon", "--yes")
    assert result.exit_code == 1
    assert (
        result.stderr
        == "Problem: mastodon refused post 1: HTTP 422: Validation failed: Text is spam\n"
    )
    import sqlalchemy as sa

    from engage.store import open_store
    from engage.store.schema import posts

    store = open_store(project.workspace)
    with store.connect() as c:
        row = c.execute(sa.select(posts.c.status, posts.c.error)).first()
    store.engine.dispose()
    assert tuple(row) == ("failed", "HTTP 422: Validation failed: Text is spam")


def test_a_refused_channel_stops_alone_and_the_others_go_on(mastodon, monkeypatch) -> None:
    fake, project = mastodon
    project.write(
        "engage.toml", project.read("engage.toml") + '\n[social.outbox]\nnetwork = "outbox"\n'
    )
    monkeypatch.setenv("TEST_MASTODON_TOKEN", "expired")
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 1
    assert "Posted to outbox: file://" in result.output
    assert result.stderr.startswith("Problem: mastodon: ")
    assert "[social.mastodon]" in result.stderr
    assert fake.statuses == []


def test_a_post_another_run_is_making_is_left_alone(mastodon) -> None:
    import datetime as dt
    import os

    from engage.store import open_store
    from engage.store.schema import posts

    fake, project = mastodon
    store = open_store(project.workspace)
    with store.begin() as c:
        c.execute(
            posts.insert().values(
                campaign=SLUG,
                channel="mastodon",
                part=0,
                status="in_flight",
                text="x",
                owner=f"{os.uname().nodename}:{os.getpid()}:other",
                updated_at=dt.datetime.now(dt.UTC),
            )
        )
    store.engine.dispose()
    result = project.run("post", SLUG, "--channel", "mastodon", "--yes")
    assert result.exit_code == 1
    assert result.stderr == "Problem: mastodon: another run is posting post 1 right now\n"
    assert fake.statuses == []


def test_x_refuses_a_post_with_an_invisible_character_before_any_call(project, monkeypatch) -> None:
    responses = pytest.importorskip("responses")
    x_channel(
        project, monkeypatch, image=False, thread='text = "Our news\\uFEFF is out {{ link }}"\n'
    )
    with responses.RequestsMock() as mock:  # any call to X would fail the test
        result = project.run("post", SLUG, "--channel", "x", "--yes")
        assert len(mock.calls) == 0
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: Nothing was posted: campaigns/{SLUG}.md:9: x, post 1: X does not take posts "
        "with U+FEFF (a zero width "
        "no-break space, or byte order mark) in them. Delete it: most editors do not show it."
    ]


def test_a_network_that_does_not_answer_in_its_time_out_is_left_in_doubt(
    project, monkeypatch
) -> None:
    """[social.NAME] timeout is how long engage waits for that network (the one HTTP base)."""
    with own_mastodon(project, monkeypatch, "timeout = 0.5\n", delay=3.0):
        result = project.run("post", SLUG, "--channel", "mastodon", "--yes")
    assert result.exit_code == 1
    assert result.stderr.startswith("Problem: mastodon: post 1 may or may not have gone (")
    assert "(read timeout=0.5)" in result.stderr  # its own time-out, not the default 30 s
    assert result.stderr.endswith("check the account, engage will not repeat it\n")
