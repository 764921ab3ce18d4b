"""Stories, the whole loop, with a clock the test controls: a call for stories goes out, a
story comes back, the contributor is thanked, approves a draft in a real browser and limits
where it may appear, lint holds the team to that, the story goes out, the contributor hears,
and nobody is left more than [followups] days without news."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import re

import pytest

from .browser import axe, format_violations
from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401
from .live_site import queue_sent, serve

KEY = "stories-test-key"
CALL = "share-your-story"
PEOPLE = (
    "email,name,first_name,tags,format\n"
    "amira@example.org,Amira Hassan,Amira,contributor,html\n"
    "ben@example.org,Ben Okafor,Ben,newsletter,html\n"
)
STORY = (
    "Hello team,\n\n"
    "I started playing wheelchair basketball last spring. I was nervous at first, but the "
    "coach made me feel welcome from the very first session. Now I train twice a week and "
    "I have made good friends. I would love to share my story.\n\nAmira"
)
DRAFT = (
    "# Amira finds her team\n\n"
    "Amira started wheelchair basketball last spring. She was nervous at first. The coach made "
    "her feel welcome, and now she trains twice a week.\n"
)
NEWSLETTER = """+++
subject = "Stories from our members"
preheader = "Amira tells us how she found her team."
audience = "newsletter"
stories = [1]
{social}+++
# Stories from our members

Amira started wheelchair basketball last spring. Now she trains twice a week, with good
friends around her.

