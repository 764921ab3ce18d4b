"""Mastodon and Bluesky against fake servers on loopback that check requests as the real
APIs do; X through tweepy with its HTTP calls intercepted at the requests level."""

from __future__ import annotations

import json

import pytest

from .fakes import FakeBluesky, FakeMastodon

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


def test_mastodon_limit_comes_from_the_instance(project, monkeypatch) -> None:
    fake = FakeMastodon(access_token="tok", max_characters=40).start()
    try:
        monkeypatch.setenv("TEST_MASTODON_TOKEN", "tok")
        configure(
            project,
            "mastodon",
            f'network = "mastodon"\nbase_url = "{fake.url}"\n'
            'access_token_env = "TEST_MASTODON_TOKEN"\n',
            image=False,
        )
        result = project.run("post", SLUG, "--channel", "mastodon", "--yes")
        assert result.exit_code == 1
        assert "mastodon allows 40" in result.stderr
        assert fake.statuses == []
    finally:
        fake.stop()


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
    for name in ("X_KEY", "X_SECRET", "X_TOKEN", "X_TOKEN_SECRET"):
        monkeypatch.setenv(name, f"{name.lower()}-value")
    configure(
        project,
        "x",
        'network = "x"\nconsumer_key_env = "X_KEY"\nconsumer_secret_env = "X_SECRET"\n'
        'access_token_env = "X_TOKEN"\naccess_token_secret_env = "X_TOKEN_SECRET"\n',
        image=False,
    )
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
