"""The fake Mastodon and Bluesky APIs behave like the real ones when driven with `requests`."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from .fakes import FakeBluesky, FakeMastodon
from .fakes.social import count_graphemes, mastodon_length

TIMEOUT = 5
TOKEN = "tok"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
DID = "did:plc:engage"
HANDLE = "engage.example.org"
PASSWORD = "app-pass-word"


@pytest.fixture(scope="module")
def _mastodon() -> Iterator[FakeMastodon]:
    with FakeMastodon(access_token=TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module")
def _bluesky() -> Iterator[FakeBluesky]:
    with FakeBluesky(handle=HANDLE, password=PASSWORD, did=DID) as fake:
        yield fake


@pytest.fixture
def mastodon(_mastodon: FakeMastodon) -> FakeMastodon:
    _mastodon.reset()
    return _mastodon


@pytest.fixture
def bluesky(_bluesky: FakeBluesky) -> FakeBluesky:
    _bluesky.reset()
    return _bluesky


# --- measuring text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc", 3),
        ("e\u0301", 1),  # combining acute
        ("👨\u200d👩\u200d👧\u200d👦", 1),  # ZWJ family
        ("👍🏽", 1),  # skin tone
        ("🇬🇧🇫🇷", 2),  # two flags
        ("1\ufe0f\u20e3", 1),  # keycap
        ("\r\n", 1),
        ("한국어", 3),
        ("\u1100\u1161\u11a8", 1),  # conjoining jamo
        ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", 1),  # Scotland
    ],
)
def test_count_graphemes(text: str, expected: int) -> None:
    assert count_graphemes(text) == expected


def test_mastodon_length_counts_urls_as_23_and_remote_mentions_as_local() -> None:
    url = "https://example.org/" + "a" * 200
    assert mastodon_length(f"Read {url}.") == len("Read ") + 23 + 1
    assert mastodon_length("http://localhost is not a URL") == 29
    assert mastodon_length("hi @sam@example.social") == len("hi @sam")
    assert mastodon_length("mail ann@example.org") == 20  # an address is not a mention
    assert mastodon_length("text", spoiler_text="CW: ") == 8
    assert mastodon_length(url, characters_reserved_per_url=10) == 10


# --- Mastodon ---------------------------------------------------------------------------------


def m_post(fake: FakeMastodon, path: str, *, headers=None, **kw) -> requests.Response:
    headers = {**AUTH, **(headers or {})}
    return requests.post(f"{fake.url}{path}", headers=headers, timeout=TIMEOUT, **kw)


def m_get(fake: FakeMastodon, path: str, *, headers=None, **kw) -> requests.Response:
    headers = {**AUTH, **(headers or {})}
    return requests.get(f"{fake.url}{path}", headers=headers, timeout=TIMEOUT, **kw)


def upload(fake: FakeMastodon, description: str | None = "A chart", data=PNG, **kw):
    files = {"file": ("chart.png", data, kw.pop("mime", "image/png"))}
    fields = {} if description is None else {"description": description}
    return m_post(fake, "/api/v2/media", files=files, data=fields, **kw)


def toot(fake: FakeMastodon, status: str = "Hello", **fields) -> requests.Response:
    headers = fields.pop("headers", None)
    return m_post(fake, "/api/v1/statuses", data={"status": status, **fields}, headers=headers)


def test_mastodon_instance_needs_no_auth_and_reports_the_limits(mastodon) -> None:
    response = requests.get(f"{mastodon.url}/api/v2/instance", timeout=TIMEOUT)
    assert response.status_code == 200
    body = response.json()
    assert body["domain"] == "social.example.org"
    assert body["configuration"]["statuses"] == {
        "max_characters": 500,
        "max_media_attachments": 4,
        "characters_reserved_per_url": 23,
    }
    media = body["configuration"]["media_attachments"]
    assert (media["description_limit"], media["image_size_limit"]) == (1500, 16777216)
    assert {"image/png", "image/jpeg", "video/mp4"} <= set(media["supported_mime_types"])
    v1 = requests.get(f"{mastodon.url}/api/v1/instance/", timeout=TIMEOUT).json()
    assert v1["uri"] == "social.example.org"
    assert v1["configuration"]["statuses"]["max_characters"] == 500


def test_mastodon_instance_follows_the_constructor() -> None:
    with FakeMastodon(max_characters=1000, characters_reserved_per_url=30) as fake:
        body = requests.get(f"{fake.url}/api/v2/instance", timeout=TIMEOUT).json()
    statuses = body["configuration"]["statuses"]
    assert (statuses["max_characters"], statuses["characters_reserved_per_url"]) == (1000, 30)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/accounts/verify_credentials"),
        ("POST", "/api/v1/statuses"),
        ("POST", "/api/v2/media"),
        ("GET", "/api/v1/notifications"),
    ],
)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
def test_mastodon_refuses_a_missing_or_wrong_token(mastodon, method, path, headers) -> None:
    response = requests.request(
        method, f"{mastodon.url}{path}", headers=headers, data={"status": "x"}, timeout=TIMEOUT
    )
    assert response.status_code == 401
    assert response.json() == {"error": "The access token is invalid"}
    assert mastodon.statuses == []


def test_mastodon_verify_credentials(mastodon) -> None:
    response = m_get(mastodon, "/api/v1/accounts/verify_credentials")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("id", "username", "acct")} == {
        "id": "1",
        "username": "engage",
        "acct": "engage",
    }


def test_mastodon_unknown_route_is_404(mastodon) -> None:
    response = m_get(mastodon, "/api/v1/nothing")
    assert (response.status_code, response.json()) == (404, {"error": "Record not found"})


def test_mastodon_media_upload_records_the_alt_text(mastodon) -> None:
    response = upload(mastodon, "Bar chart: volunteers doubled to 40 in 2026")
    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"\d{15,}", body["id"])
    assert body["type"] == "image"
    assert body["description"] == "Bar chart: volunteers doubled to 40 in 2026"
    assert body["url"].startswith("https://social.example.org/")
    [media] = mastodon.media
    assert media == {
        "id": body["id"],
        "type": "image",
        "mime_type": "image/png",
        "filename": "chart.png",
        "size": len(PNG),
        "description": "Bar chart: volunteers doubled to 40 in 2026",
        "status_id": None,
    }


def test_mastodon_media_upload_sniffs_an_octet_stream_and_allows_no_description(mastodon):
    response = upload(mastodon, None, JPEG, mime="application/octet-stream")
    assert response.status_code == 200
    assert response.json()["description"] is None
    assert mastodon.media[0]["mime_type"] == "image/jpeg"


def test_mastodon_video_upload_answers_202(mastodon) -> None:
    video = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32
    response = upload(mastodon, "A short clip", video, mime="video/mp4")
    assert response.status_code == 202
    assert (response.json()["type"], response.json()["url"]) == ("video", None)
    media_id = response.json()["id"]
    fetched = m_get(mastodon, f"/api/v1/media/{media_id}")
    assert fetched.status_code == 200 and fetched.json()["url"]


def test_mastodon_media_upload_refusals(mastodon) -> None:
    missing = m_post(mastodon, "/api/v2/media", data={"description": "no file"})
    assert missing.status_code == 422
    assert missing.json() == {"error": "Validation failed: File can't be blank"}
    too_long = upload(mastodon, "x" * 1501)
    assert too_long.status_code == 422
    assert too_long.json() == {
        "error": "Validation failed: Description is too long (maximum is 1500 characters)"
    }
    wrong_type = upload(mastodon, "a pdf", b"%PDF-1.4", mime="application/pdf")
    assert wrong_type.status_code == 422
    assert wrong_type.json() == {"error": "Validation failed: File content type is invalid"}
    assert mastodon.media == []
    assert upload(mastodon, "x" * 1500).status_code == 200


def test_mastodon_alt_text_can_be_changed_until_posted(mastodon) -> None:
    media_id = upload(mastodon, "first").json()["id"]
    response = requests.put(
        f"{mastodon.url}/api/v1/media/{media_id}",
        data={"description": "second"},
        headers=AUTH,
        timeout=TIMEOUT,
    )
    assert (response.status_code, response.json()["description"]) == (200, "second")
    assert toot(mastodon, "Look", **{"media_ids[]": [media_id]}).status_code == 200
    assert mastodon.statuses[0]["media"][0]["description"] == "second"
    after = requests.put(
        f"{mastodon.url}/api/v1/media/{media_id}",
        data={"description": "third"},
        headers=AUTH,
        timeout=TIMEOUT,
    )
    assert (after.status_code, after.json()) == (404, {"error": "Record not found"})


def test_mastodon_posts_a_status_with_media_as_a_form(mastodon) -> None:
    first = upload(mastodon, "Photo of the food bank shelves").json()["id"]
    second = upload(mastodon, "Volunteers packing boxes").json()["id"]
    response = toot(
        mastodon,
        "Thank you! Read more: https://example.org/report & share",
        **{
            "media_ids[]": [first, second],
            "visibility": "unlisted",
            "language": "en",
            "spoiler_text": "",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"https://social\.example\.org/@engage/\d+", body["url"])
    assert body["url"].endswith("/" + body["id"])
    assert body["content"] == (
        '<p>Thank you! Read more: <a href="https://example.org/report" target="_blank" '
        'rel="nofollow noopener noreferrer">https://example.org/report</a> &amp; share</p>'
    )
    assert body["in_reply_to_id"] is None
    assert [m["id"] for m in body["media_attachments"]] == [first, second]
    assert body["media_attachments"][0]["description"] == "Photo of the food bank shelves"
    assert (body["visibility"], body["language"]) == ("unlisted", "en")
    assert datetime.fromisoformat(body["created_at"].replace("Z", "+00:00")).tzinfo
    [status] = mastodon.statuses
    assert status["id"] == body["id"]
    assert status["text"] == "Thank you! Read more: https://example.org/report & share"
    assert [(m["id"], m["description"]) for m in status["media"]] == [
        (first, "Photo of the food bank shelves"),
        (second, "Volunteers packing boxes"),
    ]
    assert {m["status_id"] for m in mastodon.media} == {body["id"]}


def test_mastodon_posts_a_status_as_json(mastodon) -> None:
    media_id = upload(mastodon, "Logo").json()["id"]
    response = m_post(
        mastodon,
        "/api/v1/statuses",
        json={"status": "Line one\nLine two\n\nPara", "media_ids": [media_id], "sensitive": True},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["content"] == "<p>Line one<br />Line two</p><p>Para</p>"
    assert body["sensitive"] is True
    assert mastodon.statuses[0]["media"][0]["description"] == "Logo"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("cy", "cy"),
        ("en-GB", "en"),  # Mastodon keeps ISO 639 codes without the region
        ("pt_BR", "pt"),
        ("sco", "sco"),  # one of the ISO 639-3 codes it knows
        ("xx", "en"),  # a code it does not know: the account's language, not an error
        ("Welsh", "en"),
        ("", "en"),
    ],
)
def test_mastodon_keeps_a_status_language_as_mastodon_does(mastodon, sent, kept) -> None:
    response = toot(mastodon, "Diolch", language=sent)
    assert response.status_code == 200
    assert response.json()["language"] == kept
    assert mastodon.statuses[0]["language"] == kept


def test_mastodon_status_without_a_language_gets_the_accounts(mastodon) -> None:
    assert toot(mastodon, "Hello").json()["language"] == "en"


def test_mastodon_character_limit(mastodon) -> None:
    assert toot(mastodon, "a" * 500).status_code == 200
    response = toot(mastodon, "a" * 501)
    assert response.status_code == 422
    assert response.json() == {"error": "Validation failed: Text character limit of 500 exceeded"}
    # The content warning counts too.
    assert toot(mastodon, "a" * 490, spoiler_text="b" * 11).status_code == 422
    # A URL counts 23 however long; an emoji ZWJ sequence counts 1.
    long_url = "https://example.org/" + "p" * 600
    assert toot(mastodon, "a" * 476 + " " + long_url).status_code == 200
    assert toot(mastodon, "a" * 477 + " " + long_url).status_code == 422
    assert toot(mastodon, "👨\u200d👩\u200d👧\u200d👦" * 500).status_code == 200
    assert len(mastodon.statuses) == 3


def test_mastodon_character_limit_follows_the_constructor() -> None:
    with FakeMastodon(max_characters=50) as fake:
        assert toot(fake, "a" * 50).status_code == 200
        response = toot(fake, "a" * 51)
    assert response.status_code == 422
    assert response.json() == {"error": "Validation failed: Text character limit of 50 exceeded"}


def test_mastodon_media_refusals(mastodon) -> None:
    ids = [upload(mastodon, f"image {i}").json()["id"] for i in range(5)]
    five = toot(mastodon, "Five", **{"media_ids[]": ids})
    assert (five.status_code, five.json()) == (422, {"error": "Cannot attach more than 4 files"})
    unknown = toot(mastodon, "Unknown", **{"media_ids[]": [ids[0], "999"]})
    assert unknown.status_code == 422
    assert unknown.json() == {"error": "Media 999 not found or already attached to another post"}
    assert toot(mastodon, "Four", **{"media_ids[]": ids[:4]}).status_code == 200
    again = toot(mastodon, "Again", **{"media_ids[]": [ids[0]]})
    assert again.status_code == 422
    assert again.json() == {
        "error": f"Media {ids[0]} not found or already attached to another post"
    }
    assert [s["text"] for s in mastodon.statuses] == ["Four"]


def test_mastodon_refuses_an_empty_status_but_not_media_alone(mastodon) -> None:
    response = toot(mastodon, "   ")
    assert response.status_code == 422
    assert response.json() == {"error": "Validation failed: Text can't be blank"}
    media_id = upload(mastodon).json()["id"]
    assert toot(mastodon, "", **{"media_ids[]": [media_id]}).status_code == 200


def test_mastodon_replies_need_an_existing_status(mastodon) -> None:
    missing = toot(mastodon, "Reply", in_reply_to_id="12345")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "The post you are trying to reply to does not appear to exist."
    }
    first = toot(mastodon, "1/2 A thread").json()
    second = toot(mastodon, "2/2 The end", in_reply_to_id=first["id"])
    assert second.status_code == 200
    assert second.json()["in_reply_to_id"] == first["id"]
    assert second.json()["in_reply_to_account_id"] == "1"
    assert [s["in_reply_to_id"] for s in mastodon.statuses] == [None, first["id"]]
    context = m_get(mastodon, f"/api/v1/statuses/{first['id']}/context").json()
    assert [s["id"] for s in context["descendants"]] == [second.json()["id"]]


def test_mastodon_idempotency_key_returns_the_same_status(mastodon) -> None:
    key = {"Idempotency-Key": "spring-appeal:mastodon:1"}
    first = toot(mastodon, "Our spring appeal", headers=key)
    again = toot(mastodon, "Our spring appeal", headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json() == first.json()
    assert len(mastodon.statuses) == 1
    assert mastodon.statuses[0]["idempotency_key"] == "spring-appeal:mastodon:1"
    other = toot(mastodon, "Our spring appeal", headers={"Idempotency-Key": "spring:2"})
    assert other.json()["id"] != first.json()["id"]
    assert len(mastodon.statuses) == 2


def test_mastodon_idempotency_key_of_a_refused_status_is_not_kept(mastodon) -> None:
    key = {"Idempotency-Key": "k-1"}
    assert toot(mastodon, "a" * 501, headers=key).status_code == 422
    response = toot(mastodon, "short", headers=key)
    assert response.status_code == 200
    assert mastodon.statuses[0]["text"] == "short"


def test_mastodon_notifications_list_seeded_mentions(mastodon) -> None:
    ours = toot(mastodon, "Our news").json()["id"]
    first = mastodon.add_mention("sam@example.social", "@engage Great news!", ours)
    second = mastodon.add_mention("ann@other.example", "@engage hello")
    third = mastodon.add_mention("sam@example.social", "@engage more")
    response = m_get(mastodon, "/api/v1/notifications", params={"types[]": "mention"})
    assert response.status_code == 200
    body = response.json()
    assert [n["id"] for n in body] == [third, second, first]  # newest first
    mention = body[2]
    assert mention["type"] == "mention"
    assert mention["account"]["acct"] == "sam@example.social"
    assert mention["account"]["username"] == "sam"
    assert mention["status"]["in_reply_to_id"] == ours
    assert mention["status"]["content"] == "<p>@engage Great news!</p>"
    assert body[1]["status"]["in_reply_to_id"] is None
    assert body[0]["account"]["id"] == mention["account"]["id"]
    assert 'rel="next"' in response.headers["Link"]
    since = m_get(mastodon, "/api/v1/notifications", params={"since_id": first, "limit": 1})
    assert [n["id"] for n in since.json()] == [third]
    assert m_get(mastodon, "/api/v1/notifications", params={"since_id": third}).json() == []
    others = m_get(mastodon, "/api/v1/notifications", params={"types[]": "follow"}).json()
    assert others == []
    request = mastodon.requests[-1]
    assert request.query == [("types[]", "follow")]


def test_mastodon_can_reply_to_a_mention(mastodon) -> None:
    mastodon.add_mention("sam@example.social", "@engage When is the next event?")
    [notification] = m_get(mastodon, "/api/v1/notifications").json()
    reply = toot(
        mastodon, "@sam@example.social Saturday!", in_reply_to_id=notification["status"]["id"]
    )
    assert reply.status_code == 200
    assert reply.json()["in_reply_to_account_id"] == notification["account"]["id"]


def test_mastodon_add_mention_needs_a_known_status(mastodon) -> None:
    with pytest.raises(ValueError, match="no status 42"):
        mastodon.add_mention(in_reply_to_id="42")


def test_mastodon_rate_limit(mastodon) -> None:
    mastodon.fail_next(429, retry_after=60)
    response = toot(mastodon, "Hello")
    assert response.status_code == 429
    assert response.json() == {"error": "Too many requests"}
    assert response.headers["X-RateLimit-Remaining"] == "0"
    reset = datetime.fromisoformat(response.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    assert 50 < (reset - datetime.now(UTC)).total_seconds() <= 60
    assert "Retry-After" not in response.headers
    assert mastodon.statuses == []
    assert toot(mastodon, "Hello").status_code == 200


def test_mastodon_own_statuses_newest_first(mastodon) -> None:
    ids = [toot(mastodon, f"Post {i}").json()["id"] for i in range(3)]
    body = m_get(mastodon, "/api/v1/accounts/1/statuses", params={"limit": 2}).json()
    assert [s["id"] for s in body] == [ids[2], ids[1]]


# --- Bluesky ----------------------------------------------------------------------------------


def xrpc(fake: FakeBluesky, nsid: str, token: str | None = None, **kw) -> requests.Response:
    headers = kw.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    method = "GET" if "params" in kw or kw.pop("get", False) else "POST"
    return requests.request(
        method, f"{fake.url}/xrpc/{nsid}", headers=headers, timeout=TIMEOUT, **kw
    )


def login(fake: FakeBluesky) -> dict:
    response = xrpc(
        fake,
        "com.atproto.server.createSession",
        json={"identifier": HANDLE, "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    return response.json()


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def record(text: str = "Hello", **extra) -> dict:
    return {"$type": "app.bsky.feed.post", "text": text, "createdAt": now(), **extra}


def create(fake: FakeBluesky, token: str, rec: dict | None = None, **body) -> requests.Response:
    payload = {"repo": DID, "collection": "app.bsky.feed.post", "record": rec or record(), **body}
    return xrpc(fake, "com.atproto.repo.createRecord", token, json=payload)


def upload_blob(fake: FakeBluesky, token: str, data: bytes = PNG, mime="image/png"):
    return xrpc(
        fake, "com.atproto.repo.uploadBlob", token, data=data, headers={"Content-Type": mime}
    )


def link_facet(start: int, end: int, uri: str = "https://example.org") -> dict:
    return {
        "index": {"byteStart": start, "byteEnd": end},
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
    }


def invalid(message: str) -> dict:
    return {"error": "InvalidRequest", "message": f"Invalid app.bsky.feed.post record: {message}"}


def jwt_payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_bluesky_create_session(bluesky) -> None:
    session = login(bluesky)
    assert {k: session[k] for k in ("did", "handle", "active")} == {
        "did": DID,
        "handle": HANDLE,
        "active": True,
    }
    assert jwt_payload(session["accessJwt"])["sub"] == DID
    assert jwt_payload(session["accessJwt"])["exp"] > time.time()
    assert jwt_payload(session["refreshJwt"])["scope"] == "com.atproto.refresh"
    assert session["didDoc"]["service"][0]["serviceEndpoint"] == bluesky.url
    by_did = xrpc(
        bluesky, "com.atproto.server.createSession", json={"identifier": DID, "password": PASSWORD}
    )
    assert by_did.status_code == 200
    assert bluesky.sessions_created == 2
    got = xrpc(bluesky, "com.atproto.server.getSession", session["accessJwt"], get=True)
    assert (got.status_code, got.json()["did"]) == (200, DID)


@pytest.mark.parametrize(
    "body",
    [
        {"identifier": HANDLE, "password": "wrong"},
        {"identifier": "someone.else.org", "password": PASSWORD},
    ],
)
def test_bluesky_create_session_refuses_bad_credentials(bluesky, body) -> None:
    response = xrpc(bluesky, "com.atproto.server.createSession", json=body)
    assert response.status_code == 401
    assert response.json() == {
        "error": "AuthenticationRequired",
        "message": "Invalid identifier or password",
    }
    assert bluesky.sessions_created == 0


def test_bluesky_create_session_needs_both_fields(bluesky) -> None:
    response = xrpc(bluesky, "com.atproto.server.createSession", json={"identifier": HANDLE})
    assert response.status_code == 400
    assert response.json() == {
        "error": "InvalidRequest",
        "message": 'Input must have the property "password"',
    }


def test_bluesky_limits_sessions_per_five_minutes() -> None:
    with FakeBluesky(session_limit=2) as fake:
        login(fake)
        login(fake)
        response = xrpc(
            fake,
            "com.atproto.server.createSession",
            json={"identifier": HANDLE, "password": PASSWORD},
        )
        assert response.status_code == 429
        assert response.json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
        assert response.headers["RateLimit-Policy"] == "2;w=300"
        assert int(response.headers["RateLimit-Reset"]) > time.time()
        assert fake.sessions_created == 2


def test_bluesky_calls_need_an_access_token(bluesky) -> None:
    session = login(bluesky)
    missing = create(bluesky, None)
    assert missing.status_code == 401
    assert missing.json() == {"error": "AuthMissing", "message": "Authentication Required"}
    unknown = create(bluesky, "not-a-token")
    assert unknown.status_code == 400
    assert unknown.json() == {"error": "InvalidToken", "message": "Token could not be verified"}
    refresh_as_access = create(bluesky, session["refreshJwt"])
    assert refresh_as_access.status_code == 400
    assert refresh_as_access.json() == {"error": "InvalidToken", "message": "Bad token scope"}
    listing = xrpc(bluesky, "app.bsky.notification.listNotifications", params={})
    assert listing.status_code == 401
    assert bluesky.posts == []


def test_bluesky_expired_tokens_are_refreshed(bluesky) -> None:
    session = login(bluesky)
    assert create(bluesky, session["accessJwt"]).status_code == 200
    bluesky.expire_tokens()
    expired = create(bluesky, session["accessJwt"])
    assert expired.status_code == 400
    assert expired.json() == {"error": "ExpiredToken", "message": "Token has expired"}
    wrong_kind = xrpc(bluesky, "com.atproto.server.refreshSession", session["accessJwt"])
    assert wrong_kind.status_code == 400
    refreshed = xrpc(bluesky, "com.atproto.server.refreshSession", session["refreshJwt"])
    assert refreshed.status_code == 200
    fresh = refreshed.json()
    assert fresh["did"] == DID
    assert fresh["accessJwt"] != session["accessJwt"]
    assert fresh["refreshJwt"] != session["refreshJwt"]
    assert create(bluesky, fresh["accessJwt"]).status_code == 200
    reused = xrpc(bluesky, "com.atproto.server.refreshSession", session["refreshJwt"])
    assert reused.status_code == 400
    assert reused.json() == {"error": "ExpiredToken", "message": "Token has been revoked"}
    assert (bluesky.sessions_created, bluesky.sessions_refreshed) == (1, 1)
    assert len(bluesky.posts) == 2


def test_bluesky_expired_refresh_tokens_need_a_new_session(bluesky) -> None:
    session = login(bluesky)
    bluesky.expire_tokens(refresh=True)
    response = xrpc(bluesky, "com.atproto.server.refreshSession", session["refreshJwt"])
    assert response.status_code == 400
    assert response.json() == {"error": "ExpiredToken", "message": "Token has expired"}
    assert create(bluesky, login(bluesky)["accessJwt"]).status_code == 200


def test_bluesky_upload_blob(bluesky) -> None:
    token = login(bluesky)["accessJwt"]
    response = upload_blob(bluesky, token)
    assert response.status_code == 200
    blob = response.json()["blob"]
    assert blob["$type"] == "blob"
    assert re.fullmatch(r"bafkrei[a-z2-7]{52}", blob["ref"]["$link"])
    assert (blob["mimeType"], blob["size"]) == ("image/png", len(PNG))
    assert bluesky.blobs[0]["data"] == PNG


def test_bluesky_upload_blob_refusals(bluesky) -> None:
    token = login(bluesky)["accessJwt"]
    assert upload_blob(bluesky, token, b"\x00" * 2_000_000).status_code == 200
    big = upload_blob(bluesky, token, b"\x00" * 2_000_001)
    assert big.status_code == 400
    assert big.json()["error"] == "BlobTooLarge"
    untyped = requests.post(
        f"{bluesky.url}/xrpc/com.atproto.repo.uploadBlob",
        data=PNG,
        headers={"Authorization": f"Bearer {token}", "Content-Type": ""},
        timeout=TIMEOUT,
    )
    assert untyped.status_code == 400
    assert len(bluesky.blobs) == 1


def test_bluesky_create_record(bluesky) -> None:
    token = login(bluesky)["accessJwt"]
    response = create(bluesky, token, record("Hello from engage", langs=["en"]))
    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"at://did:plc:engage/app\.bsky\.feed\.post/[2-7a-z]{13}", body["uri"])
    assert re.fullmatch(r"bafyrei[a-z2-7]{52}", body["cid"])
    [post] = bluesky.posts
    assert (post["uri"], post["cid"], post["text"]) == (
        body["uri"],
        body["cid"],
        "Hello from engage",
    )
    assert (post["langs"], post["facets"], post["images"], post["reply"]) == (["en"], [], [], None)
    listed = xrpc(
        bluesky,
        "com.atproto.repo.listRecords",
        params={"repo": DID, "collection": "app.bsky.feed.post"},
    ).json()
    assert [r["uri"] for r in listed["records"]] == [body["uri"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"repo": "did:plc:someone"}, "Could not find repo: did:plc:someone"),
        ({"repo": HANDLE}, f"Could not find repo: {HANDLE}"),
    ],
)
def test_bluesky_create_record_checks_the_repo(bluesky, change, message) -> None:
    response = create(bluesky, login(bluesky)["accessJwt"], **change)
    assert response.status_code == 400
    assert response.json() == {"error": "InvalidRequest", "message": message}


@pytest.mark.parametrize(
    ("rec", "message"),
    [
        (
            {"text": "no type", "createdAt": "2026-11-05T10:00:00Z"},
            "Invalid $type: expected app.bsky.feed.post, got undefined",
        ),
        (
            {"$type": "app.bsky.feed.like", "text": "x", "createdAt": "2026-11-05T10:00:00Z"},
            "Invalid $type: expected app.bsky.feed.post, got app.bsky.feed.like",
        ),
        (
            {"$type": "app.bsky.feed.post", "createdAt": "2026-11-05T10:00:00Z"},
            'Record must have the property "text"',
        ),
        ({"$type": "app.bsky.feed.post", "text": "x"}, 'Record must have the property "createdAt"'),
        (
            {"$type": "app.bsky.feed.post", "text": "x", "createdAt": "2026-11-05 10:00"},
            "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)",
        ),
        (
            {"$type": "app.bsky.feed.post", "text": "x", "createdAt": "2026-11-05T10:00:00"},
            "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)",
        ),
        (
            {"$type": "app.bsky.feed.post", "text": 5, "createdAt": "2026-11-05T10:00:00Z"},
            "Record/text must be a string",
        ),
    ],
)
def test_bluesky_create_record_checks_the_record(bluesky, rec, message) -> None:
    response = create(bluesky, login(bluesky)["accessJwt"], rec)
    assert response.status_code == 400
    assert response.json() == invalid(message)
    assert bluesky.posts == []


@pytest.mark.parametrize("langs", [["cy"], ["en-GB", "cy"], ["zh-Hant-TW"], ["x-private"]])
def test_bluesky_takes_bcp_47_langs(bluesky, langs) -> None:
    response = create(bluesky, login(bluesky)["accessJwt"], record("Diolch", langs=langs))
    assert response.status_code == 200, response.text
    assert bluesky.posts[0]["langs"] == langs


@pytest.mark.parametrize(
    ("langs", "message"),
    [
        (["en_GB"], "Record/langs/0 must be a well-formed BCP 47 language tag"),
        (["cy", "Welsh language"], "Record/langs/1 must be a well-formed BCP 47 language tag"),
        ([""], "Record/langs/0 must be a well-formed BCP 47 language tag"),
        (["cy", "en", "fr", "de"], "Record/langs must not have more than 3 elements"),
        ("cy", "Record/langs must be an array of strings"),
    ],
)
def test_bluesky_refuses_langs_that_are_not_bcp_47(bluesky, langs, message) -> None:
    response = create(bluesky, login(bluesky)["accessJwt"], record("Diolch", langs=langs))
    assert (response.status_code, response.json()) == (400, invalid(message))
    assert bluesky.posts == []


def test_bluesky_text_limits(bluesky) -> None:
    token = login(bluesky)["accessJwt"]
    assert create(bluesky, token, record("a" * 300)).status_code == 200
    assert create(bluesky, token, record("🎉" * 300)).status_code == 200  # 1,200 bytes
    graphemes = create(bluesky, token, record("a" * 301))
    assert graphemes.status_code == 400
    assert graphemes.json() == invalid("Record/text must not be longer than 300 graphemes")
    family = "👨\u200d👩\u200d👧\u200d👦"  # 1 grapheme, 25 bytes
    too_many_bytes = create(bluesky, token, record(family * 121))
    assert too_many_bytes.status_code == 400
    assert too_many_bytes.json() == invalid("Record/text must not be longer than 3000 characters")
    assert create(bluesky, token, record(family * 120)).status_code == 200  # 3,000 bytes
    assert len(bluesky.posts) == 3


def test_bluesky_facet_after_an_emoji_uses_utf8_byte_offsets(bluesky) -> None:
    token = login(bluesky)["accessJwt"]
    text = "Hello 🎉 https://example.org #Volunteering"
    start = len("Hello 🎉 ".encode())
    assert start == 11  # 6 + 4-byte emoji + 1; 8 code points, 9 UTF-16 units
    facets = [
        link_facet(start, start + len("https://example.org")),
        {
            "index": {"byteStart": 31, "byteEnd": 44},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Volunteering"}],
        },
    ]
    response = create(bluesky, token, record(text, facets=facets))
    assert response.status_code == 200, response.text
    [post] = bluesky.posts
    assert [f["text"] for f in post["facets"]] == ["https://example.org", "#Volunteering"]
    assert post["facets"][0]["features"] == facets[0]["features"]
    assert post["facets"][0]["index"] == {"byteStart": 11, "byteEnd": 30}


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (
            8,
            27,
            "Record/facets/0/index (8-27) splits a UTF-8 character: offsets are UTF-8 byte offsets",
        ),
        (
            9,
            28,
            "Record/facets/0/index (9-28) splits a UTF-8 character: offsets are UTF-8 byte offsets",
        ),
        (11, 31, "Record/facets/0/index/byteEnd (31) is past the end of the text (30 UTF-8 bytes)"),
        (
            10,
            30,
            "Record/facets/0/index (10-30) spans leading or trailing whitespace: ' https://example.org'",
        ),
        (30, 11, "Record/facets/0/index/byteStart (30) must be less than byteEnd (11)"),
        (-1, 5, "Record/facets/0/index/byteStart can not be less than 0"),
    ],
)
def test_bluesky_refuses_wrong_facet_offsets(bluesky, start, end, message) -> None:
    token = login(bluesky)["accessJwt"]
    text = "Hello 🎉 https://example.org"
    response = create(bluesky, token, record(text, facets=[link_facet(start, end)]))
    assert response.status_code == 400
    assert response.json() == invalid(message)
    assert bluesky.posts == []


@pytest.mark.parametrize(
    ("facets", "message"),
    [
        (
            [link_facet(0, 11), link_facet(6, 11)],
            "Record/facets/1 overlaps Record/facets/0",
        ),
        (
            [{"index": {"byteStart": 0, "byteEnd": 4}}],
            'Record/facets/0 must have the property "features"',
        ),
        (
            [{"index": {"byteStart": 0}, "features": []}],
            'Record/facets/0/index must have the property "byteEnd"',
        ),
        (
            [{"index": {"byteStart": 0, "byteEnd": 4}, "features": [{"$type": "x#bold"}]}],
            "Record/facets/0/features/0/$type must be one of app.bsky.richtext.facet#link, "
            "app.bsky.richtext.facet#mention, app.bsky.richtext.facet#tag (got 'x#bold')",
        ),
        (
            [
                {
                    "index": {"byteStart": 0, "byteEnd": 4},
                    "features": [{"$type": "app.bsky.richtext.facet#link"}],
                }
            ],
            'Record/facets/0/features/0 must have the property "uri"',
        ),
        (
            [link_facet(0, 4, uri="not a uri")],
            "Record/facets/0/features/0/uri must be a uri",
        ),
        (
            [
                {
                    "index": {"byteStart": 12, "byteEnd": 16},
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "sam"}],
                }
            ],
            "Record/facets/0/features/0/did must be a valid did",
        ),
        (
            [
                {
                    "index": {"byteStart": 0, "byteEnd": 4},
                    "features": [
                        {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:sam"}
                    ],
                }
            ],
            "Record/facets/0/features/0: a mention facet must span the @handle, not 'Read'",
        ),
        (
            [
                {
                    "index": {"byteStart": 17, "byteEnd": 22},
                    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "#News"}],
                }
            ],
            "Record/facets/0/features/0/tag must be the tag without its #",
        ),
        (
            [
                {
                    "index": {"byteStart": 5, "byteEnd": 11},
                    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "News"}],
                }
            ],
            "Record/facets/0/features/0: a tag facet must span #News, not 'report'",
        ),
    ],
)
def test_bluesky_refuses_bad_facets(bluesky, facets, message) -> None:
    token = login(bluesky)["accessJwt"]
    response = create(bluesky, token, record("Read report @sam #News", facets=facets))
    assert response.status_code == 400
    assert response.json() == invalid(message)


def test_bluesky_mention_facet_with_a_resolved_handle(bluesky) -> None:
    bluesky.add_handle("sam.example.social", "did:plc:sam")
    resolved = xrpc(
        bluesky, "com.atproto.identity.resolveHandle", params={"handle": "sam.example.social"}
    )
    assert (resolved.status_code, resolved.json()) == (200, {"did": "did:plc:sam"})
    token = login(bluesky)["accessJwt"]
    text = "Thanks @sam.example.social ❤️"
    start = text.index("@")
    facet = {
        "index": {"byteStart": start, "byteEnd": start + len("@sam.example.social")},
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:sam"}],
    }
    assert create(bluesky, token, record(text, facets=[facet])).status_code == 200
    assert bluesky.posts[0]["facets"][0]["text"] == "@sam.example.social"


def test_bluesky_resolve_handle(bluesky) -> None:
    own = xrpc(bluesky, "com.atproto.identity.resolveHandle", params={"handle": HANDLE})
    assert own.json() == {"did": DID}
    unknown = xrpc(bluesky, "com.atproto.identity.resolveHandle", params={"handle": "no.one"})
    assert unknown.status_code == 400
    assert unknown.json() == {"error": "InvalidRequest", "message": "Unable to resolve handle"}
    missing = xrpc(bluesky, "com.atproto.identity.resolveHandle", params={})
    assert missing.status_code == 400
    assert missing.json()["message"] == 'Params must have the property "handle"'


def images_embed(blobs: list[dict], alt: str | None = "A photo") -> dict:
    images = []
    for blob in blobs:
        image = {"image": blob, "aspectRatio": {"width": 4, "height": 3}}
        if alt is not None:
            image["alt"] = alt
        images.append(image)
    return {"$type": "app.bsky.embed.images", "images": images}


def test_bluesky_images_need_alt_text_and_uploaded_blobs(bluesky) -> None:
    token = login(bluesky)["accessJwt"]
    blobs = [upload_blob(bluesky, token, PNG + bytes([i])).json()["blob"] for i in range(5)]
    four = create(bluesky, token, record("Four", embed=images_embed(blobs[:4], "Volunteers")))
    assert four.status_code == 200
    assert bluesky.posts[0]["images"] == [
        {
            "alt": "Volunteers",
            "cid": blob["ref"]["$link"],
            "mimeType": "image/png",
            "size": blob["size"],
            "aspectRatio": {"width": 4, "height": 3},
        }
        for blob in blobs[:4]
    ]
    five = create(bluesky, token, record("Five", embed=images_embed(blobs)))
    assert five.status_code == 400
    assert five.json() == invalid("Record/embed/images must not have more than 4 elements")
    no_alt = create(bluesky, token, record("No alt", embed=images_embed(blobs[:1], None)))
    assert no_alt.status_code == 400
    assert no_alt.json() == invalid('Record/embed/images/0 must have the property "alt"')
    stranger = {**blobs[0], "ref": {"$link": "bafkreinotuploadedhere"}}
    unknown = create(bluesky, token, record("Unknown", embed=images_embed([stranger])))
    assert unknown.status_code == 400
    assert unknown.json() == {
        "error": "BlobNotFound",
        "message": "Could not find blob: bafkreinotuploadedhere",
    }
    text_blob = upload_blob(bluesky, token, b"hello", "text/plain").json()["blob"]
    wrong = create(bluesky, token, record("Text", embed=images_embed([text_blob])))
    assert (wrong.status_code, wrong.json()["error"]) == (400, "InvalidMimeType")
    assert len(bluesky.posts) == 1


def test_bluesky_replies_need_known_posts_and_the_thread_root(bluesky) -> None:
    token = login(bluesky)["accessJwt"]
    root = create(bluesky, token, record("1/3")).json()
    ref = {"uri": root["uri"], "cid": root["cid"]}
    second = create(bluesky, token, record("2/3", reply={"root": ref, "parent": ref}))
    assert second.status_code == 200
    parent = {"uri": second.json()["uri"], "cid": second.json()["cid"]}
    wrong_root = create(bluesky, token, record("3/3", reply={"root": parent, "parent": parent}))
    assert wrong_root.status_code == 400
    assert wrong_root.json() == invalid(
        f"Record/reply/root must be the root of the parent's thread ({root['uri']})"
    )
    third = create(bluesky, token, record("3/3", reply={"root": ref, "parent": parent}))
    assert third.status_code == 200
    ghost = {"uri": f"at://{DID}/app.bsky.feed.post/3zzzzzzzzzzzz", "cid": root["cid"]}
    unknown = create(bluesky, token, record("x", reply={"root": ghost, "parent": ghost}))
    assert unknown.status_code == 400
    assert unknown.json() == invalid(f"Record/reply/root is not a known post: {ghost['uri']}")
    stale = {"uri": root["uri"], "cid": "bafyreiwrong"}
    bad_cid = create(bluesky, token, record("x", reply={"root": stale, "parent": stale}))
    assert bad_cid.status_code == 400
    assert bad_cid.json() == invalid(
        f"Record/reply/root/cid is not the cid of {root['uri']} ({root['cid']})"
    )
    missing = create(bluesky, token, record("x", reply={"root": ref}))
    assert missing.json() == invalid('Record/reply must have the property "parent"')
    assert [p["reply"]["parent"]["uri"] if p["reply"] else None for p in bluesky.posts] == [
        None,
        root["uri"],
        second.json()["uri"],
    ]


def test_bluesky_notifications(bluesky) -> None:
    token = login(bluesky)["accessJwt"]
    ours = create(bluesky, token, record("Our news")).json()
    mention = bluesky.add_notification("mention", "sam.example.social", f"Look @{HANDLE}!")
    reply = bluesky.add_notification("reply", "ann.example.social", "Great!", ours["uri"])
    bluesky.add_notification("mention", "bob.example.social", f"@{HANDLE} hi")
    response = xrpc(
        bluesky,
        "app.bsky.notification.listNotifications",
        token,
        params={"reasons": ["mention", "reply"], "limit": 2},
    )
    assert response.status_code == 200
    body = response.json()
    assert [n["author"]["handle"] for n in body["notifications"]] == [
        "bob.example.social",
        "ann.example.social",
    ]
    assert body["cursor"]
    got_reply = body["notifications"][1]
    assert got_reply == reply
    assert got_reply["reason"] == "reply"
    assert got_reply["record"]["reply"] == {
        "root": {"uri": ours["uri"], "cid": ours["cid"]},
        "parent": {"uri": ours["uri"], "cid": ours["cid"]},
    }
    rest = xrpc(
        bluesky,
        "app.bsky.notification.listNotifications",
        token,
        params={"reasons": ["mention", "reply"], "limit": 2, "cursor": body["cursor"]},
    ).json()
    assert [n["uri"] for n in rest["notifications"]] == [mention["uri"]]
    assert "cursor" not in rest
    facet = mention["record"]["facets"][0]
    spanned = mention["record"]["text"].encode()[
        facet["index"]["byteStart"] : facet["index"]["byteEnd"]
    ]
    assert (spanned.decode(), facet["features"][0]["did"]) == (f"@{HANDLE}", DID)
    only_replies = xrpc(
        bluesky, "app.bsky.notification.listNotifications", token, params={"reasons": "reply"}
    ).json()
    assert [n["reason"] for n in only_replies["notifications"]] == ["reply"]
    assert bluesky.requests[-1].query == [("reasons", "reply")]
    # The seeded post can be replied to; its author's handle resolves.
    ref = {"uri": mention["uri"], "cid": mention["cid"]}
    answer = create(bluesky, token, record("Thanks!", reply={"root": ref, "parent": ref}))
    assert answer.status_code == 200
    resolved = xrpc(
        bluesky, "com.atproto.identity.resolveHandle", params={"handle": "sam.example.social"}
    )
    assert resolved.json() == {"did": mention["author"]["did"]}


def test_bluesky_add_notification_checks_its_arguments(bluesky) -> None:
    with pytest.raises(ValueError, match="needs reply_to_uri"):
        bluesky.add_notification("reply")
    with pytest.raises(ValueError, match="no post"):
        bluesky.add_notification("reply", reply_to_uri="at://did:plc:x/app.bsky.feed.post/1")
    with pytest.raises(ValueError, match="unsupported"):
        bluesky.add_notification("like")


def test_bluesky_rate_limit(bluesky) -> None:
    token = login(bluesky)["accessJwt"]
    bluesky.fail_next(429, retry_after=30)
    response = create(bluesky, token)
    assert response.status_code == 429
    assert response.json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
    assert 25 < int(response.headers["RateLimit-Reset"]) - time.time() <= 31
    assert response.headers["RateLimit-Remaining"] == "0"
    assert "Retry-After" not in response.headers
    assert bluesky.posts == []
    assert create(bluesky, token).status_code == 200


def test_bluesky_unknown_method_and_wrong_verb(bluesky) -> None:
    unknown = xrpc(bluesky, "app.bsky.feed.getTimeline", params={})
    assert unknown.status_code == 501
    assert unknown.json() == {"error": "MethodNotImplemented", "message": "Method Not Implemented"}
    wrong = xrpc(bluesky, "com.atproto.repo.createRecord", params={})
    assert wrong.status_code == 400
    assert wrong.json()["message"] == "Incorrect HTTP method (GET) expected POST"
