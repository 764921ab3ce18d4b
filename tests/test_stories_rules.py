"""The rules around a story: the steps in order, approval before publishing (or a reason),
links that are tampered with, too old or for an outdated draft, and who is owed news."""

from __future__ import annotations

import email
import email.policy
import json
import re

import pytest
import sqlalchemy as sa

from engage import clock as engage_clock
from engage.store import open_store
from engage.store.schema import stories
from engage.stories import telling
from engage.tokens import Signer
from engage.web import create_app

KEY = "rules-test-key"
BASE = "http://127.0.0.1:8025"


@pytest.fixture
def team(project, monkeypatch, clock, db_url):
    """Two contacts, on SQLite and (when it answers) PostgreSQL."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    for address in ("sam@example.org", "kim@example.org"):
        assert project.run("contacts", "add", address, "--consent", "Yes please").exit_code == 0
    return project


def mails(project, kind: str) -> list[email.message.EmailMessage]:
    folder = project.root / "outbox" / "system" / kind
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def link_in(message) -> str:
    return re.search(rf"{re.escape(BASE)}(/story/\S+)", text_of(message)).group(1)


def to_draft(project, story: int = 1) -> str:
    assert project.run("stories", "set", str(story), "in-progress").exit_code == 0
    path = project.write(f"draft-{story}.md", "# Sam swims\n\nSam swims every week.\n")
    result = project.run("stories", "draft", str(story), str(path))
    assert result.exit_code == 0, result.output
    return link_in(mails(project, "story-draft")[-1])


def page_form(client, path: str) -> dict[str, str]:
    page = client.get(path).get_data(as_text=True)
    return {
        "csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1),
        "version": re.search(r'name="version" value="(\d+)"', page).group(1),
    }


def test_steps_are_taken_in_order_and_publishing_needs_approval(team) -> None:
    assert team.run("stories", "open", "sam@example.org", "--quiet").output == (
        "Opened story 1 for sam@example.org.\n"
    )
    assert mails(team, "story-acknowledgement") == []
    assert team.run("stories", "set", "1", "awaiting-approval").output == (
        "Error: Story 1 is received; it cannot be set to awaiting-approval from there. "
        "Next steps from received: in-progress, published (--without-approval --note "
        '"..." --link URL; they have not approved it), declined, withdrawn.\n'
    )
    assert team.run("stories", "set", "1", "in-progress").exit_code == 0
    assert team.run("stories", "set", "1", "awaiting-approval").output == (
        "Error: A story is awaiting approval once its contributor has a draft to read. Send one "
        "with: engage stories draft 1 FILE.md\n"
    )
    empty = team.write("empty.md", "  \n")
    assert team.run("stories", "draft", "1", str(empty)).output == (
        "Error: The draft is empty. Write the edited story in the file first.\n"
    )
    to_draft_path = team.write("d.md", "# Sam\n\nSam swims.\n")
    assert team.run("stories", "draft", "1", str(to_draft_path)).exit_code == 0
    assert team.run("stories", "set", "1", "approved").output == (
        "Error: Only the contributor approves their story, on the page their draft email links "
        "to. Send a draft with: engage stories draft 1 FILE.md\n"
    )
    # Published without approval needs a reason, and a link.
    no_reason = team.run("stories", "set", "1", "published", "--link", "https://x.org/sam")
    assert no_reason.exit_code == 1
    assert no_reason.output == (
        "Error: Story 1 has not been approved by its contributor: they have the draft to read. "
        "Wait for their answer, or, if you must publish without their approval, say why: "
        '--without-approval --note "..."\n'
    )
    assert team.run("stories", "set", "1", "in-progress").exit_code == 0
    assert team.run("stories", "draft", "1", str(to_draft_path)).exit_code == 0
    # From awaiting-approval the team cannot jump to published either.
    assert team.run("stories", "set", "1", "published").exit_code == 1


def test_publish_with_approval_or_with_a_recorded_reason(team, project) -> None:
    app = create_app(project.workspace, TESTING=True)
    client = app.test_client()
    assert team.run("stories", "open", "sam@example.org").exit_code == 0
    path = to_draft(team)
    form = page_form(client, path)
    answer = client.post(
        path, data={**form, "action": "approve", "place-newsletter": "yes", "place-name": "yes"}
    )
    assert answer.status_code == 200
    assert "Thank you for saying yes" in answer.get_data(as_text=True)
    no_link = team.run("stories", "set", "1", "published")
    assert no_link.output == (
        "Error: Give the link to where it is published, so we can send it to the contributor: "
        "--link URL\n"
    )
    done = team.run("stories", "set", "1", "published", "--link", "https://example.org/sam")
    assert done.output == "Story 1 is published. The contributor was sent the published email.\n"
    [published] = mails(team, "story-published")
    assert published["Subject"] == "We have published your story"
    assert "https://example.org/sam" in text_of(published)

    # Kim's story goes out without approval, but only with the reason on record.
    assert team.run("stories", "open", "kim@example.org", "--quiet").exit_code == 0
    assert team.run("stories", "set", "2", "in-progress").exit_code == 0
    refused = team.run(
        "stories", "set", "2", "published", "--without-approval", "--link", "https://x.org/k"
    )
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: Story 2 has not been approved by its contributor. To publish it without their "
        'approval, say why: --without-approval --note "..."\n'
    )
    app.extensions["engage"]["store"].engine.dispose()


NOT_APPROVED = (
    "Error: Story 1 has not been approved by its contributor. Send them a draft to approve "
    "(engage stories draft 1 FILE.md), or, if you must publish without their approval, say why: "
    '--without-approval --note "..."\n'
)


@pytest.mark.parametrize("step", ["received", "in-progress"])
def test_publishing_from_an_open_step_says_the_contributor_has_not_approved(team, step) -> None:
    assert team.run("stories", "open", "sam@example.org", "--quiet").exit_code == 0
    if step != "received":
        assert team.run("stories", "set", "1", step).exit_code == 0
    for extra in ((), ("--link", "https://x.org/sam")):
        refused = team.run("stories", "set", "1", "published", *extra)
        assert (refused.exit_code, refused.output) == (1, NOT_APPROVED)
    shown = json.loads(team.run("stories", "show", "1", "--format", "json").output)
    assert shown["status"] == step
    # A closed story is another matter: nothing publishes it.
    assert team.run("stories", "set", "1", "declined", "--yes").exit_code == 0
    closed = team.run("stories", "set", "1", "published", "--without-approval", "--note", "x")
    assert (closed.exit_code, closed.output) == (
        1,
        "Error: Story 1 is declined; it cannot be set to published from there. "
        "Next steps from declined: withdrawn, reopen (engage stories reopen 1; until "
        "2 December 09:00 UTC).\n",
    )


def test_without_approval_needs_a_note(team) -> None:
    assert team.run("stories", "open", "kim@example.org", "--quiet").exit_code == 0
    assert team.run("stories", "set", "1", "in-progress").exit_code == 0
    path = team.write("k.md", "# Kim\n\nKim runs.\n")
    assert team.run("stories", "draft", "1", str(path)).exit_code == 0  # awaiting-approval
    assert team.run("stories", "set", "1", "declined", "--without-approval").output == (
        "Error: --without-approval is only for publishing.\n"
    )
    bare = team.run(
        "stories", "set", "1", "published", "--without-approval", "--link", "https://x.org/k"
    )
    assert bare.exit_code == 1
    assert bare.output.startswith("Error: Story 1 has not been approved by its contributor.")
    noted = team.run(
        "stories",
        "set",
        "1",
        "published",
        "--without-approval",
        "--note",
        "Kim approved it on the phone on 2 December.",
        "--link",
        "https://x.org/k",
    )
    assert noted.exit_code == 0, noted.output
    assert noted.output == "Story 1 is published. The contributor was sent the published email.\n"
    history = json.loads(team.run("stories", "show", "1", "--format", "json").output)["history"]
    [step] = [h for h in history if h["action"] == "published-without-approval"]
    assert step["note"] == "Kim approved it on the phone on 2 December."


def test_links_that_are_tampered_old_or_for_an_outdated_draft(team, project, clock) -> None:
    app = create_app(project.workspace, TESTING=True)
    client = app.test_client()
    assert team.run("stories", "open", "sam@example.org").exit_code == 0
    path = to_draft(team)
    old_form = page_form(client, path)
    page = client.get(path).get_data(as_text=True)
    assert "<script" not in page

    # A changed link: a friendly page, nothing changed.
    bad = client.post(path[:-2] + "zz", data={**old_form, "action": "approve"})
    assert bad.status_code == 400
    assert "This link does not work" in bad.get_data(as_text=True)

    # A second draft: answering the first is refused, with a link to the newer one.
    second = team.write("draft-2.md", "# Sam swims\n\nSam swims twice a week now.\n")
    assert team.run("stories", "draft", "1", str(second)).exit_code == 0
    stale = client.post(path, data={**old_form, "action": "approve"})
    assert stale.status_code == 409
    body = stale.get_data(as_text=True)
    assert "You answered version 1 of the draft of story 1, but there is a newer one" in body
    assert f'href="{path}"' in body
    status = json.loads(team.run("stories", "show", "1", "--format", "json").output)["status"]
    assert status == "awaiting-approval"

    # Asking for changes needs words, then sends the story back to the team.
    form = page_form(client, path)
    empty = client.post(path, data={**form, "action": "changes"})
    assert "Please tell us what you would like us to change." in empty.get_data(as_text=True)
    changes = client.post(
        path, data={**form, "action": "changes", "comment": "Please say I swim at Leeds pool."}
    )
    assert "Thank you, we will make changes" in changes.get_data(as_text=True)
    shown = json.loads(team.run("stories", "show", "1", "--format", "json").output)
    assert shown["status"] == "in-progress"
    assert shown["drafts"][-1]["comment"] == "Please say I swim at Leeds pool."

    # A link older than LINK_DAYS can only take the story back.
    clock.advance(days=telling.LINK_DAYS + 1)
    old_page = client.get(path)
    assert old_page.status_code == 200
    text = old_page.get_data(as_text=True)
    assert "This link is old. You can still take your story back here." in text
    assert 'value="approve"' not in text and 'value="choices"' not in text
    form = {"csrf": re.search(r'name="csrf" value="([^"]+)"', text).group(1)}
    refused = client.post(path, data={**form, "action": "choices", "place-website": "yes"})
    assert refused.status_code == 400
    assert "This link is too old" in refused.get_data(as_text=True)
    choices = json.loads(team.run("stories", "show", "1", "--format", "json").output)["choices"]
    assert choices["website"] is False
    taken_back = client.post(path, data={**form, "action": "withdraw", "sure": "yes"})
    assert "Your story is withdrawn" in taken_back.get_data(as_text=True)
    assert json.loads(team.run("stories", "show", "1", "--format", "json").output)["status"] == (
        "withdrawn"
    )
    app.extensions["engage"]["store"].engine.dispose()


def test_declined_kindly_and_nobody_unsubscribed_is_owed_news(team, clock) -> None:
    assert team.run("stories", "open", "sam@example.org").exit_code == 0
    assert team.run("stories", "open", "kim@example.org").exit_code == 0
    declined = team.run(
        "stories", "set", "1", "declined", "--note", "We already have a swimming story.", "--yes"
    )
    assert declined.output == (
        "Story 1 is declined. The contributor was sent the declined email.\n"
    )
    [kindly] = mails(team, "story-declined")
    assert "We already have a swimming story." in text_of(kindly)
    engage_clock.advance(hours=25)  # too late to reopen it
    assert team.run("stories", "set", "1", "in-progress").output == (
        "Error: Story 1 is declined; it cannot be set to in-progress from there. "
        "Next steps from declined: withdrawn.\n"
    )
    assert team.run("contacts", "unsubscribe", "kim@example.org").exit_code == 0
    engage_clock.advance(days=20)
    assert team.run("followups").output == (
        "Nobody is owed news: every open story has had news in the last 14 days.\n"
    )
    assert team.run("stories", "open", "sam@example.org", "--quiet").exit_code == 0
    engage_clock.advance(days=3)
    assert "3 days" not in team.run("followups", "--days", "2").output
    waiting = json.loads(team.run("followups", "--days", "2", "--format", "json").output)
    assert [(w["id"], w["days_waiting"]) for w in waiting] == [(3, 3)]


def test_engage_run_sends_follow_ups_when_auto(team, project) -> None:
    assert team.run("stories", "open", "sam@example.org").exit_code == 0
    project.replace("engage.toml", "[web]", "[followups]\ndays = 7\nauto = true\n\n[web]")
    for campaign in (project.root / "campaigns").glob("*.md"):
        campaign.unlink()  # only the follow-ups are due
    engage_clock.advance(days=8)
    first = team.run("run")
    assert first.exit_code == 0, first.output
    assert first.output == (
        "engage run: 0 campaign(s) worked on, 0 message(s) handed over; "
        "1 email(s) to story contributors.\n"
    )
    assert len(mails(team, "story-update")) == 1
    assert team.run("run").output == "engage run: nothing was due.\n"
    assert len(mails(team, "story-update")) == 1


def test_the_token_names_the_story_and_its_contributor(team) -> None:
    assert team.run("stories", "open", "sam@example.org").exit_code == 0
    assert team.run("stories", "open", "kim@example.org").exit_code == 0
    signer = Signer(KEY)
    sam = link_in(mails(team, "story-acknowledgement")[0]).rsplit("/", 1)[1]
    assert telling.read_link(signer, sam).story_id == 1
    store = open_store(team.workspace)
    with store.connect() as connection:
        kim_id = connection.execute(sa.select(stories.c.contact_id).where(stories.c.id == 2))
        kim = kim_id.scalar()
    store.engine.dispose()
    day = int(engage_clock.now().timestamp() // 86400)
    # A link for story 1 made out to Kim is not Sam's: the page refuses it.
    crossed = signer.sign("s", 1, kim, day)
    app = create_app(team.workspace, TESTING=True)
    assert app.test_client().get(f"/story/{crossed}").status_code == 400
    app.extensions["engage"]["store"].engine.dispose()


def test_erasing_a_person_erases_their_stories(team) -> None:
    assert team.run("stories", "open", "sam@example.org").exit_code == 0
    to_draft(team)
    assert team.run("contacts", "erase", "sam@example.org", "--yes").exit_code == 0
    store = open_store(team.workspace)
    with store.connect() as connection:
        left = {
            table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("stories", "story_drafts", "story_history", "story_uses")
        }
    store.engine.dispose()
    assert left == {"stories": 0, "story_drafts": 0, "story_history": 0, "story_uses": 0}
    assert team.run("stories", "list").output == "No stories match.\n"


def test_an_email_that_cannot_go_is_reported_and_the_story_stays_owed(team, project) -> None:
    assert team.run("stories", "open", "sam@example.org", "--quiet").exit_code == 0
    project.replace("engage.toml", 'from = "Get Yourself Active <news@example.org>"', 'from = ""')
    moved = team.run("stories", "set", "1", "in-progress")
    assert moved.exit_code == 1
    assert moved.stdout == "Story 1 is in-progress.\n"
    assert moved.stderr.startswith("Problem: story 1: the update email did not go: Set from in")
    shown = json.loads(team.run("stories", "show", "1", "--format", "json").output)
    assert shown["status"] == "in-progress"  # the change is kept
    assert shown["history"][-1]["action"] == "not-told"
    engage_clock.advance(days=15)
    waiting = json.loads(team.run("followups", "--format", "json").output)
    assert [w["id"] for w in waiting] == [1]  # still owed news


def test_a_three_word_yes_to_a_call_for_stories_opens_a_story(project, monkeypatch, clock, db_url):
    """People write briefly: "Yes, count me in" is heard, thanked and followed up."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    people = project.write(
        "people.csv",
        "email,name,first_name,tags\namira@example.org,Amira Hassan,Amira,contributor\n",
    )
    assert project.run("contacts", "import", str(people)).exit_code == 0
    assert project.run("send", "share-your-story", "--yes", "--now").exit_code == 0
    [path] = (project.root / "outbox" / "share-your-story").glob("*.eml")
    call = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    reply = email.message.EmailMessage()
    reply["From"] = "Amira Hassan <amira@example.org>"
    reply["To"] = str(call["Reply-To"])
    reply["Subject"] = "Re: " + str(call["Subject"])
    reply["Date"] = "Tue, 01 Dec 2026 09:30:00 +0000"
    reply["Message-ID"] = "<amira-yes@mail.example.net>"
    reply["In-Reply-To"] = str(call["Message-ID"])
    reply.set_content(
        "Yes, count me in\n\nOn Tue, 1 Dec 2026 at 09:00, Get Yourself Active wrote:\n> hi\n"
    )
    saved = project.write("yes.eml", "")
    saved.write_bytes(bytes(reply))

    imported = project.run("replies", "import", str(saved))
    assert (imported.exit_code, imported.output) == (
        0,
        f"{saved}: reply 1, story (matched by the reply address).\n"
        "1 new, 0 already here.\n"
        "Opened story 1 and sent the thank-you email.\n",
    )
    [thanks] = mails(project, "story-acknowledgement")
    assert (thanks["To"], thanks["Subject"]) == ("amira@example.org", "Thank you for your story")
    listed = json.loads(project.run("stories", "list", "--format", "json").output)
    assert [(s["id"], s["status"], s["contributor"]) for s in listed] == [
        (1, "received", "amira@example.org")
    ]
