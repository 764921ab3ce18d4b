"""No dead ends: every next step engage lists is accepted; declines and withdrawals show the
email and ask first; a decline or publication can be undone for a day; a story gets a title
after opening; a misfiled reply becomes a story; and the team hears whenever a contributor
approves, asks for changes, changes their choices or takes their story back."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from engage.store import open_store
from engage.stories import core, telling
from engage.tokens import Signer
from engage.web import create_app
from engage.workflow.own_emails import send_own_emails

from .test_stories_rules import mails

KEY = "steps-test-key"
TEAM = "news@example.org"


@pytest.fixture
def team(project, monkeypatch, clock, db_url):
    """Sam and Kim, on SQLite and (when it answers) PostgreSQL."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    for address in ("sam@example.org", "kim@example.org"):
        assert project.run("contacts", "add", address, "--consent", "Yes please").exit_code == 0
    return project


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def shown(project, story: int = 1) -> dict:
    return json.loads(project.run("stories", "show", str(story), "--format", "json").output)


def page_link(project, story: int) -> str:
    """The contributor's private link, made as engage makes it for their emails."""
    ws = project.workspace
    store = open_store(ws)
    try:
        with store.connect() as connection:
            found = core.get(connection, story)
    finally:
        store.engine.dispose()
    return telling.link_for(ws, Signer(KEY), found).removeprefix(ws.config.web.base_url)


