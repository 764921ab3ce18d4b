"""The console's campaigns in a real browser on the real server: axe-core finds nothing on the
list, a campaign's page (each format of its preview) and the confirmation before a send; each
fits 320 px without sideways scrolling; and a send started there goes out through the server's
worker while the page's live region follows it, with nothing refused by the page's policy.

The email in the preview's frame runs no scripts (its policy sandboxes it), so axe cannot look
inside it here: tests/test_axe_newsletter.py checks the email itself."""

from __future__ import annotations

import pytest

from engage.store import open_store
from engage.team import members

from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401
from .console_browser import check, fits_320, sign_in_as
from .live_site import serve

KEY = "console-campaigns-browser-key"
SLUG = "doing-with-not-doing-to"


@pytest.fixture
def site(project, monkeypatch):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    store = open_store(project.workspace)
    with store.begin() as connection:
        members.add(connection, "sol@example.org", "Sol Reyes", "sender", "test")
    store.engine.dispose()
    with serve(project) as base:
        yield base, project


PAGES = [
    "/console/campaigns",
    f"/console/campaigns/{SLUG}",
    f"/console/campaigns/{SLUG}?format=large-print",
    f"/console/campaigns/{SLUG}?format=plain&reader=ben.okafor@example.org",
    f"/console/campaigns/{SLUG}/send",
    f"/console/campaigns/{SLUG}?format=plain&reader=nobody@example.org",
]


@pytest.mark.parametrize("path", PAGES)
def test_the_campaign_pages_have_no_violations_and_fit_320_px(site, page, path) -> None:
    base, project = site
    sign_in_as(page, base, project, "sol@example.org")
    page.goto(base + path)
    check(page, path)
    fits_320(page, base + path)


def test_start_a_send_and_watch_it_go(site, page) -> None:
    base, project = site
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_in_as(page, base, project, "sol@example.org")
    page.goto(f"{base}/console/campaigns/{SLUG}")
    with page.expect_navigation():
        page.get_by_role("link", name="Start sending now").click()
    assert page.locator("h1").inner_text() == "Send this campaign?"
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, send it to 8 people").click()
    assert page.url == f"{base}/console/campaigns/{SLUG}"
    region = page.locator("#progress[aria-live=polite]")
    region.get_by_text("8 of 8 sent. 0 failed. 0 unknown. 0 still to go.").wait_for(timeout=20_000)
    assert page.locator("#campaign-status").inner_text() == "Sent"
    assert len(list((project.root / "outbox" / SLUG).glob("*.eml"))) == 8
    check(page, "a campaign's page after its send")
    assert refused == []
