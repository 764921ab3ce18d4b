"""The console's stories: the board by status, a story's page (what was said, drafts, the
contributor's choices, its history), a draft sent from a textarea, a move with a note, who is
owed news and the update sent from there. Each calls the library the CLI calls, so the
contributor gets the same email, and the audit log names who did it, at the console or the
command line."""

from __future__ import annotations

import email
import email.policy
import html
import json
import re

import pytest

from engage.stories import core
from engage.team import audit

from .console import signed_in

pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)

PEOPLE = (
    "email,name,first_name,tags,format\n"
    "amira@example.org,Amira Hassan,Amira,contributor,html\n"
    "amira.k@example.org,Amira Khan,Amira,contributor,html\n"
    "ben@example.org,Ben Okafor,Ben,contributor,html\n"
)
DRAFT = (
    "# Amira finds her team\n\n"
    "Amira started wheelchair basketball last spring. She was nervous at first. The coach made "
    "her feel welcome, and now she trains twice a week.\n"
)
CLI = "command line (test-runner)"
EDITOR = "editor@example.org"


class Console:
    """The console, as an editor: each page is asked for in a new session, signed in at
    engage's clock as it is then (a session lasts 12 hours; the tests move the clock days)."""

    def __init__(self, app) -> None:
        self.app, self.project = app, app.project

    def get(self, path: str):  # noqa: ANN201
        return signed_in(self.app, "editor").get(path)

    def post(self, path: str, **fields: str):  # noqa: ANN201
        client = signed_in(self.app, "editor")
        return client.post(path, data={"csrf": client.csrf, **fields})

    def post_as_is(self, path: str, data: dict[str, str]):  # noqa: ANN201
        return signed_in(self.app, "editor").post(path, data=data)


@pytest.fixture
def team(console_app, clock):
    """Three contributors with a story each, opened by hand at the command line (each was
    thanked), and the console for an editor."""
    project = console_app.project
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    for address, title in (
        ("amira@example.org", "Amira finds her team"),
        ("amira.k@example.org", "Amira at the pool"),
        ("ben@example.org", ""),
    ):
        opened = project.run("stories", "open", address, "--title", title)
        assert opened.exit_code == 0, opened.output
    return Console(console_app)


def mails(project, kind: str) -> list[email.message.EmailMessage]:
    folder = project.root / "outbox" / "system" / kind
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


