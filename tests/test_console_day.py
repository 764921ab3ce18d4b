"""A whole day's work in the console, in Chromium, with the keyboard only: sign in by the
emailed link, read a reply, give it to yourself, answer it, move its story, preview the
newsletter and send yourself a test, start the send and cancel it. axe-core checks every page
on the way, and what each step did is checked where it lands: the outbox, the store, the
report and the audit log."""

from __future__ import annotations

import email
import email.policy
import re
import time
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from engage.store import open_store
from engage.store.schema import deliveries
from engage.team import audit, members

from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401
from .console_browser import check
from .live_site import queue_sent, serve

KEY = "console-day-key"
CALL, NEWSLETTER = "share-your-story", "doing-with-not-doing-to"
REPLY = (
    "Hello! Last year I tried wheelchair tennis for the first time. I was scared I would not\n"
    "keep up, but the coach was kind. Now I play every Saturday. I would love to share my story.\n"
    "\n"
    "On Thu, 10 Dec 2026 at 10:00, Get Yourself Active <news@example.org> wrote:\n"
    "> We would love to hear your story\n"
)


@pytest.fixture
def day(project, monkeypatch):
    """The example workspace with its sample people, the call for stories sent, one reply to
    it (which opened a story), an admin on the team, and a pace of one email a second, so a
    send lasts long enough to be cancelled."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    assert project.run("send", CALL, "--yes", "--now").exit_code == 0
    first = sorted((project.root / "outbox" / CALL).glob("*.eml"))[0]
    call = email.message_from_bytes(first.read_bytes(), policy=email.policy.default)
    reply = EmailMessage()
    reply["From"], reply["To"] = call["To"], call["Reply-To"]
    reply["Subject"] = "Re: " + call["Subject"]
    reply["Message-ID"] = "<day-reply@mail.example.net>"
    reply["In-Reply-To"] = call["Message-ID"]
    reply.set_content(REPLY)
    path = project.write("reply.eml", "")
    path.write_bytes(bytes(reply))
    assert project.run("replies", "import", str(path)).exit_code == 0
    project.replace(
        "engage.toml", 'provider = "outbox"', 'provider = "outbox"\nrate_per_second = 1'
    )
    store = open_store(project.workspace)
    with store.begin() as connection:
        members.add(connection, "ali@example.org", "Ali Khan", "admin", "test")
    store.engine.dispose()
    with serve(project) as base:
        yield base, project, call["To"]


def tab_to(page, wanted: str, *, by: str = "text", most: int = 200) -> None:
    """Press Tab until the focused element is the one wanted: by its text (a link or button,
    the start of it is enough) or by its id (a field)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        found = page.evaluate(
            "() => { const e = document.activeElement;"
            " return {id: e.id, text: (e.innerText || e.value || '').trim()}; }"
        )
        if (by == "id" and found["id"] == wanted) or (
            by == "text" and found["text"].startswith(wanted)
        ):
            return
    raise AssertionError(
        f"pressing Tab never reached {wanted!r} on {page.url}:\n"
        + page.locator("main").inner_text()
    )


def follow(page, wanted: str) -> None:
    """Tab to a link or button and press Enter, waiting for the page it opens."""
    tab_to(page, wanted)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def heading(page) -> str:
    return page.locator("h1").inner_text()


