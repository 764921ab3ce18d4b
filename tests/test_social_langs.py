"""Social posts per language: a translation (slug.cy.md) with [social.*] tables of its own
posts them too, each part once, in its language, to fake Mastodon and Bluesky servers on
loopback that check the language fields as the real APIs do. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time

import pytest
import sqlalchemy as sa

from engage.store import open_store
from engage.store.schema import posts

from .fakes import FakeBluesky, FakeMastodon
from .kill_loop import engage
from .test_social import send_first

SLUG = "doing-with-not-doing-to"
BASE = "https://engage.example.org"
LINK = f"{BASE}/archive/{SLUG}"
WELSH_LINK = f"{LINK}.cy"
ENGLISH = (
    "[social.mastodon]\n"
    'text = ["Our winter news is out: {{ link }}", "Thank you to everyone who shared a story."]\n'
    "[social.bluesky]\n"
    'text = "Our winter news is out: {{ link }}"\n'
)
WELSH_TABLES = (
    "[social.mastodon]\n"
    'text = ["Mae ein newyddion y gaeaf yma: {{ link }}", "Diolch i bawb a rannodd stori."]\n'
    "[social.bluesky]\n"
    'text = "Mae ein newyddion y gaeaf yma: {{ link }}"\n'
)


def welsh(project, tables: str = WELSH_TABLES) -> str:
    """The campaign's Welsh translation, with `tables` in its front matter. Returns its path."""
    project.write(
        f"campaigns/{SLUG}.cy.md",
        "+++\n"
        'subject = "Gwneud gyda, nid gwneud i: ein newyddion y gaeaf"\n'
        'preheader = "Sut mae pobl anabl yn llywio ein gwaith."\n'
        f"{tables}+++\n"
        "# Gwneud gyda, nid gwneud i\n\nEleni fe wnaethon ni weithio mewn ffordd newydd.\n",
    )
    return f"campaigns/{SLUG}.cy.md"


