"""A real browser on the real server: sign up with the keyboard only (choosing a topic), follow
the link from the outbox, change preferences and topics, unsubscribe. axe-core checks every page
on the way."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from engage.config import load_workspace

from .browser import axe, format_violations
from .browser import chromium as chromium_fixture  # noqa: F401
from .browser import page as page_fixture  # noqa: F401
from .live_site import queue_sent, serve

KEY = "browser-test-key"


@pytest.fixture
def site(project, monkeypatch):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    with serve(project) as base:
        yield base, project


def check(page, what: str) -> None:
    violations = axe(page)
    assert not violations, format_violations(violations, title=what)


def outbox_link(project, kind: str, pattern: str) -> str:
    queue_sent(project)  # the page queued the email; the server's worker sends it
    [path] = sorted((project.root / "outbox" / "system" / kind).glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return re.search(pattern, message.get_body(("plain",)).get_content()).group(0)


def test_sign_up_confirm_choose_and_leave_with_the_keyboard(site, page) -> None:
    base, project = site
    page.goto(f"{base}/subscribe")
    check(page, "sign-up page")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to the main content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type("kim@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type("Kim Lee")
    page.keyboard.press("Tab")  # the format choices: standard is chosen
    page.keyboard.press("ArrowDown")  # large print
    page.keyboard.press("Tab")  # the languages ([languages] offered): the page's is chosen
    assert page.evaluate("document.activeElement.labels[0].textContent") == "English"
    page.keyboard.press("Tab")  # the topics (engage.toml [topics]): walking first
    assert page.evaluate("document.activeElement.labels[0].textContent") == (
        "Walking groups and days out"
    )
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # boccia, left unticked
    page.keyboard.press("Tab")  # past the hidden trap field, to the consent box
    assert page.evaluate("document.activeElement.id") == "consent"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Check your email"
    check(page, "check-your-email page")

    link = outbox_link(project, "confirm", rf"{re.escape(base)}/confirm/\S+")
    page.goto(link)  # opening the link only asks; the button confirms
    assert page.locator("h1").inner_text() == "Confirm that you want our newsletter"
    check(page, "confirm page")
    assert "Status:     pending" in project.run("contacts", "show", "kim@example.org").output
    page.get_by_role("button", name="Yes, send me the newsletter").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "You are signed up"
    check(page, "confirmed page")
    page.goto(link)
    assert page.locator("h1").inner_text() == "You are already signed up"
    check(page, "already signed up page")

    assert project.run("contacts", "show", "kim@example.org").output.splitlines()[1:5] == [
        "Status:     subscribed",
        "Format:     large-print",
        "Language:   the organisation's",
        "Tags:       newsletter, walking",  # the sign-up tag and the topic kim ticked
    ]
    ws = load_workspace(project.root / "engage.toml")
    from engage.contacts import core
    from engage.store import open_store
    from engage.tokens import Signer

    store = open_store(ws)
    with store.connect() as c:
        kim = core.get(c, "kim@example.org")
    store.engine.dispose()
    signer = Signer(KEY)

    page.goto(f"{base}/preferences/{signer.sign('p', kim.id)}")
    check(page, "preferences page")
    topics = page.get_by_role("group", name="What would you like to hear about?")
    assert topics.get_by_role("checkbox", name="Walking groups and days out").is_checked()
    assert not topics.get_by_role("checkbox", name="Boccia sessions and matches").is_checked()
    page.get_by_label("Plain text only").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # from the format choices to the language choices
    page.keyboard.press("Tab")  # to the first topic: walking
    page.keyboard.press("Space")  # untick it
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # tick boccia
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Save my choices"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Your choices are saved"
    check(page, "saved page")
    shown = project.run("contacts", "show", "kim@example.org").output
    assert "Format:     plain" in shown
    assert "Tags:       boccia, newsletter" in shown
    assert (
        "choices changed: format plain (was large-print); boccia added; walking taken off; by "
        "the person, from the preferences page"
    ) in shown

    page.goto(f"{base}/unsubscribe/{signer.sign('u', kim.id, 0)}")
    check(page, "unsubscribe page")
    page.get_by_role("button", name="Unsubscribe me").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    check(page, "unsubscribed page")
    assert "Status:     unsubscribed" in project.run("contacts", "show", "kim@example.org").output

    # The old confirmation link now says so, and offers a fresh sign-up.
    page.goto(link)
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    check(page, "old confirmation link page")
    page.get_by_role("link", name="Sign up for our newsletter again").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Get our newsletter"
    assert "Status:     unsubscribed" in project.run("contacts", "show", "kim@example.org").output


@pytest.mark.parametrize("path", ["/archive/", "/unsubscribe", "/confirm/broken", "/nowhere"])
def test_other_pages_have_no_violations(site, page, path) -> None:
    base, _ = site
    page.goto(base + path)
    check(page, path)


def test_the_archived_newsletter_has_no_violations(site, page) -> None:
    base, project = site
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    assert project.run("send", "doing-with-not-doing-to", "--yes", "--now").exit_code == 0
    page.goto(f"{base}/archive/doing-with-not-doing-to")
    violations = axe(page, email=True)
    assert not violations, format_violations(violations, title="archived newsletter")


@pytest.mark.parametrize("path", ["/subscribe", "/archive/", "/unsubscribe"])
def test_pages_work_at_200_percent_zoom(site, page, path) -> None:
    """200% zoom on a 640px window leaves 320 CSS pixels: nothing may need sideways scrolling."""
    base, _ = site
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(base + path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert page.locator("h1").is_visible()


@pytest.mark.parametrize("path", ["/subscribe", "/confirm/broken", "/nowhere"])
def test_the_pages_styles_pass_their_content_security_policy(site, page, path) -> None:
    """The policy allows the page's own style block by its hash, and nothing else: the page
    keeps its colours, and the browser reports no refusals."""
    base, _ = site
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    answer = page.goto(base + path)
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    header = page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")
    assert header == "rgb(11, 79, 138)"
    assert refused == []