def test_a_days_work_with_the_keyboard_only(day, page) -> None:
    base, project, contributor = day

    # Sign in: the address, then the link from the email, then its button.
    page.goto(f"{base}/console/")
    tab_to(page, "email", by="id")
    page.keyboard.type("ali@example.org")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert heading(page) == "Check your email"
    queue_sent(project)
    [sign_in] = (project.root / "outbox" / "system" / "signin").glob("*.eml")
    message = email.message_from_bytes(sign_in.read_bytes(), policy=email.policy.default)
    link = re.search(r"http://\S+/console/sign-in/\S+", message.get_body(("plain",)).get_content())
    page.goto(link.group(0))
    follow(page, "Sign in")
    assert heading(page) == "Hello, Ali Khan"
    check(page, "the front page")

    # Read the reply: their words first, the quote folded away. It opened a story, so it is
    # done already: choose to see all replies.
    follow(page, "Replies")
    check(page, "the inbox")
    tab_to(page, "show", by="id")
    while page.evaluate("document.activeElement.value") != "all":
        page.keyboard.press("ArrowDown")
    follow(page, "Show these replies")
    follow(page, "Hello! Last year I tried wheelchair tennis")
    check(page, "the reply")
    main = page.locator("main").inner_text()
    assert main.index("wheelchair tennis") < main.index("Who and what it answers")
    assert not page.locator("details").first.evaluate("d => d.open")

    # Give it to yourself (you are chosen first), then answer it.
    tab_to(page, "owner", by="id")
    follow(page, "Give it to them")
    assert heading(page) == "The reply is given to someone"
    follow(page, "Back to the reply")
    tab_to(page, "answer", by="id")
    page.keyboard.type("Thank you so much. We would love to share it. Ali")
    follow(page, "Send the answer")
    assert heading(page) == "Your answer is on its way"
    check(page, "the answer's page")
    queue_sent(project)
    [answer] = (project.root / "outbox" / "system" / "answer").glob("*.eml")
    sent = email.message_from_bytes(answer.read_bytes(), policy=email.policy.default)
    assert (sent["To"], sent["In-Reply-To"]) == (contributor, "<day-reply@mail.example.net>")
    assert sent.get_body(("plain",)).get_content().startswith("Thank you so much.")

    # Move the story the reply opened, with a note for its contributor.
    follow(page, "Stories")
    check(page, "the board")
    follow(page, "Story 1")
    check(page, "the story")
    tab_to(page, "status", by="id")
    while page.evaluate("document.activeElement.value") != "in-progress":
        page.keyboard.press("ArrowDown")
    tab_to(page, "note", by="id")
    page.keyboard.type("We are writing it up this week.")
    follow(page, "Move the story")
    assert heading(page) == "Story 1 is now in progress"
    check(page, "the story moved")

    # Preview the newsletter, and send yourself a test.
    follow(page, "Campaigns")
    check(page, "the campaigns")
    follow(page, "Doing with, not doing to")
    check(page, "the campaign")
    assert page.frame_locator("iframe").locator("body").inner_text() != ""
    follow(page, "Send me a test")
    assert heading(page) == "Test sent"
    [test_copy] = (project.root / "outbox" / f"{NEWSLETTER}-test").glob("*.eml")
    assert "ali@example.org" in test_copy.read_text(errors="replace")
    follow(page, "Back to the campaign")

    # Start the send (the audience count first), then cancel it while it goes.
    follow(page, "Start sending now")
    assert heading(page) == "Send this campaign?"
    check(page, "the send's confirmation")
    follow(page, "Yes, send it to 8 people")
    deadline = time.monotonic() + 30
    while page.get_by_role("link", name="Cancel the send").count() == 0:
        assert time.monotonic() < deadline, "the send never started"
        time.sleep(0.3)
        page.reload()
    follow(page, "Cancel the send")
    assert heading(page) == "Cancel this send?"
    follow(page, "Yes, cancel the send")
    check(page, "the cancelled send")

    store = open_store(project.workspace)
    try:
        deadline = time.monotonic() + 30
        while True:  # the batch in hand finishes; then nothing more goes
            with store.connect() as connection:
                going = connection.execute(
                    sa.select(sa.func.count()).where(deliveries.c.status == "sending")
                ).scalar()
            if not going or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(2)  # a second past the pace: had the send gone on, another would be out
        with store.connect() as connection:
            log = [(e.actor, e.action) for e in reversed(audit.entries(connection))]
    finally:
        store.engine.dispose()
    went = len(list((project.root / "outbox" / NEWSLETTER).glob("*.eml")))
    assert went < 8
    report = project.run("report", NEWSLETTER)
    assert report.stdout.splitlines()[1].startswith("Cancelled by ali@example.org on ")
    mine = [action for actor, action in log if actor == "ali@example.org"]
    assert mine == [
        "signed in",
        "reply assigned",
        "reply answered",
        "reply marked done",  # "Mark the reply as done too" is ticked unless you untick it
        "story moved",
        "test sent",
        "send started",
        "send cancelled",
    ]