@pytest.fixture
def networks(project, monkeypatch, db_url):
    """Mastodon and Bluesky fakes as the workspace's two channels, the campaign's English
    posts for both, and the campaign sent (its web page is what the posts link to)."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("TEST_MASTODON_TOKEN", "tok")
    monkeypatch.setenv("TEST_BLUESKY_PASSWORD", "app-pass")
    mastodon = FakeMastodon(access_token="tok", delay=0.0).start()
    bluesky = FakeBluesky(handle="team.example.org", password="app-pass", did="did:plc:team")
    bluesky.start()
    project.replace("engage.toml", 'base_url = "http://127.0.0.1:8025"', f'base_url = "{BASE}"')
    project.write(
        "engage.toml",
        project.read("engage.toml")
        + f'\n[social.mastodon]\nnetwork = "mastodon"\nbase_url = "{mastodon.url}"\n'
        'access_token_env = "TEST_MASTODON_TOKEN"\n'
        f'\n[social.bluesky]\nnetwork = "bluesky"\nbase_url = "{bluesky.url}"\n'
        'handle = "team.example.org"\napp_password_env = "TEST_BLUESKY_PASSWORD"\n',
    )
    project.replace(
        f"campaigns/{SLUG}.md",
        'reading_level = "beginner"\n+++',
        f'reading_level = "beginner"\n{ENGLISH}+++',
    )
    send_first(project)
    yield mastodon, bluesky
    mastodon.stop()
    bluesky.stop()


def rows(project) -> list[tuple]:
    store = open_store(project.workspace)
    with store.connect() as c:
        found = c.execute(
            sa.select(posts.c.campaign, posts.c.channel, posts.c.part, posts.c.status).order_by(
                posts.c.campaign, posts.c.channel, posts.c.part
            )
        ).all()
    store.engine.dispose()
    return [tuple(r) for r in found]


def status_keys(mastodon: FakeMastodon) -> list[str | None]:
    return [s["idempotency_key"] for s in mastodon.statuses]


def test_each_language_posts_once_with_its_language_and_link(project, networks) -> None:
    mastodon, bluesky = networks
    path = welsh(project)
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 0, result.output

    assert [(s["text"], s["language"]) for s in mastodon.statuses] == [
        (f"Our winter news is out: {LINK}", "en"),
        ("Thank you to everyone who shared a story.", "en"),
        (f"Mae ein newyddion y gaeaf yma: {WELSH_LINK}", "cy"),
        ("Diolch i bawb a rannodd stori.", "cy"),
    ]
    en_first, en_second, cy_first, cy_second = mastodon.statuses
    assert (en_second["in_reply_to_id"], cy_second["in_reply_to_id"]) == (
        en_first["id"],
        cy_first["id"],
    )
    assert cy_first["in_reply_to_id"] is None  # each language is its own thread
    assert status_keys(mastodon) == [
        f"engage-{SLUG}-mastodon-0",
        f"engage-{SLUG}-mastodon-1",
        f"engage-{SLUG}.cy-mastodon-0",
        f"engage-{SLUG}.cy-mastodon-1",
    ]
    sent_langs = [
        dict(r.body)["language"] for r in mastodon.requests if r.path == "/api/v1/statuses"
    ]
    assert sent_langs == ["en", "en", "cy", "cy"]  # ISO 639: Mastodon keeps no region

    assert [(p["text"], p["langs"]) for p in bluesky.posts] == [
        (f"Our winter news is out: {LINK}", ["en-GB"]),
        (f"Mae ein newyddion y gaeaf yma: {WELSH_LINK}", ["cy"]),
    ]
    links = [f["features"][0]["uri"] for p in bluesky.posts for f in p["facets"]]
    assert links == [LINK, WELSH_LINK]

    [preview, posted] = [
        result.output.split("Posted to", 1)[0],
        "Posted to" + result.output.split("Posted to", 1)[1],
    ]
    assert preview.splitlines() == [
        "In English:",
        "bluesky (bluesky), post 1: 82 of 300 graphemes, 0 image(s)",
        "mastodon (mastodon), post 1: 47 of 500 characters, 0 image(s)",
        "mastodon (mastodon), post 2: 41 of 500 characters, 0 image(s)",
        "In Cymraeg (Welsh):",
        "bluesky (bluesky), post 1: 92 of 300 graphemes, 0 image(s)",
        "mastodon (mastodon), post 1: 54 of 500 characters, 0 image(s)",
        "mastodon (mastodon), post 2: 30 of 500 characters, 0 image(s)",
    ]
    b_en, b_cy = (
        f"https://bsky.app/profile/team.example.org/post/{p['rkey']}" for p in bluesky.posts
    )
    assert posted.splitlines() == [
        f"Posted to bluesky: {b_en}",
        f"Posted to mastodon: {en_first['url']}",
        f"Posted to mastodon: {en_second['url']}",
        f"Posted to bluesky in Cymraeg (Welsh): {b_cy}",
        f"Posted to mastodon in Cymraeg (Welsh): {cy_first['url']}",
        f"Posted to mastodon in Cymraeg (Welsh): {cy_second['url']}",
    ]
    assert rows(project) == [
        (SLUG, "bluesky", 0, "posted"),
        (SLUG, "mastodon", 0, "posted"),
        (SLUG, "mastodon", 1, "posted"),
        (f"{SLUG}.cy", "bluesky", 0, "posted"),
        (f"{SLUG}.cy", "mastodon", 0, "posted"),
        (f"{SLUG}.cy", "mastodon", 1, "posted"),
    ]
    assert path == f"campaigns/{SLUG}.cy.md"

    again = project.run("post", SLUG, "--yes")
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[-4:] == [
        "bluesky: already posted.",
        "mastodon: already posted.",
        "bluesky in Cymraeg (Welsh): already posted.",
        "mastodon in Cymraeg (Welsh): already posted.",
    ]
    assert (len(mastodon.statuses), len(bluesky.posts)) == (4, 2)


def test_the_translation_alone_and_one_channel(project, networks) -> None:
    mastodon, bluesky = networks
    welsh(project)
    result = project.run("post", f"{SLUG}.cy", "--channel", "mastodon", "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        "mastodon (mastodon), post 1: 54 of 500 characters, 0 image(s)",
        "mastodon (mastodon), post 2: 30 of 500 characters, 0 image(s)",
    ]
    assert [s["language"] for s in mastodon.statuses] == ["cy", "cy"]
    assert bluesky.posts == []
    assert rows(project) == [
        (f"{SLUG}.cy", "mastodon", 0, "posted"),
        (f"{SLUG}.cy", "mastodon", 1, "posted"),
    ]
    # The whole campaign later: the English posts and the Welsh one on Bluesky, nothing twice.
    assert project.run("post", SLUG, "--yes").exit_code == 0
    assert status_keys(mastodon) == [
        f"engage-{SLUG}.cy-mastodon-0",
        f"engage-{SLUG}.cy-mastodon-1",
        f"engage-{SLUG}-mastodon-0",
        f"engage-{SLUG}-mastodon-1",
    ]
    assert [p["langs"] for p in bluesky.posts] == [["en-GB"], ["cy"]]


def test_a_translation_without_tables_posts_nothing_more(project, networks) -> None:
    mastodon, bluesky = networks
    welsh(project, tables="")
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    assert "Cymraeg" not in result.output
    assert [s["language"] for s in mastodon.statuses] == ["en", "en"]
    assert [p["langs"] for p in bluesky.posts] == [["en-GB"]]
    assert [r[0] for r in rows(project)] == [SLUG, SLUG, SLUG]

    alone = project.run("post", f"{SLUG}.cy", "--yes")
    assert (alone.exit_code, alone.stderr) == (
        1,
        f"Error: Nothing was posted: campaigns/{SLUG}.cy.md has no [social.*] tables of its "
        "own, so it has nothing to post. Add one (like [social.mastodon] with a text), or post "
        f"the campaign itself: engage post {SLUG}\n",
    )
    assert len(mastodon.statuses) == 2


def test_a_welsh_post_too_long_is_refused_with_its_file_and_line(project, networks) -> None:
    mastodon, bluesky = networks
    path = welsh(project, tables='[social.mastodon]\ntext = "' + "gair " * 120 + '"\n')
    line = project.read(path).splitlines().index("[social.mastodon]") + 1
    result = project.run("post", SLUG, "--yes")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: Nothing was posted: {path}:{line}: mastodon in Cymraeg (Welsh), post 1: 599 "
        "characters; mastodon allows 500. Make it shorter, or split it into a thread (a list "
        "of texts).\n",
    )
    assert (mastodon.statuses, bluesky.posts, rows(project)) == ([], [], [])


def test_a_translation_table_for_no_channel_is_refused(project, networks) -> None:
    mastodon, _ = networks
    path = welsh(project, tables='[social.mastodn]\ntext = "Mae ein newyddion yma."\n')
    line = project.read(path).splitlines().index("[social.mastodn]") + 1
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Nothing was posted: {path}:{line}: [social.mastodn] is not a channel in "
        "engage.toml, so nothing could be posted from it. The channels are: bluesky, mastodon. "
        "Change the name to one of those, or add a [social.mastodn] channel to engage.toml.\n"
    )
    assert mastodon.statuses == []


def test_an_easy_read_version_posts_nothing_of_its_own(project, networks) -> None:
    """Posts go one per language: tables in slug.easy-read.md would post English twice."""
    mastodon, bluesky = networks
    path = f"campaigns/{SLUG}.easy-read.md"
    project.write(
        path,
        '+++\nsubject = "Our winter news in Easy Read"\n'
        '[social.mastodon]\ntext = "Our news is here: {{ link }}"\n+++\n# Our winter news\n',
    )
    result = project.run("post", SLUG, "--yes")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: Nothing was posted: {path}:3: [social.mastodon] is in an Easy Read version. "
        "Social posts go one for each language, so it would post a second one in the same "
        f"language. Put the post in campaigns/{SLUG}.md instead (write it in easy words "
        "there), or take the table out.\n",
    )
    assert (mastodon.statuses, bluesky.posts, rows(project)) == ([], [], [])


def test_a_kill_between_two_welsh_parts_leaves_each_part_once(
    project, networks, monkeypatch, db_url
) -> None:
    """`engage post` is killed (SIGKILL) after the first Welsh Mastodon part went and while
    the second is on its way. The next runs report that part as in doubt and post nothing
    again: each part is at the network once."""
    mastodon, bluesky = networks
    welsh(project)
    mastodon.delay = 0.5  # each answer takes a while: time to kill in between
    env = {
        "ENGAGE_DATABASE_URL": db_url,
        "TEST_MASTODON_TOKEN": "tok",
        "TEST_BLUESKY_PASSWORD": "app-pass",
    }
    running = engage(project.root, env, "post", SLUG, "--yes")
    try:
        deadline = time.monotonic() + 60
        while _status_posts(mastodon) < 4:  # the 4th: the second Welsh part, on its way
            assert running.poll() is None, running.communicate()
            assert time.monotonic() < deadline, "engage post never reached the Welsh thread"
            time.sleep(0.01)
        running.send_signal(signal.SIGKILL)
    finally:
        running.wait(timeout=30)
    assert (f"{SLUG}.cy", "mastodon", 1, "in_flight") in rows(project)
    time.sleep(mastodon.delay + 0.5)  # the fake finishes the request it was given

    who = "Problem: mastodon in Cymraeg (Welsh): post 2"
    first = project.run("post", SLUG, "--yes")
    assert (first.exit_code, first.stderr) == (
        1,
        f"{who} may or may not have gone (engage stopped while posting it); check the "
        "account, engage will not repeat it\n",
    )
    second = project.run("post", SLUG, "--yes")
    assert (second.exit_code, second.stderr) == (
        1,
        f"{who} is unknown: engage stopped while posting this\n",
    )
    assert sorted(status_keys(mastodon)) == sorted(
        [
            f"engage-{SLUG}-mastodon-0",
            f"engage-{SLUG}-mastodon-1",
            f"engage-{SLUG}.cy-mastodon-0",
            f"engage-{SLUG}.cy-mastodon-1",
        ]
    )
    assert [p["langs"] for p in bluesky.posts] == [["en-GB"], ["cy"]]
    assert rows(project)[-1] == (f"{SLUG}.cy", "mastodon", 1, "unknown")


def _status_posts(mastodon: FakeMastodon) -> int:
    return sum(1 for r in mastodon.requests if r.method == "POST" and r.path == "/api/v1/statuses")


RUN = "engage run: 0 campaign(s) worked on, 0 message(s) handed over; "
WELSH_DUE = (
    WELSH_TABLES.replace("[social.bluesky]\n", "post_at = 2026-12-04T09:00:00Z\n[social.bluesky]\n")
    + "post_at = 2026-12-05T09:00:00Z\n"
)


def test_run_posts_each_language_when_it_is_due(project, networks, clock) -> None:
    mastodon, bluesky = networks
    project.replace(
        f"campaigns/{SLUG}.md",
        '"Thank you to everyone who shared a story."]\n',
        '"Thank you to everyone who shared a story."]\npost_at = 2026-12-03T10:00:00Z\n',
    )
    project.replace(
        f"campaigns/{SLUG}.md",
        'text = "Our winter news is out: {{ link }}"\n',
        'text = "Our winter news is out: {{ link }}"\npost_at = 2026-12-03T10:00:00Z\n',
    )
    welsh(project, WELSH_DUE)
    clock.set(dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC))  # the Welsh Mastodon post is due
    first = project.run("run")
    assert first.exit_code == 0, first.output
    assert first.stdout == f"{RUN}5 social post(s) made.\n"
    assert [s["language"] for s in mastodon.statuses] == ["en", "en", "cy", "cy"]
    assert [p["langs"] for p in bluesky.posts] == [["en-GB"]]
    clock.set(dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.UTC))  # and now the Welsh Bluesky one
    second = project.run("run")
    assert second.stdout == f"{RUN}1 social post(s) made.\n"
    assert [p["langs"] for p in bluesky.posts] == [["en-GB"], ["cy"]]
    assert project.run("run").stdout == "engage run: nothing was due.\n"
    assert len(mastodon.statuses) == 4


def test_outbox_posts_say_their_language(project, db_url, monkeypatch) -> None:
    """The outbox (no channels set) writes each post's language in its JSON file."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    project.replace(
        f"campaigns/{SLUG}.md",
        'reading_level = "beginner"\n+++',
        'reading_level = "beginner"\n[social.outbox]\ntext = "Our winter news is coming."\n+++',
    )
    welsh(project, '[social.outbox]\ntext = "Mae ein newyddion y gaeaf yn dod."\n')
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    folder = project.root / "outbox" / "social" / "outbox"
    made = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    assert [(m["text"], m["lang"]) for m in made] == [
        ("Our winter news is coming.", "en-GB"),
        ("Mae ein newyddion y gaeaf yn dod.", "cy"),
    ]
