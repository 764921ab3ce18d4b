"""The security headers on every answer the web app gives: pages, error pages, the archive and
the webhooks' JSON. One hook sets them all (see `secure`), so no route can forget them.

- Content-Security-Policy: our pages run no scripts and load nothing from elsewhere. Their one
  `<style>` block is allowed by its hash, worked out from the page itself, so a team that edits
  templates/web keeps its styles. An archived newsletter is the email as it was sent: inline
  styles, and pictures from the organisation's website, so it may show https pictures too.
  The console's pages may run our own scripts (a campaign's live progress), read our own
  JSON and frame our own pages (an email's preview); an email's preview has the archive's
  policy, is sandboxed, and may be framed by the console alone.
- Referrer-Policy: our links carry tokens, so no other website is told the address they came
  from.
- Cache-Control: no-store on any page reached by a token link, on every answer to a form or
  webhook, and on every page of the team's console, so a shared computer or a proxy keeps no
  copy of someone's choices or of the console's pages.
- Strict-Transport-Security when `[web] base_url` is https: browsers then use only https.
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request

# Pages that show an archived email as it was sent, not one of our templates.
ARCHIVED = {"pages.archive_item", "pages.archive_large_print"}
# The console's preview of an email, as a reader would get it: framed by the campaign's page.
PREVIEWS = {"console.campaign_email"}
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.DOTALL | re.IGNORECASE)
_ALWAYS = "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"


def policy(response: Response) -> str:
    """The Content-Security-Policy for this answer."""
    if request.endpoint in ARCHIVED:
        return f"{_ALWAYS}; style-src 'unsafe-inline'; img-src 'self' data: https:"
    if request.endpoint in PREVIEWS and response.mimetype == "text/html":
        framed = _ALWAYS.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
        return f"{framed}; sandbox; style-src 'unsafe-inline'; img-src 'self' data: https:"
    rules = [_ALWAYS, "img-src 'self' data:"]
    if request.blueprint == "console":
        rules.append("script-src 'self'; connect-src 'self'; frame-src 'self'")
    if response.mimetype == "text/html" and not response.direct_passthrough:
        hashes = [_hash(css) for css in _STYLE.findall(response.get_data(as_text=True))]
        if hashes:
            rules.append("style-src " + " ".join(dict.fromkeys(hashes)))
    return "; ".join(rules)


def _hash(css: str) -> str:
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def private() -> bool:
    """True when the answer is for one person: a token link, a form sent, a webhook, or any
    page of the team's console."""
    return (
        "token" in (request.view_args or {})
        or request.method not in ("GET", "HEAD")
        or request.blueprint == "console"
        or request.path.startswith("/console/")
    )


def install(app: Flask, base_url: str) -> None:
    """Set the headers on every answer `app` gives, error pages too."""
    https = base_url.lower().startswith("https://")

    @app.after_request
    def secure(response: Response) -> Response:
        headers = response.headers
        headers["Content-Security-Policy"] = policy(response)
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Content-Type-Options"] = "nosniff"
        if private():
            headers["Cache-Control"] = "no-store"
        if https:
            headers["Strict-Transport-Security"] = HSTS
        return response
