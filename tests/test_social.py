"""Social posts through the outbox channel: checks before posting, threads, never twice."""

from __future__ import annotations

import datetime as dt
import json
import os

import sqlalchemy as sa

from engage import campaigns
from engage import clock as engage_clock
from engage.social import counting
from engage.store import open_store
from engage.store.schema import posts

SLUG = "doing-with-not-doing-to"
TABLE = f"campaigns/{SLUG}.md:9"  # where `social` puts [social.outbox]: problems name it


# After the example newsletter's send_at, so sending it now is on time.
SENT_AT = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)


def send_first(project, slug: str = SLUG) -> None:
    """Send the campaign for real (to the sample contacts, into the outbox), so the web page
    its posts link to is there. engage's clock stays at SENT_AT for the rest of the test."""
    engage_clock.set(SENT_AT)
    env = {"ENGAGE_SECRET_KEY": "social-test-key"}
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    sent = project.run("send", slug, "--yes", env=env)
    assert sent.exit_code == 0, sent.output


def social(project, block: str) -> None:
    """Add [social.*] tables to the example campaign's front matter."""
    project.replace(
        f"campaigns/{SLUG}.md",
        'reading_level = "beginner"\n+++',
        f'reading_level = "beginner"\n{block}\n+++',
    )


def outbox_posts(project, channel: str = "outbox") -> list[dict]:
    folder = project.root / "outbox" / "social" / channel
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
    send_first(project)
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
    send_first(project)
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
        f"  {TABLE}: outbox, post 1: 599 characters; outbox allows 500. Make it shorter, or split "
        "it into a thread (a list of texts).",
        f"  {TABLE}: outbox, post 1: the image missing.png has no alt text. Add alt = "
        '"what the picture shows".',
        f"  {TABLE}: outbox, post 1: the image {project.root}/images/missing.png is not there.",
    ]
    assert outbox_posts(project) == []
    assert rows(project) == []


def test_hashtag_warning_and_dry_run(project) -> None:
    social(project, '[social.outbox]\ntext = "Read it here {{ link }} #disabilitysportnews"')
    result = project.run("post", SLUG, "--dry-run")
    assert result.exit_code == 0
    assert "Dry run: nothing was posted." in result.output
    assert result.stderr.startswith(f"Warning: {TABLE}: outbox, post 1: #disabilitysportnews")
    assert outbox_posts(project) == []


def test_a_post_left_in_flight_by_a_dead_run_is_reported_not_repeated(project) -> None:
    send_first(project)
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


def test_run_sends_then_posts_what_is_due(project, clock) -> None:
    """The post is due when the newsletter is: one run sends it, then posts its link."""
    social(project, '[social.outbox]\ntext = "Out now: {{ link }}"\npost_at = 2026-12-03T09:00:00Z')
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    assert project.run("run").stdout == "engage run: nothing was due.\n"
    clock.set(SENT_AT)
    result = project.run("run", env={"ENGAGE_SECRET_KEY": "social-test-key"})
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "engage run: 1 campaign(s) worked on, 8 message(s) handed over; 1 social post(s) made.\n"
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


UNKNOWN = (
    "campaigns/doing-with-not-doing-to.md:9: [social.mastodn] is not a channel in engage.toml, "
    "so nothing could be posted from it. The channels are: outbox (engage.toml sets none, so "
    "posts go there). Change the name to one of those, or add a [social.mastodn] channel to "
    "engage.toml."
)


def test_a_table_for_a_channel_engage_toml_lacks_is_refused_everywhere(project, clock) -> None:
    social(project, '[social.mastodn]\ntext = "Our winter news is out."')
    send_first_refused = project.run("send", SLUG, "--yes", env={"ENGAGE_SECRET_KEY": "k"})
    assert send_first_refused.exit_code == 1  # lint runs before every send
    for args in (["--yes"], ["--dry-run"], ["--channel", "outbox", "--yes"]):
        result = project.run("post", SLUG, *args)
        assert (result.exit_code, result.stderr) == (1, f"Error: Nothing was posted: {UNKNOWN}\n")
    lint = project.run("lint", SLUG, "--format", "json")
    assert lint.exit_code == 1
    [finding] = [f for f in json.loads(lint.output) if f["rule"] == "social-channel-unknown"]
    assert f"{finding['where']}: {finding['message']} {finding['fix']}" == UNKNOWN
    assert outbox_posts(project) == []
    assert rows(project) == []


