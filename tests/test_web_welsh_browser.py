"""Every public page in Welsh, in Chromium on the real server: axe-core finds no violations, the
page fits 320 px with no sideways scrolling (a screenshot of each is kept in the test's tmp
folder), every part in another language says so with its own lang, and the language switch
works with the keyboard and no JavaScript."""

from __future__ import annotations

import pytest

from engage.store import open_store
from engage.stories import core as stories
from engage.stories import telling
from engage.tokens import Signer

from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401
from .console_browser import check, fits_320
from .live_site import serve

KEY = "welsh-browser-key"


@pytest.fixture
def site(project, monkeypatch):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    for address in ("sam@example.org", "kim@example.org"):
        added = project.run("contacts", "add", address, "--consent", "Yes", "--lang", "cy")
        assert added.exit_code == 0, added.output
    assert project.run("stories", "open", "sam@example.org", "--quiet").exit_code == 0
    with serve(project) as base:
        yield base, project


def person_links(project, base: str) -> dict[str, str]:
    """The private pages of sam (contact 1), as the links in their emails open them."""
    signer = Signer(KEY)
    workspace = project.workspace
    store = open_store(workspace)
    with store.connect() as connection:
        story = stories.get(connection, 1)
    store.engine.dispose()
    return {
        "preferences": f"{base}/preferences/{signer.sign('p', 1)}",
        "unsubscribe": f"{base}/unsubscribe/{signer.sign('u', 1, 0)}",
        "story": telling.link_for(workspace, signer, story),
    }


def langs_of(page) -> list[tuple[str, str]]:
    """Each element with its own lang, and its text: what a screen reader speaks in that
    language."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body [lang]')]
            .map(e => [e.getAttribute('lang'), e.textContent.trim()])"""
    )


def test_every_public_page_in_welsh(site, page, tmp_path) -> None:
    base, project = site
    pages = {
        "subscribe": f"{base}/subscribe?lang=cy",  # the switch's link: remembered from here
        "archive": f"{base}/archive/",
        "unsubscribe-help": f"{base}/unsubscribe",
        "not-found": f"{base}/nowhere",
        "bad-link": f"{base}/confirm/broken",
        **person_links(project, base),
    }
    for name, url in pages.items():
        page.goto(url)
        assert page.evaluate("document.documentElement.lang") == "cy", name
        check(page, f"{name} in Welsh")
        page.set_viewport_size({"width": 320, "height": 640})
        page.screenshot(path=str(tmp_path / f"{name}.cy.320.png"), full_page=True)
        fits_320(page)
        # Only the switch's English (and, on the sign-up form, engage.toml's English topics
        # and consent wording, and the language choice) carry another lang.
        other = [(lang, text) for lang, text in langs_of(page) if lang != "cy"]
        assert ("en-GB", "English") in other, name
        if name == "subscribe":
            assert other == [
                ("en-GB", "English"),
                ("en-GB", "English"),
                ("en-GB", "Walking groups and days out"),
                ("en-GB", "Boccia sessions and matches"),
                (
                    "en-GB",
                    "Yes, please send me news by email. I know I can stop at any time, with one "
                    "click.",
                ),
            ]
        assert (tmp_path / f"{name}.cy.320.png").stat().st_size > 1000
    assert page.locator("h1").inner_text() == "Eich stori"


def test_the_switch_works_with_the_keyboard_and_no_javascript(chromium, project, monkeypatch):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    context = chromium.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    try:
        with serve(project) as base:
            page.goto(f"{base}/subscribe")
            assert page.locator("h1").inner_text() == "Get our newsletter"
            page.keyboard.press("Tab")  # the skip link
            page.keyboard.press("Tab")  # the switch, before the page's own content
            assert page.evaluate("document.activeElement.textContent") == "Cymraeg"
            assert page.evaluate("document.activeElement.lang") == "cy"
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert page.locator("h1").inner_text() == "Cael ein cylchlythyr"
            page.goto(f"{base}/archive/")  # remembered: no ?lang= here
            assert page.locator("h1").inner_text() == "Cylchlythyrau blaenorol"
            page.get_by_role("link", name="English").click()
            assert page.locator("h1").inner_text() == "Past newsletters"
    finally:
        context.close()
