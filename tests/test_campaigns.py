from __future__ import annotations

import datetime as dt
import json

import pytest

from engage import campaigns
from engage.errors import CampaignError


def test_parse_front_matter_and_body(project) -> None:
    campaign = campaigns.load(project.workspace, "doing-with-not-doing-to")
    assert campaign.slug == "doing-with-not-doing-to"
    assert campaign.meta.subject == "Doing with, not doing to: our winter news"
    assert campaign.meta.kind == "newsletter"
    assert campaign.meta.audience == "newsletter"
    assert campaign.meta.template == "newsletter"
    assert campaign.meta.reading_level == "beginner"
    assert campaign.meta.send_at == dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    assert campaign.body.startswith("# Doing with, not doing to\n")
    assert campaign.body_line == 10


def test_slug_or_path(project) -> None:
    by_slug = campaigns.load(project.workspace, "share-your-story")
    by_path = campaigns.load(project.workspace, str(project.root / "campaigns/share-your-story.md"))
    assert by_slug.path.resolve() == by_path.path.resolve()
    assert by_path.meta.kind == "call-for-stories"


def test_defaults(project) -> None:
    project.campaign("plain", "# Hi\n", preheader=None)
    meta = campaigns.load(project.workspace, "plain").meta
    assert (meta.kind, meta.template, meta.reading_level, meta.send_at, meta.preheader) == (
        "newsletter",
        "newsletter",
        "beginner",
        None,
        "",
    )


def _error(project, text: str) -> str:
    project.write("campaigns/bad.md", text)
    with pytest.raises(CampaignError) as caught:
        campaigns.load(project.workspace, "bad")
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '+++\nsubject = "Hi"\nkind = newsletter\n+++\nBody\n',
            "campaigns/bad.md:3: the front matter cannot be read: text must be in double "
            'quotes. Write kind = "newsletter".',
        ),
        (
            '+++\nsubject = "Hi"\nsubjet = "Hi"\n+++\n',
            "campaigns/bad.md:3: front matter: unknown key 'subjet'; the keys allowed in the top "
            "level are: audience, kind, preheader, reading_level, send_at, social, stories, subject, "
            "template. Did you mean subject?",
        ),
        (
            '+++\nsubject = "Hi"\nkind = "story"\n+++\n',
            'campaigns/bad.md:3: front matter: kind must be "newsletter" or "call-for-stories", '
            'not "story"',
        ),
        (
            '+++\nsubject = "Hi"\nreading_level = "easy"\n+++\n',
            'campaigns/bad.md:3: front matter: reading_level must be "beginner" or "intermediate" '
            'or "general", not "easy"',
        ),
        (
            '+++\nsubject = "Hi"\nsend_at = 2026-12-03T09:00:00\n+++\n',
            "campaigns/bad.md:3: front matter: send_at needs a time zone: write "
            "2026-12-03T09:00:00Z for UTC (UK winter time), or 2026-12-03T09:00:00+01:00 for UK "
            "summer time",
        ),
        (
            '+++\nsubject = "Hi"\nsend_at = "tomorrow"\n+++\n',
            "campaigns/bad.md:3: front matter: send_at must be a date and time, not the text "
            '"tomorrow"',
        ),
        (
            "+++\nsubject = 12\n+++\n",
            "campaigns/bad.md:2: front matter: subject must be text in quotes, not the number 12",
        ),
        (
            "# No front matter\n",
            "campaigns/bad.md:1: a campaign starts with front matter between +++ lines, "
            'for example:\n+++\nsubject = "Our spring news"\n+++',
        ),
        (
            '+++\nsubject = "Hi"\n# Body\n',
            "campaigns/bad.md:1: the front matter is never closed: add a +++ line after it.",
        ),
    ],
)
def test_bad_campaign_files(project, text: str, message: str) -> None:
    assert _error(project, text) == message


def test_not_utf8(project) -> None:
    (project.root / "campaigns/bad.md").write_bytes(b'+++\nsubject = "Caf\xe9"\n+++\n')
    with pytest.raises(CampaignError) as caught:
        campaigns.load(project.workspace, "bad")
    assert str(caught.value) == (
        "campaigns/bad.md:2: this file is not UTF-8 text (byte 18 cannot be read). "
        "Save it as UTF-8 and try again."
    )


def test_missing_campaign_says_where_it_looked(project) -> None:
    with pytest.raises(CampaignError) as caught:
        campaigns.load(project.workspace, "spring")
    assert str(caught.value) == (
        f"No campaign 'spring': looked for campaigns/spring.md in {project.root}. "
        "Campaigns here: doing-with-not-doing-to, share-your-story."
    )
    with pytest.raises(CampaignError) as caught:
        campaigns.load(project.workspace, "elsewhere/spring.md")
    assert str(caught.value) == (
        "No campaign file at elsewhere/spring.md. Check the path, or give the slug."
    )


def test_campaigns_list(project) -> None:
    result = project.run("campaigns", "list")
    assert result.exit_code == 0
    assert result.output == (
        "SLUG                     SUBJECT                                    KIND"
        "              SEND_AT                    STATUS     SENT\n"
        "doing-with-not-doing-to  Doing with, not doing to: our winter news  newsletter"
        "        2026-12-03T09:00:00+00:00  scheduled\n"
        "share-your-story         We would love to hear your story           call-for-stories"
        "  2026-12-10T10:00:00+00:00  scheduled\n"
    )


def test_campaigns_list_shows_sending_progress(project, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", "k")
    project.campaign("draft", "# Draft\n\nHello there.\n")
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    sent = project.run("send", "doing-with-not-doing-to", "--yes", "--now", "--limit", "3")
    assert sent.exit_code == 0
    rows = json.loads(project.run("campaigns", "list", "--format", "json").output)
    assert [(r["slug"], r["status"], r["sent"], r["total"]) for r in rows] == [
        ("doing-with-not-doing-to", "stopped", 3, 8),  # --limit stops it until --resume
        ("draft", "draft", 0, 0),
        ("share-your-story", "scheduled", 0, 0),
    ]
    assert project.run("send", "doing-with-not-doing-to", "--yes", "--resume").exit_code == 0
    table = project.run("campaigns", "list").output.splitlines()
    assert table[1].endswith("2026-12-03T09:00:00+00:00  sent       8 of 8")


def test_campaigns_list_json_and_a_broken_file(project) -> None:
    project.write("campaigns/broken.md", "no front matter\n")
    result = project.run("campaigns", "list", "--format", "json")
    assert result.exit_code == 1
    assert '"slug": "share-your-story"' in result.stdout
    assert result.stderr == (
        "Error: campaigns/broken.md:1: a campaign starts with front matter between +++ lines, "
        'for example:\n+++\nsubject = "Our spring news"\n+++\n'
    )


def test_cli_missing_campaign_exit_code(project) -> None:
    result = project.run("lint", "nope")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: No campaign 'nope': looked for campaigns/nope.md")
    assert "Traceback" not in result.output