def test_run_reports_the_unknown_table_and_posts_the_other_campaigns(project, clock) -> None:
    social(project, '[social.mastodn]\ntext = "Out now."\npost_at = 2026-12-01T08:00:00Z')
    project.replace(
        "campaigns/share-your-story.md",
        'reading_level = "beginner"\n+++',
        'reading_level = "beginner"\n[social.outbox]\ntext = "Stories soon."\n'
        "post_at = 2026-12-01T08:00:00Z\n+++",
    )
    result = project.run("run")
    assert result.exit_code == 1
    assert result.stderr.rstrip(".\n") == (
        "engage run: 0 campaign(s) worked on, 0 message(s) handed over; 1 social post(s) made; "
        f"1 problem(s): {SLUG} on mastodn: Nothing was posted: {UNKNOWN}"
    ).rstrip(".")
    assert [p["text"] for p in outbox_posts(project)] == ["Stories soon."]


def test_a_table_named_after_a_network_posts_to_its_channels(project) -> None:
    project.write(
        "engage.toml", project.read("engage.toml") + '\n[social.club]\nnetwork = "outbox"\n'
    )
    social(project, '[social.outbox]\ntext = "Our winter news is coming soon."')
    # no contacts here: the empty audience is noted (and, when the files came a minute or more
    # before this test, that the campaign changed after its Easy Read version was written)
    linted = project.run("lint", SLUG)
    last = linted.output.splitlines()[-1]
    assert last.startswith("0 errors, ") and "Not ready to send: it would go to nobody" in last
    assert "[social" not in linted.output
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    assert [p["text"] for p in outbox_posts(project, "club")] == ["Our winter news is coming soon."]


LINK = "http://127.0.0.1:8025/archive/doing-with-not-doing-to"
UNSENT = (
    f"{SLUG} has not been sent yet, so the link in the post ({LINK}) leads to no page. Send it "
    f"first (engage send {SLUG}), or take {{{{ link }}}} out of the post to post without it."
)


def test_a_post_linking_to_an_unsent_newsletter_waits_for_the_send(project) -> None:
    refused = project.run("post", SLUG, "--yes")
    assert (refused.exit_code, refused.stderr) == (1, f"Error: Nothing was posted: {UNSENT}\n")
    assert outbox_posts(project) == [] and rows(project) == []
    rehearsed = project.run("post", SLUG, "--dry-run")
    assert rehearsed.exit_code == 0
    assert rehearsed.stderr == f"Note: posting now would be refused: {UNSENT}\n"
    assert rehearsed.stdout.endswith("Dry run: nothing was posted.\n")

    send_first(project)
    posted = project.run("post", SLUG, "--yes")
    assert posted.exit_code == 0, posted.output
    assert [p["text"].splitlines()[-1] for p in outbox_posts(project)] == [LINK]


def test_a_teaser_without_the_link_can_go_before_the_send(project) -> None:
    social(project, '[social.outbox]\ntext = "Our winter news comes out on Thursday."')
    result = project.run("post", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    assert [p["text"] for p in outbox_posts(project)] == ["Our winter news comes out on Thursday."]


def test_run_waits_to_post_a_link_until_the_newsletter_is_sent(project, clock) -> None:
    """A draft (no send_at) whose post is due: `engage run` says it is waiting, every time,
    and posts it once the team has sent the newsletter."""
    project.write(
        "campaigns/draft-news.md",
        project.read(f"campaigns/{SLUG}.md")
        .replace("send_at = 2026-12-03T09:00:00Z\n", "")
        .replace(
            'reading_level = "beginner"\n+++',
            'reading_level = "beginner"\n[social.outbox]\ntext = "Out now: {{ link }}"\n'
            "post_at = 2026-12-01T08:00:00Z\n+++",
        ),
    )
    waiting = project.run("run")
    link = "http://127.0.0.1:8025/archive/draft-news"
    assert waiting.exit_code == 1
    assert waiting.stderr.rstrip(".\n") == (
        "engage run: 0 campaign(s) worked on, 0 message(s) handed over; 1 problem(s): "
        "draft-news on outbox: Nothing was posted: draft-news has not been sent yet, so the "
        f"link in the post ({link}) leads to no page. Send it first (engage send draft-news), "
        "or take {{ link }} out of the post to post without it"
    )
    assert outbox_posts(project) == []
    send_first(project, "draft-news")
    posted = project.run("run", env={"ENGAGE_SECRET_KEY": "social-test-key"})
    assert posted.exit_code == 0, posted.output
    assert [p["text"] for p in outbox_posts(project)] == [f"Out now: {link}"]
