"""Hostile input on the open web: any token in any link gets the friendly 400 page, never a
server error; every answer carries the security headers. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from pathlib import Path

import pytest

from engage.contacts import core, life
from engage.tokens import BadSignature, BadToken, Signer
from engage.web import create_app

from .test_web_hooks import mailgun_body

KEY, MG_KEY = "hostile-test-key", "hostile-mailgun-key"
PAYLOADS = Path(__file__).parent / "payloads"
SIGNATURE = "a" * 16  # the shape of a signature, made by no key

# Every route with a token in its address, and the methods it answers.
TOKEN_ROUTES = [
    ("/confirm/", ("GET", "HEAD", "POST")),
    ("/unsubscribe/", ("GET", "HEAD", "POST")),
    ("/preferences/", ("GET", "HEAD", "POST")),
    ("/story/", ("GET", "HEAD", "POST")),
]

# Tokens as they appear in a link's path (percent-encoded where a browser would encode them).
HOSTILE = {
    "non-ASCII letter": "1.1.%C3%A9",
    "non-ASCII signature": "1.1." + "%C3%A9" * 16,
    "emoji": "%F0%9F%98%80",
    "full-width digits": "%EF%BC%91.%EF%BC%92." + SIGNATURE,
    "dotted capital I (longer in lower case)": "%C4%B0" * 600,
    "bytes that are not UTF-8": "%FF%FE%FD",
    "an encoded surrogate": "%ED%A0%80." + SIGNATURE,
    "NUL": "1.%00." + SIGNATURE,
    "NUL alone": "%00",
    "newline": "1.1%0A." + SIGNATURE,
    "spaces": "%20%20",
    "very long": "1." * 20_000 + SIGNATURE,
    "very long part": "z" * 5_000 + "." + SIGNATURE,
    "only dots": "." * 300,
    "one dot": ".",
    "empty parts": "1..1." + SIGNATURE,
    "empty body": "." + SIGNATURE,
    "trailing dot": "1.1.",
    "no dots": "nonsense",
    "underscore in a number": "1_0.1." + SIGNATURE,
    "a sign in a number": "-1.1." + SIGNATURE,
    "short signature": "1.1.aaaa",
    "long signature": "1.1." + "a" * 17,
    "signature with a 1 (not base32)": "1.1." + "1" * 16,
    "right shape, wrong key": "1.1." + SIGNATURE,
    "percent sign": "%25",
    "HTML": "%3Cb%3E",
}
LINK_PAGE = "<h1>This link does not work</h1>"
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@pytest.fixture
def app(project, monkeypatch, db_url):
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("MAILGUN_WEBHOOK_SIGNING_KEY", MG_KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    app = create_app(project.workspace)  # not TESTING: errors are answered as in production
    app.project = project
    yield app
    app.extensions["engage"]["store"].engine.dispose()


def _send(client, method: str, path: str, **kwargs):
    return client.open(path, method=method, **kwargs)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_any_token_gets_the_friendly_page(app, name) -> None:
    client = app.test_client()
    token = HOSTILE[name]
    for prefix, methods in TOKEN_ROUTES:
        for method in methods:
            answer = _send(client, method, prefix + token, data={"csrf": token})
            where = f"{method} {prefix}{token[:40]}"
            assert answer.status_code == 400, where
            assert answer.headers["Cache-Control"] == "no-store", where
            if method != "HEAD":
                assert LINK_PAGE in answer.get_data(as_text=True), where


def test_a_slash_in_a_token_is_page_not_found(app) -> None:
    client = app.test_client()
    for prefix, methods in TOKEN_ROUTES:
        for method in methods:
            answer = _send(client, method, f"{prefix}1%2F1.{SIGNATURE}")
            assert answer.status_code == 404
            if method != "HEAD":
                assert "<h1>Page not found</h1>" in answer.get_data(as_text=True)


def _subscribed(app, address: str = "ann@example.org") -> int:
    with app.extensions["engage"]["store"].begin() as c:
        return life.add(c, address, core.ConsentGiven()).id


@pytest.mark.parametrize("name", list(HOSTILE))
def test_any_form_token_gets_a_400_and_changes_nothing(app, name) -> None:
    contact_id = _subscribed(app)
    link = f"/preferences/{Signer(KEY).sign('p', contact_id)}"
    client = app.test_client()
    assert client.get(link).status_code == 200
    # The form token as a browser sends it: the field's value, percent-encoded in the body.
    body = f"csrf={HOSTILE[name]}&format=plain"
    answer = client.post(link, data=body, content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 400
    assert LINK_PAGE in answer.get_data(as_text=True)
    with app.extensions["engage"]["store"].connect() as c:
        assert core.get(c, "ann@example.org").format == "html"


@pytest.mark.parametrize(
    "token",
    [
        "\udcff",
        "1.\ud800." + SIGNATURE,
        "1.1.\x00" + SIGNATURE,
        "é" * 10,
        "İ" * 1000,
        "1." * 100_000 + SIGNATURE,
        "",
        " ",
        "１.１." + SIGNATURE,
        None,
        b"1.1.aaaaaaaaaaaaaaaa",
        12,
    ],
)
def test_the_signer_refuses_anything_it_did_not_make(token) -> None:
    with pytest.raises(BadToken) as refused:
        Signer(KEY).verify("u", token)
    assert not isinstance(refused.value, BadSignature)  # not our shape: no key to blame
    assert str(refused.value) == "This link is not valid. It may have been cut short or changed."


def test_the_signer_still_reads_its_own_tokens_in_any_case() -> None:
    signer = Signer(KEY)
    token = signer.sign("c", 12, 29_000_000, *range(200))  # many topics: a long token
    assert len(token) < 1000
    assert signer.verify("c", token) == (12, 29_000_000, *range(200))
    assert signer.verify("u", f"  {signer.sign('u', 7, 3).upper()}\n") == (7, 3)
    with pytest.raises(BadSignature):
        signer.verify("u", "1.1." + SIGNATURE)


# --- security headers ---------------------------------------------------------------------


def _style_hash() -> str:
    """The hash of the style block in our pages' template, as the browser works it out."""
    template = (Path(__file__).parent.parent / "templates/web/base.html.j2").read_text()
    css = re.search(r"<style>(.*?)</style>", template, re.DOTALL).group(1)
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


