"""Browser-test helpers: headless Chromium driven by Playwright, and axe-core accessibility checks.

Use them from a test module by importing the fixtures into it::

    from .browser import axe, format_violations
    from .browser import chromium as chromium_fixture, page as page_fixture  # noqa: F401

    def test_page_is_accessible(page, tmp_path):
        (tmp_path / "a.html").write_text(html)
        page.goto((tmp_path / "a.html").as_uri())
        violations = axe(page, email=True)
        assert not violations, format_violations(violations)

What they need (``scripts/lib/browser.sh`` installs both, and ``scripts/test`` sources it):

- Debian's Chromium at ``$ENGAGE_CHROMIUM`` (default ``/usr/bin/chromium``). Playwright's own
  browser download (``playwright install``) is never used. Without Chromium the tests are
  skipped, except when the ``CI`` environment variable is set: then they fail.
- axe-core in ``node_modules/axe-core/axe.min.js`` (``npm ci`` at the repository root).

The fixtures carry explicit names (``chromium``, ``page``), so pytest finds them under any
alias. Importing them under their own names also works (``from .browser import chromium,
page  # noqa: F401``), but then ruff reports F811 on every test that takes ``page`` as an
argument; the aliases above avoid that.

Pages can load ``file://`` URLs and ``http(s)://`` on 127.0.0.1, ``localhost`` and ``[::1]``;
every other request is aborted, so a test never reaches the network (remote images in an
email simply don't load). :func:`blocked_requests` lists what was aborted.

Results: :func:`axe` returns the *violations* and issues each *incomplete* result (a check axe
could not decide, such as contrast over a background image) as an :class:`AxeIncomplete`
warning, which pytest lists in its warnings summary. :func:`axe_results` returns both lists
without warning, for a caller that wants to report them itself.
"""

from __future__ import annotations

import os
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, Route, sync_playwright

REPO = Path(__file__).resolve().parent.parent
AXE_JS = REPO / "node_modules" / "axe-core" / "axe.min.js"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

# The flags this machine's Chromium needs: without the background-networking ones it keeps
# trying (and failing) to reach Google's hosts through the closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
# Webmail wraps a message in its own page, landmarks and all, so an email has none of its own.
EMAIL_DISABLED_RULES = ("region", "landmark-one-main")

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class AxeIncomplete(UserWarning):
    """An axe check that needs a person to decide (axe's "incomplete" result)."""


def chromium_path() -> str:
    return os.environ.get("ENGAGE_CHROMIUM") or DEFAULT_CHROMIUM


# One Playwright driver and one browser for the whole session, however many test modules
# import the fixture (each import makes a separate fixture, and Playwright's sync API allows
# only one driver per thread).
_shared: dict[str, Any] = {}


def _launch() -> Browser:
    if "browser" not in _shared:
        playwright: Playwright = sync_playwright().start()
        try:
            # A plain launch gives Chromium a new, empty --user-data-dir of Playwright's own
            # (a temporary folder it deletes on close); Playwright refuses one in `args`.
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
            )
        except BaseException:
            playwright.stop()
            raise
        _shared.update(playwright=playwright, browser=browser)
    return _shared["browser"]


def _close() -> None:
    browser = _shared.pop("browser", None)
    playwright = _shared.pop("playwright", None)
    if browser is not None:
        browser.close()
    if playwright is not None:
        playwright.stop()