class Page:
    """The contributor's story page, in the real web app."""

    def __init__(self, project, story: int) -> None:
        self.app = create_app(project.workspace, TESTING=True)
        self.client = self.app.test_client()
        self.path = page_link(project, story)

    def get(self) -> str:
        return self.client.get(self.path).get_data(as_text=True)

    def post(self, action: str, **fields: str):  # noqa: ANN201
        page = self.get()
        form = {"csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1)}
        version = re.search(r'name="version" value="(\d+)"', page)
        if version:
            form["version"] = version.group(1)
        answer = self.client.post(self.path, data={**form, "action": action, **fields})
        engage = self.app.extensions["engage"]  # then the emails it queued go, as engage serve's
        send_own_emails(engage["store"], engage["workspace"], engage["signer"])  # worker sends them
        return answer

    def close(self) -> None:
        self.app.extensions["engage"]["store"].engine.dispose()


def run_ok(project, *args: str, input: str | None = None) -> str:
    result = project.run(*args, input=input)
    assert result.exit_code == 0, (args, result.output)
    return result.output


def bring(project, status: str) -> int:
    """A new story of Sam's, taken to `status` the way the team and Sam would."""
    opened = run_ok(project, "stories", "open", "sam@example.org", "--quiet")
    story = int(re.match(r"Opened story (\d+)", opened).group(1))
    sid = str(story)
    if status in ("declined", "withdrawn"):
        run_ok(project, "stories", "set", sid, status, "--yes")
        return story
    if status == "received":
        return story
    run_ok(project, "stories", "set", sid, "in-progress")
    if status == "in-progress":
        return story
    run_ok(project, "stories", "draft", sid, str(project.write("d.md", "# Sam\n\nSam swims.\n")))
    if status == "awaiting-approval":
        return story
    page = Page(project, story)
    assert page.post("approve", **{"place-newsletter": "yes"}).status_code == 200
    page.close()
    if status == "approved":
        return story
    run_ok(project, "stories", "set", sid, "published", "--link", "https://x.org/sam")
    return story


STATUSES = [
    "received",
    "in-progress",
    "awaiting-approval",
    "approved",
    "published",
    "declined",
    "withdrawn",
]


@pytest.mark.parametrize("status", STATUSES)
def test_every_next_step_listed_is_accepted(team, status: str) -> None:
    first = bring(team, status)
    listed = shown(team, first)["next_steps"]
    if status == "withdrawn":
        assert listed == []
        assert "Next steps:  none (this story is closed)" in team.run("stories", "show", "1").output
    draft = team.write("d2.md", "# Sam\n\nSam swims twice a week.\n")
    for step in listed:
        story = bring(team, status)  # a fresh one for each step
        words = shlex.split(step["command"].replace(f" {first}", f" {story}", 1))
        assert words[:2] == ["engage", "stories"]
        args = [
            {"FILE.md": str(draft), "URL": "https://x.org/s", "...": "On the phone."}.get(w, w)
            for w in words[1:]
        ]
        result = team.run(*args, input="y\n")
        assert result.exit_code == 0, (status, step, result.output)
        after = shown(team, story)["status"]
        assert after != status or step["step"] == "draft", (status, step, after)


def test_what_is_not_listed_is_refused_and_says_what_is(team) -> None:
    bring(team, "in-progress")
    names = [s["step"] for s in shown(team)["next_steps"]]
    assert names == ["draft", "published", "declined", "withdrawn"]
    refused = team.run("stories", "set", "1", "approved")
    assert (refused.exit_code, refused.output) == (
        1,
        "Error: Only the contributor approves their story, on the page their draft email "
        "links to. Send a draft with: engage stories draft 1 FILE.md\n",
    )
    # awaiting-approval is never listed as a status to set: the draft command is.
    sending = team.run("stories", "set", "1", "awaiting-approval")
    assert (sending.exit_code, sending.output) == (
        1,
        "Error: A story is awaiting approval once its contributor has a draft to read. Send "
        "one with: engage stories draft 1 FILE.md\n",
    )
    assert team.run("stories", "reopen", "1").output == (
        "Error: Story 1 is in-progress: it is open, so there is nothing to reopen.\n"
    )
    text = team.run("stories", "show", "1").output
    assert (
        "Next steps:\n"
        "  engage stories draft 1 FILE.md\n"
        '  engage stories set 1 published --without-approval --note "..." --link URL  '
        "(they have not approved it)\n"
        "  engage stories set 1 declined\n"
        "  engage stories set 1 withdrawn\n"
    ) in text


def test_a_decline_shows_the_email_and_asks_first(team) -> None:
    bring(team, "in-progress")
    said_no = team.run("stories", "set", "1", "declined", input="n\n")
    assert said_no.exit_code == 1
    lines = said_no.output.splitlines()
    assert lines[:5] == [
        "sam@example.org will get this email:",
        "",
        "  Subject: We are not able to use your story this time",
        "",
        "  Hello,",
    ]
    assert "  We are sorry, but we are not able to use your story this time." in lines
    assert lines[-3:] == [
        'To tell them why in your own words, add --note "...".',
        "Decline story 1 and send this email? [y/N]: n",
        "Nothing was sent: story 1 is still in-progress. (In a script, add --yes.)",
    ]
    # No answer at all (a script without --yes) is a no, too.
    silent = team.run("stories", "set", "1", "declined")
    assert silent.exit_code == 1
    assert silent.output.endswith(
        "Nothing was sent: story 1 is still in-progress. (In a script, add --yes.)\n"
    )
    assert mails(team, "story-declined") == []
    assert shown(team)["status"] == "in-progress"

    noted = team.run(
        "stories", "set", "1", "declined", "--note", "We have many swim stories.", input="y\n"
    )
    assert noted.exit_code == 0, noted.output
    assert "  We have many swim stories." in noted.output.splitlines()
    assert "add --note" not in noted.output
    assert noted.output.endswith(
        "Decline story 1 and send this email? [y/N]: y\n"
        "Story 1 is declined. The contributor was sent the declined email.\n"
    )
    [sent] = mails(team, "story-declined")
    assert "We have many swim stories." in text_of(sent)


def test_a_step_that_is_not_allowed_is_refused_before_asking(team) -> None:
    bring(team, "withdrawn")
    refused = team.run("stories", "set", "1", "declined")
    assert (refused.exit_code, refused.output) == (
        1,
        "Error: Story 1 is withdrawn; it cannot be set to declined from there. "
        "Next steps from withdrawn: none (this story is closed).\n",
    )
    mixed = team.run("stories", "set", "1", "declined", "--without-approval")
    assert mixed.output == "Error: --without-approval is only for publishing.\n"


def test_a_withdrawal_from_the_cli_asks_and_tells_the_team(team) -> None:
    bring(team, "received")
    asked = team.run("stories", "set", "1", "withdrawn", "--note", "Sam rang us.", input="y\n")
    assert asked.exit_code == 0, asked.output
    assert asked.output.endswith(
        "The team will get an email with every place to take it down from.\n"
        "Withdraw story 1 and send this email? [y/N]: y\n"
        "Story 1 is withdrawn. The contributor was sent the update email.\n"
    )
    [goodbye] = mails(team, "story-update")
    assert "We will not write to you about this story again." in text_of(goodbye)
    assert "\nSam rang us.\n" in text_of(goodbye)  # as the question showed it
    assert "  Sam rang us." in asked.output.splitlines()
    [told] = mails(team, "story-team-withdrawn")
    assert told["To"] == TEAM
    assert told["Subject"] == "Story 1 was taken back: please stop using it"
    text = text_of(told)
    assert "They said why: Sam rang us.\n" in text
    assert "test-runner recorded this for them with engage.\n" in text


def test_a_decline_can_be_undone_for_a_day(team, clock) -> None:
    bring(team, "in-progress")
    run_ok(team, "stories", "set", "1", "declined", "--yes")
    clock.advance(hours=23, minutes=59)
    assert [s["step"] for s in shown(team)["next_steps"]] == ["withdrawn", "reopen"]
    [reopen] = [s for s in shown(team)["next_steps"] if s["step"] == "reopen"]
    assert reopen == {
        "step": "reopen",
        "command": "engage stories reopen 1",
        "note": "until 2 December 09:00 UTC",
    }
    done = team.run("stories", "reopen", "1")
    assert (done.exit_code, done.output) == (
        0,
        "Story 1 is no longer declined: it is in-progress again. The contributor was sent the "
        "update email.\n",
    )
    [sorry] = mails(team, "story-update")[-1:]
    assert (
        "We are sorry. We said we would not use your story, but that was a mistake. We are "
        "working on your story now.\n"
    ) in text_of(sorry)
    history = shown(team)["history"]
    assert [(h["action"], h["status"]) for h in history][-2:] == [
        ("reopened", "in-progress"),
        ("told", "in-progress"),
    ]

    # Declined again: a day and a minute later, it is too late.
    run_ok(team, "stories", "set", "1", "declined", "--yes")
    clock.advance(hours=24, minutes=1)
    late = team.run("stories", "reopen", "1")
    assert (late.exit_code, late.output) == (
        1,
        "Error: Story 1 was declined on 2 December at 08:59 UTC, more than a day ago, so it "
        "cannot be reopened. To take it up again, open a new story: engage stories open "
        "sam@example.org\n",
    )
    assert [s["step"] for s in shown(team)["next_steps"]] == ["withdrawn"]


def test_a_publication_can_be_undone_for_a_day_and_a_withdrawal_never(team) -> None:
    bring(team, "published")
    done = team.run("stories", "reopen", "1")
    assert done.output == (
        "Story 1 is no longer published: it is approved again. The contributor was sent the "
        "update email.\n"
    )
    assert shown(team)["link"] == ""
    commands = [step["command"] for step in shown(team)["next_steps"]]
    assert "engage stories set 1 published --link URL" in commands  # she approved it
    again = team.run("stories", "set", "1", "published", "--link", "https://x.org/right")
    assert again.exit_code == 0, again.output

    bring(team, "withdrawn")
    never = team.run("stories", "reopen", "2")
    assert (never.exit_code, never.output) == (
        1,
        "Error: Story 2 was taken back by its contributor, so it cannot be reopened. If they "
        "ask to share it again, open a new story: engage stories open EMAIL\n",
    )


def test_a_title_after_opening(team) -> None:
    bring(team, "received")
    assert team.run("stories", "title", "1", "  Sam's   first swim ").output == (
        "Story 1 is now called Sam's first swim.\n"
    )
    assert shown(team)["title"] == "Sam's first swim"
    assert shown(team)["history"][-1]["action"] == "titled"
    for bad, said in [
        (" ", 'Error: Give the title in quotes, like: engage stories title 1 "Sam finds her team"'),
        ("x" * 201, "Error: A title is a few words, at most 200 characters; this one has 201. "),
    ]:
        refused = team.run("stories", "title", "1", bad)
        assert refused.exit_code == 1
        assert refused.output.startswith(said)
    missing = team.run("stories", "title", "9", "Kim")
    assert (
        missing.output == "Error: There is no story 9. See the stories with: engage stories list\n"
    )
    assert shown(team)["title"] == "Sam's first swim"


def reply(project, sender: str, text: str, message_id: str) -> None:
    path = project.write(
        f"{message_id}.eml",
        f"From: {sender}\nTo: news@example.org\nSubject: Hello\nMessage-ID: <{message_id}@x>\n"
        f"Date: Tue, 01 Dec 2026 09:30:00 +0000\n\n{text}\n",
    )
    run_ok(project, "replies", "import", str(path))


def test_a_misfiled_reply_becomes_a_story_and_its_sender_is_thanked(team) -> None:
    reply(team, "Sam <sam@example.org>", "Can I send you a video of my swim?", "q1")
    listed = json.loads(team.run("replies", "list", "--format", "json").output)
    assert [(r["id"], r["kind"]) for r in listed] == [(1, "question")]

    opened = team.run("stories", "open", "--reply", "1", "--title", "Sam's video")
    assert (opened.exit_code, opened.output) == (
        0,
        "Reply 1: opened story 1 and sent the thank-you email.\n",
    )
    [thanks] = mails(team, "story-acknowledgement")
    assert thanks["To"] == "sam@example.org"
    story = shown(team)
    assert (story["title"], story["status"]) == ("Sam's video", "received")
    assert [(t["reply"], t["kind"]) for t in story["thread"]] == [(1, "story")]
    assert story["history"][0]["actor"] == "test-runner"

    # Once only: again, or the next catch-up, opens and thanks nobody.
    again = team.run("stories", "open", "--reply", "1")
    assert (again.exit_code, again.output) == (
        1,
        "Error: Reply 1 already opened story 1. See it with: engage stories show 1\n",
    )
    run_ok(team, "run")
    assert len(mails(team, "story-acknowledgement")) == 1


def mention(project, handle: str, text: str) -> None:
    """A mention on Mastodon from someone who is not a contact, taken in as engage does."""
    from engage.models import InboundMessage
    from engage.replies.inbox import for_workspace

    ws = project.workspace
    store = open_store(ws)
    message = InboundMessage("mastodon", handle, "Ana", "", "", text, "", "m1", "", "", [])
    try:
        with store.begin() as connection:
            for_workspace(ws).take(connection, message, network="mastodon")
    finally:
        store.engine.dispose()


def test_replies_that_cannot_become_a_story(team) -> None:
    reply(team, "Kim <kim@example.org>", "Please unsubscribe me.", "k1")
    mention(team, "@ana@social.example.org", "Here is my story about rowing.")
    kinds = [
        (r["id"], r["kind"])
        for r in json.loads(team.run("replies", "list", "--format", "json").output)
    ]
    assert kinds == [(1, "unsubscribe"), (2, "other")]
    cases = [
        (
            ["--reply", "1"],
            "Error: Reply 1 asked us to stop writing, and a story means writing to them about "
            "it, so it cannot open a story.\n",
        ),
        (
            ["--reply", "2"],
            "Error: Reply 2 is from @ana@social.example.org, who is not in your contacts, so "
            "we cannot write to them about a story. Add them first (see: engage contacts add "
            "--help), then run this again.\n",
        ),
        (
            ["--reply", "7"],
            "Error: There is no reply 7. See the replies with: engage replies list\n",
        ),
    ]
    for args, said in cases:
        refused = team.run("stories", "open", *args)
        assert (refused.exit_code, refused.output) == (1, said)
    for args in (["sam@example.org", "--reply", "1"], [], ["--reply", "1", "--quiet"]):
        usage = team.run("stories", "open", *args)
        assert usage.exit_code == 2
        assert "Error: " in usage.output
    assert team.run("stories", "list").output == "No stories match.\n"
    assert mails(team, "story-acknowledgement") == []


def test_a_reply_from_someone_new_opens_like_any_story_reply(team) -> None:
    reply(team, "Ana <ana@example.org>", "Here is my story about rowing.", "a1")
    opened = team.run("stories", "open", "--reply", "1")
    assert opened.output == "Reply 1: opened story 1 and sent the thank-you email.\n"
    [thanks] = mails(team, "story-acknowledgement")
    assert thanks["To"] == "ana@example.org"


def test_the_team_hears_what_a_contributor_does_on_their_page(team) -> None:
    bring(team, "awaiting-approval")
    page = Page(team, 1)
    asked = page.post("changes", comment="Please say I swim at Leeds pool.")
    assert "Thank you, we will make changes" in asked.get_data(as_text=True)
    [changes] = mails(team, "story-team-changes")
    assert (changes["To"], changes["Subject"]) == (
        TEAM,
        "Story 1: the contributor asks for changes",
    )
    assert "Please say I swim at Leeds pool.\n" in text_of(changes)
    assert "They did this on their story page.\n" in text_of(changes)

    run_ok(team, "stories", "draft", "1", str(team.write("d3.md", "# Sam\n\nAt Leeds pool.\n")))
    yes = page.post("approve", **{"place-newsletter": "yes", "place-name": "yes"})
    assert "Thank you for saying yes" in yes.get_data(as_text=True)
    [approved] = mails(team, "story-team-approved")
    assert approved["Subject"] == "Story 1 is approved by its contributor"
    assert (
        "Good news: they said yes to draft 2.\n\n"
        "Where they said it may appear:\n"
        "- In our email newsletter: yes\n"
        "- On our website: no\n"
        "- On our social media: no\n"
        "- Using their name: yes\n"
        "- Using their photo: no\n"
    ) in text_of(approved)
    assert mails(team, "story-team-choices") == []  # part of the approval, not another email

    # Saving the same choices changes nothing and tells nobody; a change is told.
    same = {"place-newsletter": "yes", "place-name": "yes"}
    assert "Your choices are saved" in page.post("choices", **same).get_data(as_text=True)
    assert mails(team, "story-team-choices") == []
    page.post("choices", **{"place-newsletter": "yes", "place-website": "yes"})
    [choices] = mails(team, "story-team-choices")
    assert (
        "What they changed:\n- On our website: now yes\n- Using their name: now no\n"
    ) in text_of(choices)

    open_tab = page.get()  # the page, still open in another tab
    taken = page.post("withdraw", sure="yes", reason="I moved away.")
    assert "Your story is withdrawn" in taken.get_data(as_text=True)
    [gone] = mails(team, "story-team-withdrawn")
    assert "They said why: I moved away.\n" in text_of(gone)
    assert "They did this on their story page.\n" in text_of(gone)

    # After that, nothing on the page, or in a tab left open, gives it back its places.
    html = page.get()
    assert 'value="choices"' not in html and 'value="withdraw"' not in html
    refused = page.client.post(
        page.path,
        data={
            "csrf": re.search(r'name="csrf" value="([^"]+)"', open_tab).group(1),
            "action": "choices",
            "place-website": "yes",
        },
    )
    assert refused.status_code == 400
    assert "You took your story back, so we will not use it anywhere." in refused.get_data(
        as_text=True
    )
    assert shown(team)["choices"]["website"] is False
    page.close()


def test_a_reply_asking_us_to_stop_tells_the_team_once(team) -> None:
    bring(team, "in-progress")  # story 1, Sam's
    bring(team, "withdrawn")  # story 2, taken back: nothing more to say about it
    reply(team, "Sam <sam@example.org>", "Please unsubscribe me.", "s1")
    [stopped] = mails(team, "story-team-stopped")
    assert (stopped["To"], stopped["Subject"]) == (
        TEAM,
        "Story 1: the contributor asked us to stop writing",
    )
    text = text_of(stopped)
    assert "Their story is still in-progress.\n\nThey wrote: Please unsubscribe me.\n" in text
    assert "take it back for them: engage stories set 1 withdrawn\n" in text
    assert "(see it with: engage replies show 1)" in text
    assert shown(team)["history"][-1]["action"] == "stop-asked"
    # Once: importing it again, or engage run, says nothing more.
    run_ok(team, "replies", "import", str(team.root / "s1.eml"))
    run_ok(team, "run")
    assert len(mails(team, "story-team-stopped")) == 1


def test_a_team_email_that_cannot_go_is_kept_in_the_history(team) -> None:
    bring(team, "received")
    team.replace("engage.toml", 'from = "Get Yourself Active <news@example.org>"', 'from = ""')
    taken = team.run("stories", "set", "1", "withdrawn", "--yes")
    assert taken.exit_code == 1
    assert taken.stderr.splitlines()[-1] == (
        "Problem: story 1: the team was not sent the team-withdrawn email: [email] from is not "
        "set in engage.toml, so there is no team address."
    )
    assert shown(team)["history"][-1]["action"] == "team-not-told"
    assert shown(team)["status"] == "withdrawn"


def test_a_broken_link_still_says_how_to_take_a_story_back(team) -> None:
    bring(team, "received")
    page = Page(team, 1)
    broken = page.client.get(page.path[:-3] + "zzz")
    assert broken.status_code == 400
    body = broken.get_data(as_text=True)
    assert "This link does not work" in body
    assert "If you want to take your story back, just reply to any email from us." in body
    page.close()


def test_links_made_on_different_days_differ_and_every_one_still_works(team, clock) -> None:
    """What docs/stories.md promises: emails sent on one day share a link; a link made on
    another day is another link; each works, and an old one can still take the story back."""
    bring(team, "received")
    first = page_link(team, 1)
    assert page_link(team, 1) == first
    clock.advance(days=1)
    second = page_link(team, 1)
    assert second != first
    clock.advance(days=telling.LINK_DAYS)
    page = Page(team, 1)
    page.path = first  # the oldest link of all
    html = page.get()
    assert "This link is old. You can still take your story back here." in html
    assert "Your story is withdrawn" in page.post("withdraw", sure="yes").get_data(as_text=True)
    page.close()