Read more on [our website](https://www.example.org/stories).
"""
SOCIAL = '[social.outbox]\ntext = "Amira found her team: {{ link }}"\n'


@pytest.fixture
def site(project, monkeypatch, clock):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    with serve(project) as base:
        yield base, project


def mails(project, kind: str) -> list[email.message.EmailMessage]:
    folder = project.root / "outbox" / "system" / kind
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


def text_of(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def story_reply(call: email.message.EmailMessage) -> bytes:
    reply = email.message.EmailMessage()
    reply["From"] = "Amira Hassan <amira@example.org>"
    reply["To"] = str(call["Reply-To"])
    reply["Subject"] = "Re: " + str(call["Subject"])
    reply["Date"] = "Tue, 01 Dec 2026 09:30:00 +0000"
    reply["Message-ID"] = "<amira-story@mail.example.net>"
    reply["In-Reply-To"] = str(call["Message-ID"])
    reply.set_content(STORY + "\n\nOn Tue, 1 Dec 2026 at 09:00, Get Yourself Active wrote:\n> hi\n")
    return bytes(reply)


def test_the_whole_loop(site, page, clock) -> None:
    base, project = site
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0

    # The call for stories goes out; Amira answers it.
    assert project.run("send", CALL, "--yes", "--now").exit_code == 0
    [call] = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in (project.root / "outbox" / CALL).glob("*.eml")
    ]
    saved = project.root / "amira.eml"
    saved.write_bytes(story_reply(call))
    clock.advance(minutes=30)
    imported = project.run("replies", "import", str(saved))
    assert imported.exit_code == 0, imported.output
    assert imported.output == (
        f"{saved}: reply 1, story (matched by the reply address).\n"
        "1 new, 0 already here.\n"
        "Opened story 1 and sent the thank-you email.\n"
    )
    [thanks] = mails(project, "story-acknowledgement")
    assert thanks["To"] == "amira@example.org"
    assert thanks["Subject"] == "Thank you for your story"
    assert "Tuesday 15 December" in text_of(thanks)  # 14 days from 1 December

    # Importing it again opens nothing new.
    again = project.run("replies", "import", str(saved))
    assert again.output == f"{saved}: already here as reply 1.\n0 new, 1 already here.\n"
    assert len(mails(project, "story-acknowledgement")) == 1

    listed = json.loads(project.run("stories", "list", "--format", "json").output)
    assert [(s["id"], s["status"], s["contributor"], s["campaign"]) for s in listed] == [
        (1, "received", "amira@example.org", CALL)
    ]

    # Publishing before she approves says so, and how to go on.
    skipped = project.run("stories", "set", "1", "published", "--link", "https://x.org/a")
    assert skipped.exit_code == 1
    assert skipped.output == (
        "Error: Story 1 has not been approved by its contributor. Send them a draft to approve "
        "(engage stories draft 1 FILE.md), or, if you must publish without their approval, say "
        'why: --without-approval --note "..."\n'
    )
    unknown = project.run("stories", "set", "1", "finished")
    assert unknown.exit_code == 1
    assert "'finished' is not a story status." in unknown.output

    clock.advance(days=2)
    moved = project.run("stories", "set", "1", "in-progress", "--note", "Priya is editing it.")
    assert moved.output == "Story 1 is in-progress. The contributor was sent the update email.\n"
    assert "Priya is editing it." in text_of(mails(project, "story-update")[0])
    assert project.run("stories", "assign", "1", "Priya").output == "Story 1 is now with Priya.\n"
    clock.advance(minutes=30)

    # The draft goes to Amira with her private link.
    draft_file = project.write("drafts/amira.md", DRAFT)
    sent = project.run("stories", "draft", "1", str(draft_file))
    assert sent.output == (
        "Draft 1 of story 1 is with its contributor to read. They were sent a private link.\n"
    )
    [draft_mail] = mails(project, "story-draft")
    assert draft_mail["Subject"] == "Your story is ready for you to check"
    link = re.search(rf"{re.escape(base)}/story/\S+", text_of(draft_mail)).group(0)

    # Publishing before she approves is refused.
    early = project.run("stories", "set", "1", "published", "--link", "https://x.org/a")
    assert early.exit_code == 1
    assert "has not been approved by its contributor: they have the draft to read." in early.output

    clock.advance(minutes=30)
    # In a real browser: she reads it, says yes to the newsletter only, and approves.
    page.goto(link)
    assert page.locator("h1").inner_text() == "Your story"
    assert page.locator(".draft h3").inner_text() == "Amira finds her team"
    violations = axe(page)
    assert not violations, format_violations(violations, title="story page")
    page.set_viewport_size({"width": 320, "height": 640})  # 200% zoom: no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.set_viewport_size({"width": 1280, "height": 720})
    assert "<script" not in page.request.get(link).text()  # it works without JavaScript
    page.get_by_label("In our email newsletter").check()
    assert not page.get_by_label("On our website").is_checked()
    assert not page.get_by_label("My name").is_checked()
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, this is right").click()
    assert page.locator("h1").inner_text() == "Thank you for saying yes"
    violations = axe(page)
    assert not violations, format_violations(violations, title="approved page")

    shown = json.loads(project.run("stories", "show", "1", "--format", "json").output)
    assert shown["status"] == "approved"
    assert shown["choices"] == {
        "newsletter": True,
        "website": False,
        "outbox": False,
        "name": False,
        "photo": False,
    }
    assert [d["decision"] for d in shown["drafts"]] == ["approved"]
    assert [(t["reply"], t["kind"], t["text"]) for t in shown["thread"]] == [(1, "story", STORY)]
    as_text = project.run("stories", "show", "1").output.splitlines()
    assert as_text[as_text.index("Reply 1 (story), 2026-12-01 09:30 UTC:") + 1] == "  Hello team,"

    clock.advance(minutes=30)
    # A campaign that would also post the story on social media is refused by lint.
    project.write("campaigns/member-stories.md", NEWSLETTER.format(social=SOCIAL))
    refused = project.run("lint", "member-stories")
    assert refused.exit_code == 1
    assert (
        "campaigns/member-stories.md:1: error [story-channel-refused] Story 1's contributor has "
        "not agreed to it appearing on outbox." in refused.output
    )
    posting = project.run("post", "member-stories", "--yes")
    assert posting.exit_code == 1
    assert "outbox: story 1's contributor has not agreed to it appearing on outbox" in (
        posting.output
    )

    # The newsletter-only campaign is clean, goes out, and Amira hears about it.
    project.write("campaigns/member-stories.md", NEWSLETTER.format(social=""))
    clean = project.run("lint", "member-stories")
    assert "story-" not in clean.output, clean.output
    clock.advance(days=1)
    out = project.run("send", "member-stories", "--yes", "--now")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-1] == (
        "Story 1 went out on Friday 4 December: its contributor will hear where in one email, "
        "from 08:00 UTC on Saturday 5 December."
    )
    assert mails(project, "story-went-out") == []  # not yet: more may go out today
    # The next morning, engage run (cron) tells her, once.
    clock.advance(days=1)
    ran = project.run("run")
    assert ran.exit_code == 0, ran.output
    [went] = mails(project, "story-went-out")
    assert went["Subject"] == "Your story went out on Friday 4 December"
    assert "Here is where it went out:\n- in our newsletter “Stories from our members”\n" in (
        text_of(went)
    )
    assert "/archive/" not in text_of(went)  # the site is on 127.0.0.1: not a public link
    # Sending again tells nobody twice.
    assert project.run("send", "member-stories", "--yes", "--now").exit_code == 0
    assert project.run("run").exit_code == 0
    assert len(mails(project, "story-went-out")) == 1

    # Nobody is owed news until the window has passed since the last email to them.
    assert project.run("followups").output == (
        "Nobody is owed news: every open story has had news in the last 14 days.\n"
    )
    clock.advance(days=15)
    owed = project.run("followups")
    assert owed.output.splitlines() == [
        "STORY  CONTRIBUTOR        STATUS    LAST TOLD   DAYS",
        "1      amira@example.org  approved  2026-12-05  15",
        "1 owed news. Send the update email with: engage followups send",
    ]
    report = json.loads(project.run("report", CALL, "--format", "json").output)
    [stories_part] = [s for s in report["sections"] if s["key"] == "stories"]
    counts = {row["label"]: row["count"] for row in stories_part["rows"]}
    assert {k: v for k, v in counts.items() if v} == {
        "Stories opened": 1,
        "Now approved": 1,
        "Approved by their contributor": 1,
        "Contributors owed news now": 1,
        "Longest wait for news, in days": 15,
    }
    assert report["replies"]["story"] == 1
    updates_before = len(mails(project, "story-update"))
    followed = project.run("followups", "send", "--yes")
    assert followed.output == "Sent 1 update email(s).\n"
    assert len(mails(project, "story-update")) == updates_before + 1
    assert project.run("followups", "send", "--yes").output == "Nobody is owed news.\n"
    assert project.run("followups", "--format", "json").output.strip() == "[]"

    # Her whole timeline, in order.
    timeline = project.run("contacts", "show", "amira@example.org").output
    order = [
        "email sent: share-your-story",
        "reply 1 (story)",
        "story 1 opened",
        "story 1 set to in-progress",
        "story 1: a draft sent to them to approve",
        "story 1: they approved the draft",
        "story 1 went out",
        "story 1: went-out email sent to them",
        "story 1: update email sent to them",
    ]
    at = 0
    for line in order:  # each one after the one before
        at = timeline.index(line, at) + len(line)


def test_withdrawal_from_the_page_tells_the_team_what_to_take_down(site, page, clock) -> None:
    base, project = site
    assert (
        project.run("contacts", "add", "sam@example.org", "--consent", "Yes please").exit_code == 0
    )
    opened = project.run("stories", "open", "sam@example.org", "--title", "Sam's swim")
    assert opened.output == (
        "Opened story 1 for sam@example.org. The contributor was sent the thank-you email.\n"
    )
    [thanks] = mails(project, "story-acknowledgement")
    link = re.search(rf"{re.escape(base)}/story/\S+", text_of(thanks)).group(0)

    page.goto(link)
    check = page.get_by_role("button", name="Take my story back")
    with page.expect_navigation():
        check.click()
    assert page.locator("h1").inner_text() == "Please tick the box to take your story back"
    assert json.loads(project.run("stories", "show", "1", "--format", "json").output)["status"] == (
        "received"
    )

    page.goto(link)
    page.get_by_label("Would you like to tell us why?").fill("I changed my mind.")
    page.get_by_label("I am sure I want to take my story back").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Take my story back").click()
    assert page.locator("h1").inner_text() == "Your story is withdrawn"
    violations = axe(page)
    assert not violations, format_violations(violations, title="withdrawn page")

    shown = json.loads(project.run("stories", "show", "1", "--format", "json").output)
    assert shown["status"] == "withdrawn"
    [withdrawn] = [h for h in shown["history"] if h["action"] == "withdrawn"]
    assert (withdrawn["note"], withdrawn["actor"]) == ("I changed my mind.", "sam@example.org")
    queue_sent(project)  # the page queued the team's email; the server's worker sends it
    [team] = mails(project, "story-team-withdrawn")
    assert team["To"] == "news@example.org"
    assert team["Subject"] == "Story 1 was taken back: please stop using it"
    assert "withdrawn" in project.run("stories", "list").output
    # A withdrawn story is never owed news.
    clock.advance(days=30)
    assert project.run("followups", "--format", "json").output.strip() == "[]"


def test_a_tampered_link_changes_nothing(site, page) -> None:
    base, project = site
    assert (
        project.run("contacts", "add", "sam@example.org", "--consent", "Yes please").exit_code == 0
    )
    assert project.run("stories", "open", "sam@example.org").exit_code == 0
    [thanks] = mails(project, "story-acknowledgement")
    link = re.search(rf"{re.escape(base)}/story/\S+", text_of(thanks)).group(0)
    page.goto(link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb"))
    assert page.locator("h1").inner_text() == "This link does not work"
    violations = axe(page)
    assert not violations, format_violations(violations, title="bad link page")
