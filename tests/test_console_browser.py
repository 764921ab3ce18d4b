"""The console's door in a real browser on the real server: sign in by email link with the
keyboard only, then the front page, the team page and the log; axe-core on every page, and
every page at 320 px wide (200% zoom on a 640 px window) without sideways scrolling."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from engage.store import open_store
from engage.team import members
from engage.web.console.base import COOKIE

from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401
from .console_browser import check, fits_320, sign_in_as
from .live_site import queue_sent, serve

KEY = "console-browser-key"


@pytest.fixture
def site(project, monkeypatch):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    store = open_store(project.workspace)
    with store.begin() as connection:
        members.add(connection, "ali@example.org", "Ali Khan", "admin", "test")
        members.add(connection, "ed@example.org", "Ed Jones", "editor", "test")
    store.engine.dispose()
    with serve(project) as base:
        yield base, project


def test_sign_in_by_link_with_the_keyboard(site, page) -> None:
    base, project = site
    page.goto(f"{base}/console/")
    assert page.url == f"{base}/console/sign-in"
    check(page, "sign-in page")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the main content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type("Ali@Example.org")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Check your email"
    check(page, "check your email")
    queue_sent(project)
    [path] = sorted((project.root / "outbox" / "system" / "signin").glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    link = re.search(r"http://\S+/console/sign-in/\S+", message.get_body(("plain",)).get_content())
    page.goto(link.group(0))
    check(page, "the sign-in link's page")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{base}/console/"
    assert page.locator("h1").inner_text() == "Hello, Ali Khan"
    check(page, "the console's front page")
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Lax", "/console")


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/team",
        "/console/log",
        "/console/sign-in/nonsense",
        "/console/signed-out",
        "/console/nowhere",
    ],
)
def test_the_admins_pages_have_no_violations_and_fit_320_px(site, page, path) -> None:
    base, project = site
    sign_in_as(page, base, project, "ali@example.org")
    page.goto(base + path)
    check(page, path)
    fits_320(page, base + path)


def test_the_remove_confirmation_and_a_refusal_have_no_violations(site, page) -> None:
    base, project = site
    sign_in_as(page, base, project, "ali@example.org")
    page.goto(f"{base}/console/team")
    with page.expect_navigation():
        page.get_by_role("button", name="Remove Ed Jones").click()
    assert page.locator("h1").inner_text() == "Remove ed@example.org from the team?"
    check(page, "remove confirmation")
    page.context.clear_cookies()
    sign_in_as(page, base, project, "ed@example.org")
    answer = page.goto(f"{base}/console/team")
    assert answer.status == 403
    assert page.locator("h1").inner_text() == "You cannot do this"
    check(page, "a refusal")


def test_the_console_sends_no_store_and_passes_its_content_security_policy(site, page) -> None:
    base, project = site
    refused = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    sign_in_as(page, base, project, "ali@example.org")
    answer = page.goto(f"{base}/console/")
    assert answer.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    header = page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")
    assert header == "rgb(11, 79, 138)"
    assert refused == []