OURS = (
    "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; "
    "img-src 'self' data:"
)


def _check(
    answer, *, private: bool, https: bool = False, status: int = 200, styled: bool = True
) -> None:
    assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    for name, value in HEADERS.items():
        assert answer.headers[name] == value
    if styled and answer.mimetype == "text/html":
        assert answer.headers["Content-Security-Policy"] == f"{OURS}; style-src {_style_hash()}"
    else:
        assert answer.headers["Content-Security-Policy"] == OURS
    assert answer.headers.get("Cache-Control") == ("no-store" if private else None)
    assert answer.headers.get("Strict-Transport-Security") == (
        "max-age=31536000" if https else None
    )


def test_every_kind_of_page_has_the_headers(app) -> None:
    client = app.test_client()
    signer = Signer(KEY)
    contact_id = _subscribed(app)
    _check(client.get("/subscribe"), private=False)
    _check(client.post("/subscribe", data={"email": "nope"}), private=True, status=400)
    _check(client.get("/unsubscribe"), private=False)
    _check(client.get(f"/unsubscribe/{signer.sign('u', contact_id, 0)}"), private=True)
    _check(client.head(f"/unsubscribe/{signer.sign('u', contact_id, 0)}"), private=True)
    _check(client.get(f"/preferences/{signer.sign('p', contact_id)}"), private=True)
    _check(client.get(f"/confirm/{signer.sign('c', contact_id, 0)}"), private=True, status=400)
    _check(client.get(f"/story/1.1.{SIGNATURE}"), private=True, status=400)
    # Error pages: 404, 405, 413, 429 and 500.
    _check(client.get("/nothing-here"), private=False, status=404)
    _check(client.delete("/subscribe"), private=True, status=405)
    _check(client.post("/subscribe", data={"email": "x" * 70_000}), private=True, status=413)
    for i in range(30):
        late = client.post("/subscribe", data={"email": f"p{i}@example.org", "consent": "yes"})
    _check(late, private=True, status=429)
    # The team broke the page (a name it does not have; a removed page would be engage's own).
    (app.project.root / "templates/web/archive.html.j2").write_text("{{ no_such_thing }}")
    broken = client.get("/archive/")
    _check(broken, private=False, status=500)
    assert "<h1>Something went wrong</h1>" in broken.get_data(as_text=True)
    # The webhooks' JSON answers, refused and accepted.
    _check(client.post("/webhooks/mailgun", json={}), private=True, status=401, styled=False)
    event = json.loads((PAYLOADS / "mailgun/failed-permanent.json").read_text())["event-data"]
    event["timestamp"] = time.time()
    accepted = client.post("/webhooks/mailgun", json=mailgun_body(event, key=MG_KEY))
    _check(accepted, private=True)
    assert accepted.json == {"stored": 1, "repeated": 0, "unreadable": 0}


def test_the_archive_may_show_pictures_from_the_website(app, clock) -> None:
    project = app.project
    assert project.run("contacts", "import", "samples/contacts.csv").exit_code == 0
    clock.advance(days=2, hours=1)  # after the example campaign's send_at
    assert project.run("send", "doing-with-not-doing-to", "--yes").exit_code == 0
    client = app.test_client()
    _check(client.get("/archive/"), private=False)
    for path in (
        "/archive/doing-with-not-doing-to",
        "/archive/doing-with-not-doing-to/large-print",
    ):
        page = client.get(path)
        assert page.status_code == 200
        assert 'src="https://www.example.org/images/walking-group.jpg"' in page.get_data(
            as_text=True
        )
        assert page.headers["Content-Security-Policy"] == (
            "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; "
            "style-src 'unsafe-inline'; img-src 'self' data: https:"
        )
        assert page.headers.get("Cache-Control") is None
    _check(client.get("/archive/doing-with-not-doing-to/text"), private=False)


def test_https_sites_ask_browsers_to_use_only_https(project, monkeypatch) -> None:
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    project.replace(
        "engage.toml", 'base_url = "http://127.0.0.1:8025"', 'base_url = "https://news.example.org"'
    )
    app = create_app(project.workspace)
    try:
        client = app.test_client()
        _check(client.get("/subscribe"), private=False, https=True)
        _check(client.get("/nothing-here"), private=False, https=True, status=404)
        _check(client.get(f"/unsubscribe/1.{SIGNATURE}"), private=True, https=True, status=400)
    finally:
        app.extensions["engage"]["store"].engine.dispose()
