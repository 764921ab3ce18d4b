"""The console's people and reports pages in a real browser on the real server: the search
page, a person's page, the erase confirmation (and its error), a report page and the list of
reports. axe-core reports no violations on any of them, and each fits 320 px without
sideways scrolling (200% zoom on a 640 px window)."""

from __future__ import annotations

import pytest

from engage.contacts import core
from engage.store import open_store
from engage.team import members

from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401
from .console_browser import check, fits_320, sign_in_as
from .live_site import serve

KEY = "console-people-browser-key"
SLUG = "doing-with-not-doing-to"
PEOPLE = (
    "email,name,first_name,tags,format\n"
    "sam.jones@example.org,Sam Jones,Sam,newsletter;walking,html\n"
    "a.very.long.address.that.goes.on.and.on.for.ever@a-long-domain-name.example.org,"
    "Bartholomew Featherstonehaugh-Cholmondeley,Bart,newsletter,large-print\n"
    "bo@example.net,Bo Diaz,Bo,newsletter,plain\n"
)


@pytest.fixture
def site(project, monkeypatch):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    path = project.write("people.csv", PEOPLE)
    assert project.run("contacts", "import", str(path), "--consent", "Yes please.").exit_code == 0
    assert project.run("send", SLUG, "--yes", "--now").exit_code == 0
    assert project.run("contacts", "unsubscribe", "bo@example.net").exit_code == 0
    store = open_store(project.workspace)
    with store.begin() as connection:
        members.add(connection, "ali@example.org", "Ali Khan", "admin", "test")
        long = core.get(
            connection,
            "a.very.long.address.that.goes.on.and.on.for.ever@a-long-domain-name.example.org",
        )
    store.engine.dispose()
    with serve(project) as base:
        yield base, project, long.id


@pytest.mark.parametrize(
    "path",
    [
        "/console/people",
        "/console/people?q=o&status=subscribed",
        "/console/people?q=" + "x" * 400,  # the error summary
        "/console/people/{long}",
        "/console/people/1",
        "/console/people/{long}/erase",
        "/console/reports",
        f"/console/reports/{SLUG}",
        "/console/reports/share-your-story",
    ],
)
def test_each_page_has_no_violations_and_fits_320_px(site, page, path) -> None:
    base, project, long = site
    sign_in_as(page, base, project, "ali@example.org")
    url = base + path.format(long=long)
    page.goto(url)
    check(page, path)
    fits_320(page, url)


def test_a_wrong_address_on_the_erase_page_with_the_keyboard(site, page) -> None:
    base, project, long = site
    sign_in_as(page, base, project, "ali@example.org")
    page.goto(f"{base}/console/people/{long}/erase")
    page.locator("#email").focus()
    page.keyboard.type("someone@example.org")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text().startswith("Erase Bartholomew")
    assert "That is not their address. Nothing was erased." in page.locator(".error").inner_text()
    check(page, "the erase page with its error")
    fits_320(page, page.url)  # a GET of the page: the same layout, without the error
    page.goto(f"{base}/console/people/{long}")
    assert page.locator("h1").inner_text() == "Bartholomew Featherstonehaugh-Cholmondeley"


def test_the_report_page_passes_its_content_security_policy(site, page) -> None:
    base, project, _ = site
    refused = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_in_as(page, base, project, "ali@example.org")
    page.goto(f"{base}/console/reports/{SLUG}")
    number = page.evaluate("getComputedStyle(document.querySelector('.glance .number')).fontSize")
    assert number == "32px"  # the report's own style is applied
    assert refused == []
