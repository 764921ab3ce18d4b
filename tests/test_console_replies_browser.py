"""The console's replies pages in a real browser on the real server: the inbox, a reply's page
(with its answer form, with an answer sent, with the notice that a person cannot be written to,
and with an error), each with no axe-core violations and without sideways scrolling at 320 px
wide (200% zoom on a 640 px window)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from engage.store import open_store
from engage.team import members

from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401
from .console_browser import check, fits_320, sign_in_as
from .live_site import queue_sent, serve

KEY = "console-replies-browser-key"
PEOPLE = (
    "email,name,first_name,tags,format\n"
    "amira@example.org,Amira Hassan,Amira,contributor,html\n"
    "cat@example.org,Cat Evans,Cat,contributor,plain\n"
)


def mail(sender: str, subject: str, text: str, message_id: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "news@example.org"
    message["Subject"] = subject
    message["Date"] = "Mon, 30 Nov 2026 10:02:00 +0000"
    message["Message-ID"] = message_id
    message.set_content(
        f"{text}\n\nOn Tue, 24 Nov 2026 at 10:00, Get Yourself Active <news@example.org> wrote:\n"
        "> We would love to hear your story. Tell us about sport or being active, in your own "
        "words, with a photo or a voice note if you like.\n"
    )
    return bytes(message)


@pytest.fixture
def site(project, monkeypatch):
    """The example workspace with two team members and three replies: 1, Amira's question
    (a long word in it); 2, Cat asks to stop; 3, Amira again."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    assert (
        project.run("contacts", "import", str(project.write("people.csv", PEOPLE))).exit_code == 0
    )
    files = []
    for number, (sender, subject, text) in enumerate(
        (
            (
                "Amira Hassan <amira@example.org>",
                "Wheelchair basketball sessions",
                "Is there a word limit? My club is "
                "https://www.example.org/clubs/wheelchair-basketball-leeds-and-bradford-juniors",
            ),
            ("Cat Evans <cat@example.org>", "Unsubscribe", "Please unsubscribe me."),
            ("Amira Hassan <amira@example.org>", "Photos", "Can I send a photo too?"),
        ),
        1,
    ):
        path = project.root / "saved" / f"{number}.eml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(mail(sender, subject, text, f"<m-{number}@mail.example.net>"))
        files.append(str(path))
    assert project.run("replies", "import", *files).exit_code == 0
    store = open_store(project.workspace)
    with store.begin() as connection:
        members.add(connection, "ed@example.org", "Ed Jones", "editor", "test")
        members.add(connection, "sam@example.org", "Sam Jones-Okonkwo-Whitfield", "sender", "test")
    store.engine.dispose()
    with serve(project) as base:
        yield base, project


@pytest.mark.parametrize(
    "path",
    [
        "/console/replies",
        "/console/replies?show=all&kind=question",
        "/console/replies?show=done",
        "/console/replies/1",
        "/console/replies/2",
    ],
)
def test_the_replies_pages_have_no_violations_and_fit_320_px(site, page, path) -> None:
    base, project = site
    sign_in_as(page, base, project, "ed@example.org")
    page.goto(base + path)
    check(page, path)
    fits_320(page, base + path)


def test_answering_and_its_error_have_no_violations_and_fit_320_px(site, page) -> None:
    base, project = site
    sign_in_as(page, base, project, "ed@example.org")
    page.goto(f"{base}/console/replies/1")
    with page.expect_navigation():
        page.get_by_role("button", name="Send the answer").click()  # nothing written yet
    assert page.locator("h2#error-title").inner_text() == "Your answer was not sent"
    check(page, "the answer's error")
    page.set_viewport_size({"width": 320, "height": 640})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("textbox", name="Your answer").fill(
        "Hello Amira,\n\nThere is no word limit.\n\nEd"
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Send the answer").click()
    assert page.locator("h1").inner_text() == "Your answer is on its way"
    check(page, "the answer is on its way")
    queue_sent(project)
    page.goto(f"{base}/console/replies/1")
    page.get_by_text("What we wrote").click()  # open the folded answer
    assert page.get_by_text("There is no word limit.").is_visible()
    check(page, "a reply with our answer")
    fits_320(page, f"{base}/console/replies/1")
