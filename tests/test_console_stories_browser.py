"""The console's stories pages in a real browser on the real server: axe-core finds no
violations on the board, a story's page (with a draft, what was said, its history, and the
error summary of a refused step), the decline confirmation, who is owed news and a result
page; each fits a 320 px wide window without sideways scrolling. A story is moved with the
keyboard only."""

from __future__ import annotations

import pytest

from engage.store import open_store
from engage.team import members

from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401
from .console_browser import check, fits_320, sign_in_as
from .live_site import serve

KEY = "console-stories-browser-key"
PEOPLE = (
    "email,name,first_name,tags,format\n"
    "amira@example.org,Amira Hassan-Wolstenholme-Featherstonehaugh,Amira,contributor,html\n"
    "ben@example.org,Ben Okafor,Ben,contributor,html\n"
)
DRAFT = (
    "# Amira finds her team\n\n"
    "Amira started wheelchair basketball last spring. She was nervous at first. The coach made "
    "her feel welcome, and now she trains twice a week: "
    "https://www.example.org/a-very-long-link-that-does-not-break-easily-anywhere-at-all\n"
)


@pytest.fixture
def site(project, monkeypatch, clock):
    """Two stories (one with a draft, one owed news) and an editor, served for real."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path)).exit_code == 0
    assert (
        project.run(
            "stories", "open", "amira@example.org", "--title", "Amira finds her team"
        ).exit_code
        == 0
    )
    assert project.run("stories", "open", "ben@example.org").exit_code == 0
    clock.advance(days=15)
    assert (
        project.run("stories", "set", "1", "in-progress", "--note", "Priya is on it.").exit_code
        == 0
    )
    assert project.run("stories", "draft", "1", str(project.write("d.md", DRAFT))).exit_code == 0
    store = open_store(project.workspace)
    with store.begin() as connection:
        members.add(connection, "ed@example.org", "Ed Jones", "editor", "test")
    store.engine.dispose()
    with serve(project) as base:
        yield base, project


@pytest.mark.parametrize(
    "path",
    ["/console/stories", "/console/stories/1", "/console/stories/2", "/console/stories/owed"],
)
def test_the_stories_pages_have_no_violations_and_fit_320_px(site, page, path) -> None:
    base, project = site
    sign_in_as(page, base, project, "ed@example.org")
    answer = page.goto(base + path)
    assert answer.status == 200
    check(page, path)
    fits_320(page)


def test_a_refusal_a_confirmation_and_a_result_have_no_violations(site, page) -> None:
    base, project = site
    sign_in_as(page, base, project, "ed@example.org")
    page.goto(f"{base}/console/stories/2")
    page.select_option("#status", "published")
    page.fill("#link", "https://www.example.org/stories/ben")
    with page.expect_navigation():
        page.get_by_role("button", name="Move the story").click()
    assert page.locator("h2#error-title").inner_text() == "Nothing was changed"
    check(page, "a refused move")
    fits_320(page)
    page.select_option("#status", "declined")
    page.fill("#note", "It is not for us this time.")
    with page.expect_navigation():
        page.get_by_role("button", name="Move the story").click()
    assert page.locator("h1").inner_text() == "Decline story 2?"
    check(page, "the decline confirmation")
    fits_320(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Decline it and send this email").click()
    assert page.locator("h1").inner_text() == "Story 2 is now declined"
    check(page, "a move's result")
    fits_320(page)


def test_a_story_is_moved_with_the_keyboard(site, page) -> None:
    base, project = site
    sign_in_as(page, base, project, "ed@example.org")
    page.goto(f"{base}/console/stories")
    page.get_by_role("link", name="Story 2").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.locator("#status").focus()
    page.keyboard.press("Home")  # the first move offered: in progress
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "note"
    page.keyboard.type("Kim is reading it now.")
    focused = []
    for _ in range(3):  # the link, publishing without approval, the button
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent")
        )
    assert focused == ["link", "without_approval", "Move the story"]
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Story 2 is now in progress"
    [sent] = sorted((project.root / "outbox" / "system" / "story-update").glob("*.eml"))[-1:]
    assert "Kim is reading it now." in sent.read_text()
