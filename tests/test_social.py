"""Social posts through the outbox channel: checks before posting, threads, never twice."""

from __future__ import annotations

import datetime as dt
import json
import os

import sqlalchemy as sa

from engage import campaigns
from engage.social import counting
from engage.store import open_store
from engage.store.schema import posts

SLUG = "doing-with-not-doing-to"


def social(project, block: str) -> None:
    """Add [social.*] tables to the example campaign's front matter."""
    project.replace(
        f"campaigns/{SLUG}.md",
        'reading_level = "beginner"\n+++',
        f'reading_level = "beginner"\n{block}\n+++',
    )


def outbox_posts(project) -> list[dict]:
    folder = project.root / "outbox" / "social" / "outbox"
    return (
        [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
        if folder.exists()
        else []
    )


def rows(project) -> list[tuple]:
    store = open_store(project.workspace)
    with store.connect() as c:
        found = c.execute(
            sa.select(posts.c.channel, posts.c.part, posts.c.status).order_by(posts.c.part)
        ).all()
    store.engine.dispose()
    return [tuple(r) for r in found]


def test_default_post_from_subject_preheader_and_link(project) -> None:
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    [made] = outbox_posts(project)
    assert made["text"] == (
        "Doing with, not doing to: our winter news\n\n"
        "How Disabled people shape our work, and how you can share your story.\n\n"
        "http://127.0.0.1:8025/archive/doing-with-not-doing-to"
    )
    measured = counting.mastodon_length(made["text"])
    assert (
        result.output.splitlines()[0]
        == f"outbox (outbox), post 1: {measured} of 500 characters, 0 image(s)"
    )
    again = project.run("post", SLUG, "--yes")
    assert again.exit_code == 0
    assert "outbox: already posted." in again.output
    assert len(outbox_posts(project)) == 1


def test_a_thread_with_an_image_posts_each_part_once(project) -> None:
    (project.root / "images").mkdir()
    (project.root / "images" / "walk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    social(
        project,
        '[social.outbox]\ntext = ["Our winter news is out: {{ link }}", '
        '"Sam told us: I was asked what I wanted. #DoingWith"]\n'
        '[[social.outbox.images]]\npath = "images/walk.png"\n'
        'alt = "A group walks side by side on a flat park path."',
    )
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    first, second = outbox_posts(project)
    assert first["images"][0]["alt"] == "A group walks side by side on a flat park path."
    assert second["in_reply_to"] == "engage-doing-with-not-doing-to-outbox-0"
    assert rows(project) == [("outbox", 0, "posted"), ("outbox", 1, "posted")]


def test_problems_stop_everything_before_anything_is_posted(project) -> None:
    social(
        project,
        '[social.outbox]\ntext = ["' + "word " * 120 + '", "fine"]\n'
        '[[social.outbox.images]]\npath = "images/missing.png"\nalt = ""',
    )
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: Nothing was posted. Fix these first:",
        "  outbox, post 1: 599 characters; outbox allows 500. Make it shorter, or split it into "
        "a thread (a list of texts).",
        '  outbox, post 1: the image missing.png has no alt text. Add alt = "what the picture shows".',
        f"  outbox, post 1: the image {project.root}/images/missing.png is not there.",
    ]
    assert outbox_posts(project) == []
    assert rows(project) == []


def test_hashtag_warning_and_dry_run(project) -> None:
    social(project, '[social.outbox]\ntext = "Read it here {{ link }} #disabilitysportnews"')
    result = project.run("post", SLUG, "--dry-run")
    assert result.exit_code == 0
    assert "Dry run: nothing was posted." in result.output
    assert result.stderr.startswith("Warning: outbox, post 1: #disabilitysportnews")
    assert outbox_posts(project) == []


def test_a_post_left_in_flight_by_a_dead_run_is_reported_not_repeated(project) -> None:
    store = open_store(project.workspace)
    with store.begin() as c:
        c.execute(
            posts.insert().values(
                campaign=SLUG,
                channel="outbox",
                part=0,
                status="in_flight",
                text="x",
                owner=f"{os.uname().nodename}:999999:x",
                updated_at=dt.datetime.now(dt.UTC),
            )
        )
    store.engine.dispose()
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "Problem: outbox: post 1 may or may not have gone (engage stopped while "
        "posting it); check the account, engage will not repeat it\n"
    )
    assert outbox_posts(project) == []
    assert rows(project) == [("outbox", 0, "unknown")]


def test_unknown_channel(project) -> None:
    result = project.run("post", SLUG, "--channel", "tiktok")
    assert result.exit_code == 1
    assert result.stderr == "Error: No social channel 'tiktok' in engage.toml. Channels: outbox.\n"


def test_run_posts_what_is_due(project, clock) -> None:
    """The post is due (2020); on engage's clock the example campaigns are not yet."""
    social(project, '[social.outbox]\ntext = "Out now: {{ link }}"\npost_at = 2020-01-01T09:00:00Z')
    result = project.run("run")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == "engage run: 0 campaign(s) worked on, 0 message(s) handed over; 1 social post(s) made.\n"
    )
    assert [p["text"] for p in outbox_posts(project)] == [
        "Out now: http://127.0.0.1:8025/archive/doing-with-not-doing-to"
    ]
    assert project.run("run").stdout == "engage run: nothing was due.\n"


def test_social_front_matter_is_checked(project) -> None:
    social(project, '[social.outbox]\ntxt = "hello"')
    line = project.read(f"campaigns/{SLUG}.md").splitlines().index('txt = "hello"') + 1
    ws = project.workspace
    try:
        campaigns.load(ws, SLUG)
    except Exception as exc:  # noqa: BLE001
        message = str(exc)
    assert message == (
        f"campaigns/{SLUG}.md:{line}: front matter: unknown key 'social.outbox.txt'; the "
        "keys allowed in [social.outbox] are: images, post_at, text. Did you mean text?"
    )
