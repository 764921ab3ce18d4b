"""What the console's browser tests share: signing a browser in, axe on a page, and the
320 px check (200% zoom on a 640 px window)."""

from __future__ import annotations

from engage.config import load_workspace
from engage.store import open_store
from engage.team import members, sessions
from engage.web.console.base import COOKIE

from .browser import axe, format_violations


def sign_in_as(page, base: str, project, email_address: str) -> None:
    """Sign the browser in without the email round trip: a session made as sign-in makes it."""
    store = open_store(load_workspace(project.root / "engage.toml"))
    with store.begin() as connection:
        member = members.find(connection, email_address)
        session = sessions.begin(connection, member, 12, "test")
    store.engine.dispose()
    page.context.add_cookies([{"name": COOKIE, "value": session.secret, "url": f"{base}/console/"}])


def check(page, what: str) -> None:
    """axe-core finds no violations on the page."""
    violations = axe(page)
    assert not violations, format_violations(violations, title=what)


def fits_320(page, url: str | None = None) -> None:
    """The page (at `url`, or the one open) needs no sideways scrolling 320 px wide."""
    page.set_viewport_size({"width": 320, "height": 640})
    if url is not None:
        page.goto(url)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"{url or page.url} is {width} px wide at 320 px"
    assert page.locator("h1").is_visible()
    page.set_viewport_size({"width": 1280, "height": 800})