@pytest.fixture(scope="session", name="chromium")
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium (a Playwright ``Browser``), shared by the whole session.

    Skipped when Chromium is not installed, unless ``CI`` is set: in CI that is a failure."""
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        message = (
            f"Chromium not found at {path}; run `source scripts/lib/browser.sh` "
            "(as root it installs Debian's chromium package)"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " [CI is set, so this fails rather than skips]")
        pytest.skip(message)
    browser = _launch()
    try:
        yield browser
    finally:
        _close()


_blocked: weakref.WeakKeyDictionary[Page, list[str]] = weakref.WeakKeyDictionary()


def is_local(url: str) -> bool:
    """Whether a page may load `url`: a file, or http(s) on this machine."""
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS


@pytest.fixture(name="page")
def page(chromium: Browser) -> Iterator[Page]:
    """A new page in its own browser context, with every remote request aborted."""
    context = chromium.new_context()
    blocked: list[str] = []

    def guard(route: Route) -> None:
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    new_page = context.new_page()
    _blocked[new_page] = blocked
    try:
        yield new_page
    finally:
        context.close()


def blocked_requests(page: Page) -> list[str]:
    """The URLs the `page` fixture refused to load, in order."""
    return list(_blocked.get(page, []))


@dataclass
class AxeResults:
    """What axe-core found: `violations` fail a test; `incomplete` need a person to look."""

    violations: list[dict[str, Any]] = field(default_factory=list)
    incomplete: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    version: str = ""


# Runs in the page: axe's results, cut down to what a report needs.
_RUN_AXE = """
async (options) => {
  const results = await axe.run(document, options);
  const brief = (items) => items.map((item) => ({
    id: item.id,
    impact: item.impact,
    help: item.help,
    helpUrl: item.helpUrl,
    nodes: item.nodes.map((node) => ({
      target: node.target.map((t) => Array.isArray(t) ? t.join(" >>> ") : t).join(" "),
      html: node.html,
      summary: node.failureSummary || "",
    })),
  }));
  return {
    violations: brief(results.violations),
    incomplete: brief(results.incomplete),
    url: results.url,
    version: results.testEngine.version,
  };
}
"""


def axe_options(*, email: bool = False) -> dict[str, Any]:
    """The options passed to ``axe.run``: WCAG 2.x A/AA and best practice, minus the
    landmark rules for an email."""
    rules = {rule: {"enabled": False} for rule in EMAIL_DISABLED_RULES} if email else {}
    return {
        "runOnly": {"type": "tag", "values": AXE_TAGS},
        "rules": rules,
        "resultTypes": ["violations", "incomplete"],
    }


def axe_results(page: Page, *, email: bool = False) -> AxeResults:
    """Inject axe-core into `page` (already loaded) and run it; return violations and
    incomplete results. ``email=True`` turns off ``region`` and ``landmark-one-main``.

    Each result is ``{"id", "impact", "help", "helpUrl", "nodes"}``, each node
    ``{"target", "html", "summary"}`` (`target` is a CSS selector)."""
    if not AXE_JS.is_file():
        pytest.fail(
            f"{AXE_JS.relative_to(REPO)} is missing: run `npm ci` at the repository root "
            "(or `source scripts/lib/browser.sh`)"
        )
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Run as the browser's own tooling, not as a <script> in the page: our pages' Content
        # Security Policy refuses every script, and the test must see the page as people do.
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    found = page.evaluate(_RUN_AXE, axe_options(email=email))
    return AxeResults(**found)


def axe(page: Page, *, email: bool = False) -> list[dict[str, Any]]:
    """axe-core's violations for `page` (an empty list when it passes).

    Each incomplete result is issued as an :class:`AxeIncomplete` warning; use
    :func:`axe_results` to get them as data instead."""
    results = axe_results(page, email=email)
    for item in results.incomplete:
        warnings.warn(
            AxeIncomplete(f"axe could not decide on {results.url}:\n{format_violations([item])}"),
            stacklevel=2,
        )
    return results.violations


def format_violations(violations: list[dict[str, Any]], *, title: str = "") -> str:
    """A readable report of axe results, for an assertion message or a warning."""
    if not violations:
        return f"{title}: no axe violations" if title else "no axe violations"
    lines = [f"{title}:"] if title else []
    lines.append(f"{len(violations)} axe rule(s) failed:")
    for item in violations:
        lines.append(f"- {item['id']} ({item.get('impact') or 'no impact'}): {item['help']}")
        if item.get("helpUrl"):
            lines.append(f"    {item['helpUrl']}")
        for node in item.get("nodes", []):
            html = " ".join(node.get("html", "").split())
            if len(html) > 160:
                html = html[:157] + "..."
            lines.append(f"    at {node['target']}: {html}")
            for detail in node.get("summary", "").splitlines():
                if detail.strip():
                    lines.append(f"        {detail.strip()}")
    return "\n".join(lines)