def text_of(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def stored(client, story_id: int) -> core.Story:
    with client.app.extensions["engage"]["store"].connect() as connection:
        return core.get(connection, story_id)


def logged(client) -> list[tuple[str, str, str, str]]:
    """The audit log's story entries, oldest first: (actor, action, subject, detail)."""
    with client.app.extensions["engage"]["store"].connect() as connection:
        found = audit.entries(connection, limit=1000)
    return [
        (e.actor, e.action, e.subject, e.detail)
        for e in reversed(found)
        if e.action.startswith("story")
    ]


def page_text(answer) -> str:
    """The words of the page's main part, without its tags, each run of spaces one space."""
    main = answer.get_data(True).split('<main id="content">', 1)[1].split("</main>", 1)[0]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", main)).split())


def test_the_board_shows_each_story_under_its_status(team, clock) -> None:
    clock.advance(days=3)
    assert team.project.run("stories", "set", "2", "in-progress").exit_code == 0
    clock.advance(days=12)  # stories 1 and 3 have waited 15 days: owed news after 14
    board = team.get("/console/stories")
    assert board.status_code == 200
    assert board.headers["Cache-Control"] == "no-store"
    html = board.get_data(True)
    assert html.index("<h2") > html.index("<h1>Stories</h1>")
    words = page_text(board)
    assert (
        "Received 2 stories Story 1: Amira finds her team From Amira Hassan Heard from us "
        "15 days ago. Owed news. Story 3 From Ben Okafor Heard from us 15 days ago. Owed news."
        in words
    )
    assert (
        "In progress 1 story Story 2: Amira at the pool From Amira Khan Heard from us "
        "12 days ago" in words
    )
    assert "Waiting for their approval 0 stories None." in words
    assert "Withdrawn 0 stories None." in words
    assert "2 stories are owed news" in words
    assert 'href="/console/stories/2"' in html


def test_a_story_page_shows_what_was_said_drafts_choices_and_history(team, clock) -> None:
    project = team.project
    clock.advance(days=1)
    assert (
        project.run("stories", "set", "1", "in-progress", "--note", "Priya is on it.").exit_code
        == 0
    )
    draft = project.write("draft.md", DRAFT)
    assert project.run("stories", "draft", "1", str(draft)).exit_code == 0
    answer = team.get("/console/stories/1")
    assert answer.status_code == 200
    words = page_text(answer)
    assert "Story 1: Amira finds her team" in words
    assert "Where it is Waiting for their approval" in words
    assert "Contributor Amira Hassan (amira@example.org)" in words
    assert "Came from opened by hand" in words
    assert "Heard from us 2 December 2026 at 09:00 UTC, today" in words
    assert (
        "What they agreed to" in words
        and "In our email newsletter: not asked yet" in words
        and "Using their photo: not asked yet" in words
    )
    said = words[words.index("What was said") : words.index("Drafts")]
    assert said == (
        "What was said "
        "We sent the thank-you email From us, 1 December 2026 at 09:00 UTC "
        "We sent an update email From us, 2 December 2026 at 09:00 UTC Priya is on it. "
        "We sent the draft email, with a link to read it From us, 2 December 2026 at 09:00 UTC "
    )
    assert (
        "Draft 1, sent 2 December 2026, 09:00: waiting for their answer The draft: "
        "# Amira finds her team" in words
    )
    assert "Its history" in words
    assert "2 December 2026, 09:00 status in-progress test-runner Priya is on it." in words
    # The moves offered are the steps engage accepts from here (steps.team_steps).
    html = answer.get_data(True)
    assert re.findall(r'<option value="([^"]+)"', html) == [
        "in-progress",
        "published",
        "declined",
        "withdrawn",
    ]
    assert re.search(r'<textarea id="body"[^>]*># Amira finds her team', html)  # the last draft
    assert 'id="without_approval"' in html  # they have not approved it


def test_a_move_from_the_console_tells_the_contributor_as_the_cli_does(team, clock) -> None:
    project = team.project
    clock.advance(days=2)
    note = "Priya is editing it.\nShe will send you a draft soon."
    by_cli = project.run("stories", "set", "1", "in-progress", "--note", note)
    assert by_cli.output == "Story 1 is in-progress. The contributor was sent the update email.\n"
    answer = team.post("/console/stories/2/move", status="in-progress", note=note)
    assert answer.status_code == 200
    words = page_text(answer)
    assert "Story 2 is now in progress" in words
    assert "Amira Khan was sent the update email." in words
    assert stored(team, 2).status == "in-progress"
    cli_mail, console_mail = mails(project, "story-update")
    assert (cli_mail["To"], console_mail["To"]) == ("amira@example.org", "amira.k@example.org")
    assert console_mail["Subject"] == cli_mail["Subject"]
    token = re.compile(r"/story/[A-Za-z0-9._-]+")
    cli_text, console_text = (
        token.sub("/story/LINK", text_of(m)) for m in (cli_mail, console_mail)
    )
    assert console_text == cli_text
    assert "Priya is editing it.\nShe will send you a draft soon." in console_text
    assert logged(team)[-2:] == [
        (CLI, "story moved", "story 1", f"received → in-progress: {' '.join(note.split())}"),
        (EDITOR, "story moved", "story 2", f"received → in-progress: {' '.join(note.split())}"),
    ]
    history = json.loads(project.run("stories", "show", "2", "--format", "json").output)["history"]
    assert [(h["action"], h["actor"]) for h in history[-2:]] == [
        ("status", EDITOR),
        ("told", "test-runner"),
    ]


def test_declining_shows_the_email_and_asks_first(team, clock) -> None:
    project = team.project
    asked = team.post("/console/stories/3/move", status="declined", note="It is not for us now.")
    assert asked.status_code == 200
    words = page_text(asked)
    assert "Decline story 3?" in words
    assert "Ben Okafor (ben@example.org) will get this email." in words
    assert "It is not for us now." in words
    assert stored(team, 3).status == "received" and mails(project, "story-declined") == []
    html = asked.get_data(True)
    assert '<input type="hidden" name="confirm" value="yes">' in html
    done = team.post(
        "/console/stories/3/move",
        status="declined",
        note="It is not for us now.",
        confirm="yes",
    )
    assert done.status_code == 200
    assert "Story 3 is now declined" in page_text(done)
    assert stored(team, 3).status == "declined"
    [sent] = mails(project, "story-declined")
    assert sent["To"] == "ben@example.org" and "It is not for us now." in text_of(sent)
    # For a day, the decline can be undone from the story page.
    page = team.get("/console/stories/3").get_data(True)
    assert "Undo the last move" in page
    undone = team.post("/console/stories/3/reopen", reopen_note="Sorry, we mixed it up.")
    assert undone.status_code == 200 and "Story 3 is received again" in page_text(undone)
    assert stored(team, 3).status == "received"
    assert logged(team)[-2:] == [
        (EDITOR, "story moved", "story 3", "received → declined: It is not for us now."),
        (EDITOR, "story moved", "story 3", "declined → received: Sorry, we mixed it up."),
    ]


def test_withdrawing_for_them_names_where_to_take_it_down(team, clock) -> None:
    done = team.post(
        "/console/stories/1/move", status="withdrawn", note="As you asked.", confirm="yes"
    )
    assert done.status_code == 200
    assert "Story 1 is now withdrawn" in page_text(done)
    assert stored(team, 1).status == "withdrawn"
    assert "As you asked." in text_of(mails(team.project, "story-update")[-1])
    assert logged(team)[-1] == (
        EDITOR,
        "story moved",
        "story 1",
        "received → withdrawn: As you asked.",
    )
    history = json.loads(team.project.run("stories", "show", "1", "--format", "json").output)
    assert ("withdrawn", EDITOR) in [(h["action"], h["actor"]) for h in history["history"]]


def test_a_draft_from_the_console_reaches_the_contributor(team, clock) -> None:
    project = team.project
    assert team.post("/console/stories/1/move", status="in-progress").status_code == 200
    clock.advance(hours=2)
    answer = team.post("/console/stories/1/draft", body=DRAFT.replace("\n", "\r\n"))
    assert answer.status_code == 200
    words = page_text(answer)
    assert "Draft 1 of story 1 is with its contributor" in words
    assert "Amira Hassan was sent a private link to read it." in words
    assert stored(team, 1).status == "awaiting-approval"
    [sent] = mails(project, "story-draft")
    assert sent["To"] == "amira@example.org"
    link = re.search(r"http://127\.0\.0\.1:8025(/story/\S+)", text_of(sent)).group(1)
    theirs = team.app.test_client().get(link)  # the contributor's own page, from the email
    assert theirs.status_code == 200
    assert "She was nervous at first." in theirs.get_data(True)
    shown = json.loads(project.run("stories", "show", "1", "--format", "json").output)
    assert shown["drafts"][0]["body"] == DRAFT  # as typed, with the browser's line ends made plain
    assert logged(team)[-1] == (EDITOR, "story draft sent", "story 1", "version 1")
    by_cli = project.run("stories", "draft", "1", str(project.write("d2.md", DRAFT + "More.\n")))
    assert by_cli.exit_code == 0
    assert logged(team)[-1] == (CLI, "story draft sent", "story 1", "version 2")


def test_a_step_engage_refuses_changes_nothing_and_says_why(team, clock) -> None:
    project = team.project
    published = team.post("/console/stories/1/move", status="published", link="https://x.org/a")
    assert published.status_code == 400
    words = page_text(published)
    assert "Nothing was changed" in words
    assert "Story 1 has not been approved by its contributor." in words
    assert stored(team, 1).status == "received"
    received_draft = team.post("/console/stories/1/draft", body=DRAFT)
    assert received_draft.status_code == 400
    assert "Story 1 is received. Set it in progress first" in page_text(received_draft)
    team.post("/console/stories/1/move", status="in-progress")
    empty = team.post("/console/stories/1/draft", body="  \r\n ")
    assert empty.status_code == 400 and "The draft is empty." in page_text(empty)
    nonsense = team.post("/console/stories/1/move", status="finished")
    assert nonsense.status_code == 400 and "'finished' is not a story status." in page_text(
        nonsense
    )
    nobody = team.post("/console/stories/1/assign", owner="   ")
    assert nobody.status_code == 400
    assert 'aria-invalid="true"' in nobody.get_data(True)
    assert stored(team, 1).status == "in-progress" and stored(team, 1).owner == ""
    assert mails(project, "story-draft") == [] and mails(project, "story-published") == []
    assert [e[1] for e in logged(team)] == ["story moved"]


def test_assigning_and_titling_are_logged_at_the_console_and_the_command_line(team) -> None:
    project = team.project
    answer = team.post("/console/stories/3/assign", owner="  Priya   Shah ")
    assert answer.status_code == 200 and "Story 3 is now with Priya Shah" in page_text(answer)
    titled = team.post("/console/stories/3/title", title="Ben's first race")
    assert titled.status_code == 200 and "Story 3 is now called Ben's first race" in page_text(
        titled
    )
    assert project.run("stories", "assign", "3", "Kim").exit_code == 0
    assert project.run("stories", "title", "3", "Ben races").exit_code == 0
    assert (stored(team, 3).owner, stored(team, 3).title) == ("Kim", "Ben races")
    assert logged(team) == [
        (EDITOR, "story assigned", "story 3", "to Priya Shah"),
        (EDITOR, "story retitled", "story 3", "Ben's first race"),
        (CLI, "story assigned", "story 3", "to Kim"),
        (CLI, "story retitled", "story 3", "Ben races"),
    ]
    log = project.run("team", "log")
    assert log.exit_code == 0
    assert "story assigned" in log.output and EDITOR in log.output and CLI in log.output


def test_who_is_owed_news_is_what_engage_followups_says(team, clock) -> None:
    project = team.project
    clock.advance(days=5)
    assert project.run("stories", "set", "2", "in-progress").exit_code == 0
    clock.advance(days=10)  # 1 and 3 waited 15 days; 2 waited 10
    nobody_yet = team.get("/console/stories/owed")
    cli = json.loads(project.run("followups", "--format", "json").output)
    assert [(s["id"], s["days_waiting"]) for s in cli] == [(1, 15), (3, 15)]
    words = page_text(nobody_yet)
    assert nobody_yet.status_code == 200
    assert (
        "Story 1: Amira finds her team Amira Hassan (amira@example.org) Received "
        "1 December 2026, 15 days ago Story 3 Ben Okafor (ben@example.org) Received "
        "1 December 2026, 15 days ago" in words
    )
    assert "Story 2" not in words
    assert "Send the update email to 2 contributors" in words
    clock.advance(days=5)  # now 2 is owed too: the list is the CLI's, at the same clock
    cli = json.loads(project.run("followups", "--format", "json").output)
    html = team.get("/console/stories/owed").get_data(True)
    shown = [int(n) for n in re.findall(r'href="/console/stories/(\d+)"', html)]
    assert shown == [s["id"] for s in cli] == [1, 3, 2]


def test_the_update_goes_once_to_each_contributor_owed_news(team, clock) -> None:
    project = team.project
    clock.advance(days=15)
    sent = team.post("/console/stories/owed")
    assert sent.status_code == 200
    assert "3 update emails were sent" in page_text(sent)
    again = team.post("/console/stories/owed")
    assert again.status_code == 200
    assert "0 update emails were sent Nobody was owed news" in page_text(again)
    assert sorted(m["To"] for m in mails(project, "story-update")) == [
        "amira.k@example.org",
        "amira@example.org",
        "ben@example.org",
    ]
    assert project.run("followups").output.startswith("Nobody is owed news")
    assert logged(team) == [
        (EDITOR, "story update sent", f"story {n}", f"to {address}")
        for n, address in (
            (1, "amira@example.org"),
            (2, "amira.k@example.org"),
            (3, "ben@example.org"),
        )
    ]
    clock.advance(days=15)  # and at the command line, the same entry names it
    assert project.run("followups", "send", "--yes").output == "Sent 3 update email(s).\n"
    assert logged(team)[-1] == (CLI, "story update sent", "story 3", "to ben@example.org")


def test_a_form_without_the_token_changes_nothing(team, clock) -> None:
    project = team.project
    clock.advance(days=15)
    for path, fields in (
        ("/console/stories/1/move", {"status": "in-progress"}),
        ("/console/stories/1/move", {"status": "declined", "confirm": "yes"}),
        ("/console/stories/1/draft", {"body": DRAFT}),
        ("/console/stories/1/assign", {"owner": "Priya"}),
        ("/console/stories/1/title", {"title": "Changed"}),
        ("/console/stories/1/reopen", {"reopen_note": "Sorry"}),
        ("/console/stories/owed", {}),
    ):
        for token in ({}, {"csrf": "not-the-token"}):
            answer = team.post_as_is(path, {**fields, **token})
            assert answer.status_code == 400, path
            assert "This form has expired" in answer.get_data(True)
    story = stored(team, 1)
    assert (story.status, story.owner, story.title) == ("received", "", "Amira finds her team")
    assert mails(project, "story-update") == [] and logged(team) == []


def test_an_unknown_story_is_not_found(team) -> None:
    answer = team.get("/console/stories/99")
    assert answer.status_code == 404
    assert "There is no story 99." in page_text(answer)
    for action in ("move", "draft", "assign", "title", "reopen"):
        missing = team.post(f"/console/stories/99/{action}", status="in-progress", body=DRAFT)
        assert missing.status_code == 404, action
    assert team.get("/console/stories/nothing").status_code == 404


def test_someone_not_signed_in_is_sent_to_sign_in_and_changes_nothing(team) -> None:
    stranger = team.app.test_client()
    for path in ("/console/stories", "/console/stories/1", "/console/stories/owed"):
        answer = stranger.get(path)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/console/sign-in?next=")
    answer = stranger.post("/console/stories/1/move", data={"status": "in-progress"})
    assert answer.status_code == 303
    assert stored(team, 1).status == "received"


@pytest.mark.parametrize("role", ["editor", "sender", "admin"])
def test_every_role_may_work_on_stories(team, role) -> None:
    client = signed_in(team.app, role)
    assert client.get("/console/stories").status_code == 200
    answer = client.post(
        "/console/stories/1/assign", data={"csrf": client.csrf, "owner": role.capitalize()}
    )
    assert answer.status_code == 200
    assert stored(team, 1).owner == role.capitalize()


def test_an_update_another_process_sent_first_is_not_sent_again(team, clock) -> None:
    clock.advance(days=15)
    store = team.app.extensions["engage"]["store"]
    with store.connect() as connection:
        read_before = core.owed(connection, 14)  # what a second sender read, a moment earlier
    assert team.post("/console/stories/owed").status_code == 200
    with store.begin() as connection:  # it may not take any of them now: all were told
        assert [core.claim_told(connection, story) for story, _ in read_before] == [False] * 3
    assert len(mails(team.project, "story-update")) == 3
