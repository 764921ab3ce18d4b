"""Fake Mastodon and Bluesky (AT Protocol PDS) APIs for tests and benchmarks.

Built on `FakeProvider` from `.providers`: a real HTTP server on 127.0.0.1 in a daemon thread,
`start()/stop()/url`, a context manager, `requests` (every request, oldest first),
`fail_next(status, retry_after, times)`, `hang_next(seconds, times)`, `reset()` and `delay`.
Each recorded request also gets a `query` attribute: the query string as (name, value) pairs.
Standard library only::

    with FakeMastodon(access_token="tok") as fake:
        requests.post(f"{fake.url}/api/v1/statuses", data={"status": "Hello"},
                      headers={"Authorization": "Bearer tok", "Idempotency-Key": "c1-m-1"})
        fake.statuses  # [{"id": ..., "text": "Hello", "media": [...], ...}]

    with FakeBluesky(handle="engage.example.org", password="app-pass-word") as fake:
        ...  # createSession, then createRecord with the accessJwt
        fake.posts  # [{"uri": ..., "text": ..., "facets": [{..., "text": "spanned"}], ...}]

The status codes and error bodies are the real servers' (Mastodon 4.x, the Bluesky PDS) where
they are known. Where the fake checks more than the real server does (facet offsets, reply
references, blobs) it answers in the same shape, and the docstrings say so.

Grapheme clusters are approximated (see `count_graphemes`): combining marks, ZWJ emoji
sequences, skin tones, variation selectors, tag sequences, flags (regional-indicator pairs),
CR LF and Hangul jamo join; prepended characters and Indic conjuncts do not.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
import secrets
import threading
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .providers import FakeProvider, RecordedRequest, Reply, json_reply

__all__ = ["FakeBluesky", "FakeMastodon", "count_graphemes", "mastodon_length"]


# --- text measuring ---------------------------------------------------------------------------

ZWJ = "\u200d"


def _extends(ch: str) -> bool:
    """Joins the cluster before it (Grapheme_Cluster_Break Extend, SpacingMark or ZWJ)."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or cp in (0x200C, 0x200D)
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors (emoji / text presentation)
        or 0x1F3FB <= cp <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tag characters (subdivision flags)
        or 0xE0100 <= cp <= 0xE01EF
    )


def _pictographic(ch: str) -> bool:
    cp = ord(ch)
    return unicodedata.category(ch) == "So" or 0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _hangul(ch: str) -> str | None:
    cp = ord(ch)
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    return None


_HANGUL_JOINS = {
    "L": ("L", "V", "LV", "LVT"),
    "LV": ("V", "T"),
    "V": ("V", "T"),
    "LVT": ("T",),
    "T": ("T",),
}


def count_graphemes(text: str) -> int:
    """User-perceived characters, approximating Unicode extended grapheme clusters (UAX #29):
    `"e\\u0301"`, `"👨‍👩‍👧‍👦"`, `"👍🏽"`, `"🇬🇧"` and `"\\r\\n"` each count 1. Not handled: Prepend
    characters and Indic conjunct clusters (they count per code point)."""
    count = 0
    prev = ""
    unpaired_flag = False  # the previous character is a regional indicator that starts a flag
    for ch in text:
        if not prev:
            joins = False
        elif prev == "\r" and ch == "\n":
            joins = True
        elif unicodedata.category(prev) == "Cc" or unicodedata.category(ch) == "Cc":
            joins = False
        elif (
            _extends(ch)
            or (prev == ZWJ and _pictographic(ch))  # emoji ZWJ sequences
            or (_regional(ch) and unpaired_flag)  # the second half of a flag
        ):
            joins = True
        else:
            before, after = _hangul(prev), _hangul(ch)
            joins = before is not None and after in _HANGUL_JOINS[before]
        if not joins:
            count += 1
        unpaired_flag = _regional(ch) and not unpaired_flag
        prev = ch
    return count


# A URL with a scheme and a dotted host, as twitter-text (which Mastodon uses) finds them.
_URL = re.compile(r"https?://[\w-]+(?:\.[\w-]+)+(?::\d+)?(?:[/?#][^\s<>\"]*)?", re.IGNORECASE)
# `@user@domain` counts as `@user` (Account::MENTION_RE).
_REMOTE_MENTION = re.compile(r"(?<![\w/])@([a-z0-9_]+)@[\w.-]*\w", re.IGNORECASE)


def _trim_url(url: str) -> str:
    """Drop trailing punctuation that ends a sentence rather than the URL."""
    while url and (url[-1] in ".,;:!?'\"" or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def mastodon_length(
    text: str, spoiler_text: str = "", characters_reserved_per_url: int = 23
) -> int:
    """What Mastodon's StatusLengthValidator counts: the content warning plus the text, where
    every http(s) URL counts `characters_reserved_per_url` and `@user@domain` counts as
    `@user`, in grapheme clusters (see `count_graphemes`). Approximates twitter-text's URL
    rule: a scheme and a dotted host (so not `http://localhost`), without trailing
    punctuation; bare domains count in full, as in Mastodon."""

    def placeholder(match: re.Match[str]) -> str:
        url = _trim_url(match[0])
        return "x" * characters_reserved_per_url + match[0][len(url) :]

    countable = _REMOTE_MENTION.sub(r"@\1", _URL.sub(placeholder, text))
    return count_graphemes(spoiler_text + countable)


# --- shared plumbing --------------------------------------------------------------------------


class _Refused(Exception):
    """An error answer, raised from deep in a check."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _now() -> datetime:
    return datetime.now(UTC)


def _iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return "application/octet-stream"


_PART_NAME = re.compile(rb'\bname="([^"]*)"', re.I)
_PART_FILENAME = re.compile(rb'\bfilename="([^"]*)"', re.I)
_PART_TYPE = re.compile(rb"^content-type:\s*([^\r\n;]+)", re.I | re.M)


def _multipart_files(content_type: str, raw: bytes) -> dict[str, tuple[str, str | None]]:
    """(filename, declared content type) of each file part of a multipart body, by name."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not found:
        return {}
    files = {}
    for chunk in raw.split(b"--" + found[1].encode("latin-1"))[1:-1]:
        head = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")[0]
        name, filename = _PART_NAME.search(head), _PART_FILENAME.search(head)
        if name and filename:
            kind = _PART_TYPE.search(head)
            declared = kind[1].decode("latin-1").strip().lower() if kind else None
            files[name[1].decode("utf-8")] = (filename[1].decode("utf-8"), declared)
    return files


class _SocialFake(FakeProvider):
    """FakeProvider plus the query string of each request (`request.query`)."""

    def __init__(self, api_key: str, *, delay: float = 0.0) -> None:
        self._local = threading.local()
        super().__init__(api_key, delay=delay)

    def _serve(self, handler: Any) -> None:
        self._local.query = parse_qsl(urlsplit(handler.path).query, keep_blank_values=True)
        super()._serve(handler)

    def _answer(self, request: RecordedRequest) -> Reply | None:
        request.query = list(getattr(self._local, "query", []))  # type: ignore[attr-defined]
        return super()._answer(request)

    @staticmethod
    def _query(request: RecordedRequest) -> list[tuple[str, str]]:
        return getattr(request, "query", [])


# --- Mastodon ---------------------------------------------------------------------------------

MASTODON_BAD_TOKEN = "The access token is invalid"
MASTODON_NOT_FOUND = "Record not found"
MASTODON_REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
MASTODON_MESSAGES = {429: "Too many requests"}
MASTODON_VISIBILITIES = ("public", "unlisted", "private", "direct")
MASTODON_MIME_TYPES = [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/heic",
    "image/heif",
    "image/webp",
    "image/avif",
    "video/webm",
    "video/mp4",
    "video/quicktime",
    "video/ogg",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-pn-wave",
    "audio/vnd.wave",
    "audio/ogg",
    "audio/vorbis",
    "audio/mpeg",
    "audio/mp3",
    "audio/webm",
    "audio/flac",
    "audio/aac",
    "audio/m4a",
    "audio/x-m4a",
    "audio/mp4",
    "audio/3gpp",
    "video/x-ms-asf",
]
# The languages a Mastodon status may be tagged with (LanguagesHelper::SUPPORTED_LOCALES):
# ISO 639-1 codes and a few ISO 639-3 ones.
_MASTODON_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gu gv ha he hi ho "
    "hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku "
    "kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn "
    "no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sn "
    "so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo "
    "wa wo xh yi yo za zh zu "
    "ast ckb cnr jbo kab kmr ldn lfn sco sma smj szl tai tok zba zgh"
)
MASTODON_LANGUAGES = frozenset(_MASTODON_CODES.split())


def mastodon_language(*choices: Any) -> str | None:
    """The language Mastodon stores on a new status (valid_locale_cascade): the first of
    `choices` (the `language` field, then the account's posting language, then the server's
    default) that is a code it knows, with any region dropped (en-GB → en). A code it does not
    know is not refused: the status quietly gets the next choice."""
    for choice in choices:
        code = re.split(r"[_-]", str(choice or ""))[0]
        if code in MASTODON_LANGUAGES:
            return code
    return None


_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "mp4", "image/webp": "webp"}


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "t", "on", "yes")


def _content_html(text: str) -> str:
    """The text as Mastodon renders it: paragraphs, line breaks, links."""

    def link(match: re.Match[str]) -> str:
        url = _trim_url(match[0])
        rest = match[0][len(url) :]
        return f'<a href="{url}" target="_blank" rel="nofollow noopener noreferrer">{url}</a>{rest}'

    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    rendered = [_URL.sub(link, html.escape(p)).replace("\n", "<br />") for p in paragraphs]
    return "".join(f"<p>{p}</p>" for p in rendered)


class FakeMastodon(_SocialFake):
    """A Mastodon server with one local account (`username`, id "1").

    Endpoints: `GET /api/v2/instance` and `/api/v1/instance` (no auth); with
    `Authorization: Bearer <access_token>` (else 401 {"error": "The access token is invalid"}):
    `GET /api/v1/accounts/verify_credentials`, `POST /api/v2/media` (200 for images, 202 for
    video/audio) and `/api/v1/media`, `GET|PUT /api/v1/media/:id`, `POST /api/v1/statuses`
    (form, multipart or JSON; `Idempotency-Key`), `GET /api/v1/statuses/:id`,
    `GET /api/v1/statuses/:id/context`, `GET /api/v1/accounts/:id/statuses`,
    `GET /api/v1/notifications`. Errors are {"error": message}; unknown routes and records 404
    {"error": "Record not found"}. `fail_next(429, ...)` answers {"error": "Too many requests"}
    with X-RateLimit-Limit/Remaining/Reset (ISO 8601), as Mastodon does (no Retry-After).

    A status's `language` is kept as Mastodon keeps it (`mastodon_language`): ISO 639 codes
    only, any region dropped (en-GB is en), and a code it does not know quietly replaced by the
    account's own language (`default_language`), never refused.

    Seed incoming mentions with `add_mention(...)`; read what was posted in `statuses` and
    what was uploaded in `media`."""

    name = "mastodon"
    DESCRIPTION_LIMIT = 1500
    IMAGE_SIZE_LIMIT = 16 * 1024 * 1024
    VIDEO_SIZE_LIMIT = 99 * 1024 * 1024
    IDEMPOTENCY_SECONDS = 3600
    NOTIFICATIONS_DEFAULT, NOTIFICATIONS_MAX = 40, 80
    STATUSES_DEFAULT, STATUSES_MAX = 20, 40
    # The account's posting language (and the server's default): what a status gets when
    # its `language` is missing or not a code Mastodon knows.
    default_language = "en"

    def __init__(
        self,
        access_token: str = "tok",
        max_characters: int = 500,
        characters_reserved_per_url: int = 23,
        *,
        max_media_attachments: int = 4,
        domain: str = "social.example.org",
        username: str = "engage",
        delay: float = 0.0,
    ) -> None:
        self.access_token = access_token
        self.max_characters = max_characters
        self.characters_reserved_per_url = characters_reserved_per_url
        self.max_media_attachments = max_media_attachments
        self.domain = domain
        self.username = username
        self._last_snowflake = 0
        super().__init__(access_token, delay=delay)

    # --- state ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget requests, statuses, media, notifications, idempotency keys, queued failures."""
        super().reset()
        with self._lock:
            self._statuses: dict[str, dict[str, Any]] = {}  # every status, ours and seeded
            self._posted: list[dict[str, Any]] = []  # ours, as recorded for tests
            self._media: dict[str, dict[str, Any]] = {}
            self._notifications: list[dict[str, Any]] = []
            self._idempotency: dict[str, tuple[str, float]] = {}
            self._accounts: dict[str, dict[str, Any]] = {"1": self._own_account()}
            self._notification_seq = 0

    @property
    def statuses(self) -> list[dict[str, Any]]:
        """Statuses created through the API, oldest first (copies). Each: id, url, text,
        spoiler_text, visibility, language, sensitive, in_reply_to_id, idempotency_key,
        created_at, and media: [{id, type, mime_type, filename, size, description}] with the
        alt text each attachment had when the status was posted."""
        with self._lock:
            return [{**s, "media": [dict(m) for m in s["media"]]} for s in self._posted]

    @property
    def media(self) -> list[dict[str, Any]]:
        """Every uploaded attachment, oldest first: id, type, mime_type, filename, size,
        description, status_id (None until attached)."""
        with self._lock:
            return [self._media_record(m) for m in self._media.values()]

    @property
    def notifications(self) -> list[dict[str, Any]]:
        """The seeded notifications as the API shows them, oldest first."""
        with self._lock:
            return [self._notification_entity(n) for n in self._notifications]

    def add_mention(
        self,
        account: str = "sam@example.social",
        text: str = "@engage Thank you!",
        in_reply_to_id: str | None = None,
        *,
        visibility: str = "public",
    ) -> str:
        """Someone (`user@domain`) mentions our account, optionally in reply to one of the
        statuses: a remote status and a `mention` notification. Returns the notification id;
        the status is that notification's `status` (reply to it with its id)."""
        username, _, remote = account.lstrip("@").partition("@")
        remote = remote or self.domain
        with self._lock:
            if in_reply_to_id is not None and str(in_reply_to_id) not in self._statuses:
                raise ValueError(f"no status {in_reply_to_id} to reply to")
            account_id = self._account_for(username, remote)
            status_id = self._snowflake()
            url = f"https://{remote}/@{username}/{status_id}"
            self._statuses[status_id] = {
                "id": status_id,
                "account_id": account_id,
                "text": text,
                "spoiler_text": "",
                "visibility": visibility,
                "language": "en",
                "sensitive": False,
                "in_reply_to_id": str(in_reply_to_id) if in_reply_to_id is not None else None,
                "media_ids": [],
                "created_at": _iso_ms(_now()),
                "url": url,
                "uri": f"https://{remote}/users/{username}/statuses/{status_id}",
                "mentions_us": True,
            }
            self._notification_seq += 1
            notification_id = str(self._notification_seq)
            self._notifications.append(
                {
                    "id": notification_id,
                    "type": "mention",
                    "created_at": _iso_ms(_now()),
                    "account_id": account_id,
                    "status_id": status_id,
                }
            )
            return notification_id

    # --- helpers ----------------------------------------------------------------------------

    def error_reply(self, status: int, message: str) -> Reply:
        if status in MASTODON_MESSAGES and message == "Too Many Requests":  # from fail_next
            message = MASTODON_MESSAGES[status]
        return json_reply(status, {"error": message})

    def _retry_headers(self, retry_after: float) -> dict[str, str]:
        reset = _now() + timedelta(seconds=retry_after)
        return {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }

    def _snowflake(self) -> str:
        """Mastodon ids: milliseconds << 16 plus a sequence, as decimal strings."""
        self._last_snowflake = max(int(time.time() * 1000) << 16, self._last_snowflake + 1)
        return str(self._last_snowflake)

    def _own_account(self) -> dict[str, Any]:
        return {
            "id": "1",
            "username": self.username,
            "acct": self.username,
            "display_name": self.username.title(),
            "url": f"https://{self.domain}/@{self.username}",
            "locked": False,
            "bot": False,
            "created_at": "2024-01-01T00:00:00.000Z",
            "note": "",
            "avatar": f"https://{self.domain}/avatars/original/missing.png",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": 0,
        }

    def _account_for(self, username: str, remote: str) -> str:
        acct = username if remote == self.domain else f"{username}@{remote}"
        for account_id, account in self._accounts.items():
            if account["acct"].lower() == acct.lower():
                return account_id
        account_id = str(100 + len(self._accounts))
        self._accounts[account_id] = {
            **self._own_account(),
            "id": account_id,
            "username": username,
            "acct": acct,
            "display_name": username.title(),
            "url": f"https://{remote}/@{username}",
        }
        return account_id

    def _account_entity(self, account_id: str) -> dict[str, Any]:
        account = dict(self._accounts[account_id])
        if account_id == "1":
            account["statuses_count"] = len(self._posted)
        return account

    def _media_entity(self, media: dict[str, Any]) -> dict[str, Any]:
        url = f"https://{self.domain}/system/media_attachments/files/{media['id']}/original"
        return {
            "id": media["id"],
            "type": media["type"],
            "url": f"{url}.{_EXTENSIONS.get(media['mime_type'], 'bin')}",
            "preview_url": f"{url.replace('original', 'small')}.jpg",
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {"focus": media["focus"]} if media["focus"] else {},
            "description": media["description"],
            "blurhash": None,
        }

    @staticmethod
    def _media_record(media: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "type", "mime_type", "filename", "size", "description", "status_id")
        return {key: media[key] for key in keys}

    def _status_entity(self, status: dict[str, Any]) -> dict[str, Any]:
        parent = self._statuses.get(status["in_reply_to_id"] or "")
        mentions = []
        if status.get("mentions_us"):
            own = self._accounts["1"]
            mentions.append({key: own[key] for key in ("id", "username", "url", "acct")})
        return {
            "id": status["id"],
            "created_at": status["created_at"],
            "in_reply_to_id": status["in_reply_to_id"],
            "in_reply_to_account_id": parent["account_id"] if parent else None,
            "sensitive": status["sensitive"],
            "spoiler_text": status["spoiler_text"],
            "visibility": status["visibility"],
            "language": status["language"],
            "uri": status["uri"],
            "url": status["url"],
            "replies_count": sum(
                1 for s in self._statuses.values() if s["in_reply_to_id"] == status["id"]
            ),
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": None,
            "content": _content_html(status["text"]),
            "reblog": None,
            "application": {"name": "engage", "website": None}
            if status["account_id"] == "1"
            else None,
            "account": self._account_entity(status["account_id"]),
            "media_attachments": [self._media_entity(self._media[m]) for m in status["media_ids"]],
            "mentions": mentions,
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }

    def _notification_entity(self, notification: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": notification["id"],
            "type": notification["type"],
            "created_at": notification["created_at"],
            "group_key": f"ungrouped-{notification['id']}",
            "account": self._account_entity(notification["account_id"]),
            "status": self._status_entity(self._statuses[notification["status_id"]]),
        }

    def _instance(self, version: int) -> dict[str, Any]:
        statuses = {
            "max_characters": self.max_characters,
            "max_media_attachments": self.max_media_attachments,
            "characters_reserved_per_url": self.characters_reserved_per_url,
        }
        media = {
            "supported_mime_types": list(MASTODON_MIME_TYPES),
            "description_limit": self.DESCRIPTION_LIMIT,
            "image_size_limit": self.IMAGE_SIZE_LIMIT,
            "image_matrix_limit": 33177600,
            "video_size_limit": self.VIDEO_SIZE_LIMIT,
            "video_frame_rate_limit": 120,
            "video_matrix_limit": 8294400,
        }
        if version == 1:
            return {
                "uri": self.domain,
                "title": "Engage test server",
                "short_description": "A fake Mastodon server for tests.",
                "description": "A fake Mastodon server for tests.",
                "email": f"admin@{self.domain}",
                "version": "4.3.0",
                "urls": {"streaming_api": f"wss://{self.domain}"},
                "stats": {"user_count": 1, "status_count": len(self._posted), "domain_count": 1},
                "languages": ["en"],
                "registrations": False,
                "approval_required": False,
                "configuration": {"statuses": statuses, "media_attachments": media},
            }
        return {
            "domain": self.domain,
            "title": "Engage test server",
            "version": "4.3.0",
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "A fake Mastodon server for tests.",
            "usage": {"users": {"active_month": 1}},
            "languages": ["en"],
            "configuration": {
                "urls": {"streaming": f"wss://{self.domain}"},
                "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
                "statuses": statuses,
                "media_attachments": media,
                "polls": {
                    "max_options": 4,
                    "max_characters_per_option": 50,
                    "min_expiration": 300,
                    "max_expiration": 2629746,
                },
                "translation": {"enabled": False},
            },
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "contact": {"email": f"admin@{self.domain}", "account": None},
            "rules": [],
        }

    @staticmethod
    def _fields(request: RecordedRequest) -> dict[str, list[Any]]:
        """Form, multipart or JSON parameters by name; `media_ids[]` is `media_ids`."""
        fields: dict[str, list[Any]] = {}
        if isinstance(request.body, list):
            for name, value in request.body:
                fields.setdefault(name.removesuffix("[]"), []).append(value)
        elif isinstance(request.body, dict):
            for name, value in request.body.items():
                values = value if isinstance(value, list) else [value]
                fields.setdefault(name.removesuffix("[]"), []).extend(values)
        return fields

    @staticmethod
    def _one(fields: dict[str, list[Any]], name: str) -> Any:
        values = fields.get(name)
        return values[-1] if values else None

    # --- routing ----------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        path = request.path.rstrip("/") or "/"
        method = request.method
        if method == "GET" and path in ("/api/v2/instance", "/api/v1/instance"):
            with self._lock:
                return json_reply(200, self._instance(2 if "/v2/" in path else 1))
        routes: list[tuple[str, str, Any]] = [
            ("GET", r"/api/v1/accounts/verify_credentials", self._verify_credentials),
            ("POST", r"/api/v2/media", self._upload_media),
            ("POST", r"/api/v1/media", self._upload_media),
            ("GET", r"/api/v1/media/(\d+)", self._get_media),
            ("PUT", r"/api/v1/media/(\d+)", self._update_media),
            ("POST", r"/api/v1/statuses", self._post_status),
            ("GET", r"/api/v1/statuses/(\d+)", self._get_status),
            ("GET", r"/api/v1/statuses/(\d+)/context", self._context),
            ("GET", r"/api/v1/accounts/(\d+)/statuses", self._account_statuses),
            ("GET", r"/api/v1/notifications", self._list_notifications),
        ]
        for verb, pattern, action in routes:
            found = re.fullmatch(pattern, path)
            if found and verb == method:
                if request.headers.get("authorization") != f"Bearer {self.access_token}":
                    return self.error_reply(401, MASTODON_BAD_TOKEN)
                if request.error:
                    return self.error_reply(400, "Error while parsing request parameters")
                try:
                    return action(request, *found.groups())
                except _Refused as refused:
                    return refused.reply
        return self.error_reply(404, MASTODON_NOT_FOUND)

    def _refuse(self, status: int, message: str) -> _Refused:
        return _Refused(self.error_reply(status, message))

    # --- endpoints --------------------------------------------------------------------------

    def _verify_credentials(self, request: RecordedRequest) -> Reply:
        with self._lock:
            account = self._account_entity("1")
        account["source"] = {"privacy": "public", "sensitive": False, "language": "en", "note": ""}
        return json_reply(200, account)

    def _check_description(self, description: Any) -> str | None:
        if description is None:
            return None
        description = str(description)
        if len(description) > self.DESCRIPTION_LIMIT:
            raise self._refuse(
                422,
                "Validation failed: Description is too long (maximum is "
                f"{self.DESCRIPTION_LIMIT} characters)",
            )
        return description

    def _upload_media(self, request: RecordedRequest) -> Reply:
        fields = self._fields(request)
        data = self._one(fields, "file")
        if not isinstance(data, bytes) or not data:
            raise self._refuse(422, "Validation failed: File can't be blank")
        content_type = request.headers.get("content-type", "")
        filename, declared = _multipart_files(content_type, request.raw).get("file", ("", None))
        mime = declared if declared and declared != "application/octet-stream" else _sniff(data)
        if mime not in MASTODON_MIME_TYPES:
            raise self._refuse(422, "Validation failed: File content type is invalid")
        kind = mime.split("/")[0]
        kind = "gifv" if mime == "image/gif" else kind
        limit = self.IMAGE_SIZE_LIMIT if kind == "image" else self.VIDEO_SIZE_LIMIT
        if len(data) > limit:
            raise self._refuse(
                422, f"Validation failed: File file size must be less than {limit // 2**20} MB"
            )
        description = self._check_description(self._one(fields, "description"))
        with self._lock:
            media = {
                "id": self._snowflake(),
                "type": kind,
                "mime_type": mime,
                "filename": filename,
                "size": len(data),
                "description": description,
                "focus": self._one(fields, "focus"),
                "status_id": None,
                "data": data,
            }
            self._media[media["id"]] = media
            entity = self._media_entity(media)
        synchronous = request.path.startswith("/api/v1/") or kind == "image"
        if not synchronous:
            entity["url"] = None
        return json_reply(200 if synchronous else 202, entity)

    def _unattached_media(self, media_id: str) -> dict[str, Any]:
        media = self._media.get(media_id)
        if media is None or media["status_id"] is not None:
            raise self._refuse(404, MASTODON_NOT_FOUND)
        return media

    def _get_media(self, request: RecordedRequest, media_id: str) -> Reply:
        with self._lock:
            return json_reply(200, self._media_entity(self._unattached_media(media_id)))

    def _update_media(self, request: RecordedRequest, media_id: str) -> Reply:
        fields = self._fields(request)
        with self._lock:
            media = self._unattached_media(media_id)
            if "description" in fields:
                media["description"] = self._check_description(self._one(fields, "description"))
            if "focus" in fields:
                media["focus"] = self._one(fields, "focus")
            return json_reply(200, self._media_entity(media))

    def _post_status(self, request: RecordedRequest) -> Reply:
        fields = self._fields(request)
        text = str(self._one(fields, "status") or "")
        spoiler_text = str(self._one(fields, "spoiler_text") or "")
        media_ids = list(dict.fromkeys(str(m) for m in fields.get("media_ids", []) if m != ""))
        reply_to = self._one(fields, "in_reply_to_id")
        reply_to = None if reply_to in (None, "") else str(reply_to)
        visibility = str(self._one(fields, "visibility") or "public")
        language = mastodon_language(self._one(fields, "language"), self.default_language)
        key = request.headers.get("idempotency-key") or None
        with self._lock:
            # In Mastodon's order: the thread, then the idempotency key, then the media, then
            # the status's own validations.
            if reply_to is not None and reply_to not in self._statuses:
                raise self._refuse(404, MASTODON_REPLY_NOT_FOUND)
            if key is not None:
                seen = self._idempotency.get(key)
                if seen and seen[1] > time.monotonic():
                    return json_reply(200, self._status_entity(self._statuses[seen[0]]))
            media = self._check_media(media_ids)
            if not text.strip() and not media:
                raise self._refuse(422, "Validation failed: Text can't be blank")
            if visibility not in MASTODON_VISIBILITIES:
                raise self._refuse(422, f"'{visibility}' is not a valid visibility")
            length = mastodon_length(text, spoiler_text, self.characters_reserved_per_url)
            if length > self.max_characters:
                raise self._refuse(
                    422,
                    f"Validation failed: Text character limit of {self.max_characters} exceeded",
                )
            status_id = self._snowflake()
            status = {
                "id": status_id,
                "account_id": "1",
                "text": text,
                "spoiler_text": spoiler_text,
                "visibility": visibility,
                "language": language,
                "sensitive": _truthy(self._one(fields, "sensitive")) or bool(spoiler_text),
                "in_reply_to_id": reply_to,
                "media_ids": [m["id"] for m in media],
                "created_at": _iso_ms(_now()),
                "url": f"https://{self.domain}/@{self.username}/{status_id}",
                "uri": f"https://{self.domain}/users/{self.username}/statuses/{status_id}",
            }
            for m in media:
                m["status_id"] = status_id
            self._statuses[status_id] = status
            self._posted.append(
                {
                    "id": status_id,
                    "url": status["url"],
                    "text": text,
                    "spoiler_text": spoiler_text,
                    "visibility": visibility,
                    "language": language,
                    "sensitive": status["sensitive"],
                    "in_reply_to_id": reply_to,
                    "idempotency_key": key,
                    "created_at": status["created_at"],
                    "media": [self._media_record(m) for m in media],
                }
            )
            if key is not None:
                expires = time.monotonic() + self.IDEMPOTENCY_SECONDS
                self._idempotency[key] = (status_id, expires)
            return json_reply(200, self._status_entity(status))

    def _check_media(self, media_ids: list[str]) -> list[dict[str, Any]]:
        if len(media_ids) > self.max_media_attachments:
            raise self._refuse(422, f"Cannot attach more than {self.max_media_attachments} files")
        media = [self._media.get(m) for m in media_ids]
        missing = [i for i, m in zip(media_ids, media, strict=True) if not m or m["status_id"]]
        if missing:
            ids = ", ".join(missing)
            raise self._refuse(422, f"Media {ids} not found or already attached to another post")
        found = [m for m in media if m is not None]
        if len(found) > 1 and any(m["type"] in ("video", "audio") for m in found):
            raise self._refuse(422, "Cannot attach a video to a post that already contains images")
        return found

    def _get_status(self, request: RecordedRequest, status_id: str) -> Reply:
        with self._lock:
            status = self._statuses.get(status_id)
            if status is None:
                raise self._refuse(404, MASTODON_NOT_FOUND)
            return json_reply(200, self._status_entity(status))

    def _context(self, request: RecordedRequest, status_id: str) -> Reply:
        with self._lock:
            status = self._statuses.get(status_id)
            if status is None:
                raise self._refuse(404, MASTODON_NOT_FOUND)
            ancestors = []
            parent = self._statuses.get(status["in_reply_to_id"] or "")
            while parent is not None:
                ancestors.insert(0, parent)
                parent = self._statuses.get(parent["in_reply_to_id"] or "")
            thread = {status_id}
            descendants = []
            for other in self._statuses.values():  # in creation order
                if other["in_reply_to_id"] in thread:
                    thread.add(other["id"])
                    descendants.append(other)
            return json_reply(
                200,
                {
                    "ancestors": [self._status_entity(s) for s in ancestors],
                    "descendants": [self._status_entity(s) for s in descendants],
                },
            )

    def _page(
        self,
        request: RecordedRequest,
        items: list[dict[str, Any]],
        default: int,
        most: int,
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """Mastodon paging over items oldest first: newest first, `max_id`, `since_id`,
        `min_id`, `limit`, and a Link header pointing back at this fake."""
        query = dict(self._query(request))
        try:
            limit = min(max(int(query.get("limit") or default), 1), most)
        except ValueError:
            limit = default
        for name, keep in (
            ("max_id", lambda i, v: i < v),
            ("since_id", lambda i, v: i > v),
            ("min_id", lambda i, v: i > v),
        ):
            if query.get(name, "").isdigit():
                bound = int(query[name])
                items = [item for item in items if keep(int(item["id"]), bound)]
        page = items[:limit] if query.get("min_id") else items[-limit:]
        page = page[::-1]
        headers = {}
        if page:
            base = f"{self.url}{request.path}"
            headers["Link"] = (
                f'<{base}?limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{base}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return page, headers

    def _account_statuses(self, request: RecordedRequest, account_id: str) -> Reply:
        with self._lock:
            if account_id not in self._accounts:
                raise self._refuse(404, MASTODON_NOT_FOUND)
            mine = [s for s in self._statuses.values() if s["account_id"] == account_id]
            page, headers = self._page(request, mine, self.STATUSES_DEFAULT, self.STATUSES_MAX)
            return json_reply(200, [self._status_entity(s) for s in page], headers)

    def _list_notifications(self, request: RecordedRequest) -> Reply:
        query = self._query(request)
        types = {v for k, v in query if k in ("types[]", "types")}
        excluded = {v for k, v in query if k in ("exclude_types[]", "exclude_types")}
        with self._lock:
            items = [
                n
                for n in self._notifications
                if (not types or n["type"] in types) and n["type"] not in excluded
            ]
            page, headers = self._page(
                request, items, self.NOTIFICATIONS_DEFAULT, self.NOTIFICATIONS_MAX
            )
            return json_reply(200, [self._notification_entity(n) for n in page], headers)


# --- Bluesky ----------------------------------------------------------------------------------

XRPC_ERRORS = {
    400: "InvalidRequest",
    401: "AuthenticationRequired",
    403: "Forbidden",
    404: "XRPCNotSupported",
    406: "NotAcceptable",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    429: "RateLimitExceeded",
    500: "InternalServerError",
    501: "MethodNotImplemented",
    502: "UpstreamFailure",
    503: "NotEnoughResources",
    504: "UpstreamTimeout",
}
POST = "app.bsky.feed.post"
FACET_LINK = "app.bsky.richtext.facet#link"
FACET_MENTION = "app.bsky.richtext.facet#mention"
FACET_TAG = "app.bsky.richtext.facet#tag"
EMBED_IMAGES = "app.bsky.embed.images"
EMBED_EXTERNAL = "app.bsky.embed.external"
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
_DATETIME = re.compile(
    r"[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\.[0-9]{1,20})?"
    r"(Z|[+-][0-2][0-9]:[0-5][0-9])"
)
# A well-formed BCP 47 tag (RFC 5646's grammar), as the lexicon's `language` format checks it:
# language (with up to three extlangs), script, region, variants, extensions, private use; or
# private use alone, or one of the irregular grandfathered tags.
_BCP47 = re.compile(
    r"(?:[a-zA-Z]{2,3}(?:-[a-zA-Z]{3}){0,3}|[a-zA-Z]{4,8})"
    r"(?:-[a-zA-Z]{4})?"
    r"(?:-(?:[a-zA-Z]{2}|[0-9]{3}))?"
    r"(?:-(?:[a-zA-Z0-9]{5,8}|[0-9][a-zA-Z0-9]{3}))*"
    r"(?:-[0-9a-wyzA-WYZ](?:-[a-zA-Z0-9]{2,8})+)*"
    r"(?:-[xX](?:-[a-zA-Z0-9]{1,8})+)?"
    r"|[xX](?:-[a-zA-Z0-9]{1,8})+"
    r"|en-GB-oed|i-(?:ami|bnn|default|enochian|hak|klingon|lux|mingo|navajo|pwn|tao|tay|tsu)"
    r"|sgn-(?:BE-FR|BE-NL|CH-DE)"
)
_DID = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
_URI = re.compile(r"\w+:(?://)?[^\s/][^\s]*")
_RKEY = re.compile(r"[A-Za-z0-9._:~-]{1,512}")


def _cid(codec: int, data: bytes) -> str:
    """A CIDv1 (sha2-256) in base32: `bafkrei...` for raw blobs, `bafyrei...` for records."""
    digest = hashlib.sha256(data).digest()
    encoded = base64.b32encode(bytes([1, codec, 0x12, 0x20]) + digest).decode()
    return "b" + encoded.lower().rstrip("=")


def _pretty_bytes(size: int) -> str:
    """As the PDS words sizes: 2000000 -> "2 MB", 2500000 -> "2.5 MB"."""
    value = float(size)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.3g} {unit}"
        value /= 1000
    return f"{value:.3g} GB"


def _jwt(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = _json(value).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    signature = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return f"{part(header)}.{part(payload)}.{signature}"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class FakeBluesky(_SocialFake):
    """A Bluesky PDS with one account (`handle`, kept as `account_handle` because `handle` is
    the request handler; `did`; app password `password`), at `/xrpc/<nsid>`.

    No auth: `POST com.atproto.server.createSession`, `GET com.atproto.identity.resolveHandle`,
    `GET com.atproto.repo.listRecords`. Refresh token: `POST com.atproto.server.refreshSession`
    (rotates: the old refresh token then answers 400 ExpiredToken "Token has been revoked").
    Access token: `GET com.atproto.server.getSession`, `POST com.atproto.repo.uploadBlob`,
    `POST com.atproto.repo.createRecord` (app.bsky.feed.post only),
    `GET app.bsky.notification.listNotifications`.

    Errors are {"error": name, "message": text} as the PDS sends them: no Authorization 401
    AuthMissing; an unknown token 400 InvalidToken "Token could not be verified"; the wrong kind
    of token 400 InvalidToken "Bad token scope"; an expired one 400 ExpiredToken "Token has
    expired" (`expire_tokens()`); unknown methods 501 MethodNotImplemented. `fail_next(429)`
    answers RateLimitExceeded with RateLimit-Limit/Remaining/Reset (epoch seconds)/Policy and
    no Retry-After. createSession takes `session_limit` calls per 5 minutes, failed ones
    included (30, as Bluesky; None for no limit), then answers 429.

    createRecord checks what the lexicon checks (required fields, $type, createdAt, text ≤ 3,000
    UTF-8 bytes and ≤ 300 graphemes, ≤ 4 images each with `alt`, ≤ 3 langs, each a
    well-formed BCP 47 tag) and, stricter than
    the PDS, that `repo` is the account's DID, facets lie inside the text on UTF-8 character
    boundaries without overlapping or spanning leading/trailing whitespace, with only link
    (`uri`), mention (`did`, text starting `@`) and tag (`tag` without `#`, text `#tag`)
    features, that image blobs were uploaded here, and that `reply.root`/`reply.parent` name
    known posts (with their cids) and the parent's thread root."""

    name = "bluesky"
    MAX_GRAPHEMES = 300
    MAX_BYTES = 3000
    MAX_IMAGES = 4
    MAX_LANGS = 3
    MAX_BLOB_BYTES = 2_000_000
    ACCESS_SECONDS = 2 * 3600
    REFRESH_SECONDS = 90 * 86400
    SESSION_WINDOW = 300
    NOTIFICATIONS_DEFAULT, NOTIFICATIONS_MAX = 50, 100

    def __init__(
        self,
        handle: str = "engage.example.org",
        password: str = "app-pass-word",
        did: str = "did:plc:engage",
        *,
        session_limit: int | None = 30,
        delay: float = 0.0,
    ) -> None:
        self.account_handle = handle
        self.password = password
        self.did = did
        self.session_limit = session_limit
        self._last_tid = 0
        self._clock_id = secrets.randbelow(1024)
        super().__init__(password, delay=delay)

    # --- state ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget requests, sessions and tokens, blobs, posts, handles, notifications and
        queued failures."""
        super().reset()
        with self._lock:
            self._access: dict[str, dict[str, Any]] = {}
            self._refresh: dict[str, dict[str, Any]] = {}
            self._session_times: list[float] = []
            self._sessions_created = 0
            self._sessions_refreshed = 0
            self._blobs: dict[str, dict[str, Any]] = {}
            self._posts: list[dict[str, Any]] = []
            self._known: dict[str, dict[str, Any]] = {}  # uri -> {cid, root: {uri, cid}, ...}
            self._handles: dict[str, str] = {}
            self._notifications: list[dict[str, Any]] = []

    @property
    def sessions_created(self) -> int:
        """Successful createSession calls."""
        with self._lock:
            return self._sessions_created

    @property
    def sessions_refreshed(self) -> int:
        """Successful refreshSession calls."""
        with self._lock:
            return self._sessions_refreshed

    @property
    def posts(self) -> list[dict[str, Any]]:
        """Posts created, oldest first (copies). Each: uri, cid, rkey, text, createdAt, langs,
        facets (each facet as sent plus "text": the UTF-8 bytes it spans, decoded), images
        ([{alt, cid, mimeType, size, aspectRatio}]), embed, reply, record (as sent)."""
        with self._lock:
            return [_copy(p) for p in self._posts]

    @property
    def blobs(self) -> list[dict[str, Any]]:
        """Uploaded blobs, oldest first: cid, mimeType, size, data."""
        with self._lock:
            return [dict(b) for b in self._blobs.values()]

    def expire_tokens(self, *, refresh: bool = False) -> None:
        """Every access token issued so far now answers 400 ExpiredToken (and every refresh
        token too with refresh=True), so the client must refresh (or log in again)."""
        with self._lock:
            for token in self._access.values():
                token["expired"] = True
            if refresh:
                for token in self._refresh.values():
                    token["state"] = token["state"] if token["state"] == "revoked" else "expired"

    def add_handle(self, handle: str, did: str) -> None:
        """Make resolveHandle answer `did` for `handle`."""
        with self._lock:
            self._handles[handle.lower().lstrip("@")] = did

    def add_notification(
        self,
        reason: str = "mention",
        author_handle: str = "sam.example.social",
        text: str = "@engage.example.org thank you!",
        reply_to_uri: str | None = None,
        *,
        author_did: str | None = None,
    ) -> dict[str, Any]:
        """Someone else's post that mentions or replies to us, and its notification (reason
        "mention", "reply" or "quote"). A reply needs `reply_to_uri`, a known post; its
        record gets reply.root/parent. A mention of `@<our handle>` in the text gets a mention
        facet. The author's handle becomes resolvable. Returns the notification as
        listNotifications shows it (its uri and cid make a reply's root/parent)."""
        if reason not in ("mention", "reply", "quote"):
            raise ValueError(f"unsupported notification reason {reason!r}")
        if reason == "reply" and reply_to_uri is None:
            raise ValueError("a reply notification needs reply_to_uri")
        author_handle = author_handle.lstrip("@")
        if author_did is None:
            digest = hashlib.sha256(author_handle.lower().encode()).digest()
            author_did = "did:plc:" + base64.b32encode(digest).decode().lower()[:24]
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": _iso_ms(_now())}
        record["langs"] = ["en"]
        mention = f"@{self.account_handle}"
        if mention.lower() in text.lower():
            start = text.lower().index(mention.lower())
            byte_start = len(text[:start].encode())
            record["facets"] = [
                {
                    "index": {
                        "byteStart": byte_start,
                        "byteEnd": byte_start + len(mention.encode()),
                    },
                    "features": [{"$type": FACET_MENTION, "did": self.did}],
                }
            ]
        with self._lock:
            if reply_to_uri is not None:
                parent = self._known.get(reply_to_uri)
                if parent is None:
                    raise ValueError(f"no post {reply_to_uri} to reply to")
                record["reply"] = {
                    "root": dict(parent["root"]),
                    "parent": {"uri": reply_to_uri, "cid": parent["cid"]},
                }
            self._handles[author_handle.lower()] = author_did
            rkey = self._tid()
            uri = f"at://{author_did}/{POST}/{rkey}"
            cid = _cid(0x71, _json(record).encode())
            root = record["reply"]["root"] if "reply" in record else {"uri": uri, "cid": cid}
            self._known[uri] = {"cid": cid, "root": root, "did": author_did, "record": record}
            notification = {
                "uri": uri,
                "cid": cid,
                "author": {
                    "did": author_did,
                    "handle": author_handle,
                    "displayName": author_handle.split(".")[0].title(),
                    "labels": [],
                    "viewer": {"muted": False, "blockedBy": False},
                },
                "reason": reason,
                "record": record,
                "isRead": False,
                "indexedAt": record["createdAt"],
                "labels": [],
            }
            if reply_to_uri is not None:
                notification["reasonSubject"] = reply_to_uri
            self._notifications.append(notification)
            return _copy(notification)

    # --- helpers ----------------------------------------------------------------------------

    def error_reply(self, status: int, message: str, error: str | None = None) -> Reply:
        if status == 429 and message == "Too Many Requests":
            message = "Rate Limit Exceeded"
        name = error or XRPC_ERRORS.get(status, "InternalServerError")
        return json_reply(status, {"error": name, "message": message})

    def _retry_headers(self, retry_after: float, limit: int = 3000, window: int = 300) -> dict:
        return {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(math.ceil(time.time() + retry_after)),
            "RateLimit-Policy": f"{limit};w={window}",
        }

    def _refuse(self, status: int, message: str, error: str | None = None) -> _Refused:
        return _Refused(self.error_reply(status, message, error))

    def _invalid_record(self, detail: str) -> _Refused:
        return self._refuse(400, f"Invalid {POST} record: {detail}")

    def _tid(self) -> str:
        """A record key: microseconds since the epoch and a clock id, base32-sortable."""
        self._last_tid = max(int(time.time() * 1_000_000), self._last_tid + 1)
        value = (self._last_tid << 10) | self._clock_id
        chars = []
        for _ in range(13):
            chars.append(_TID_CHARS[value & 31])
            value >>= 5
        return "".join(reversed(chars))

    def _issue(self) -> dict[str, Any]:
        now = int(time.time())
        audience = f"did:web:{urlsplit(self.url).hostname}" if self._server else "did:web:pds"
        access = _jwt(
            {"typ": "at+jwt", "alg": "HS256"},
            {
                "scope": "com.atproto.appPass",
                "sub": self.did,
                "aud": audience,
                "iat": now,
                "exp": now + self.ACCESS_SECONDS,
            },
        )
        refresh = _jwt(
            {"typ": "refresh+jwt", "alg": "HS256"},
            {
                "scope": "com.atproto.refresh",
                "sub": self.did,
                "aud": audience,
                "jti": secrets.token_urlsafe(32),
                "iat": now,
                "exp": now + self.REFRESH_SECONDS,
            },
        )
        self._access[access] = {"did": self.did, "expired": False}
        self._refresh[refresh] = {"did": self.did, "state": "active"}
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": self.account_handle,
            "did": self.did,
            "didDoc": {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": self.did,
                "alsoKnownAs": [f"at://{self.account_handle}"],
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": self.url if self._server else "",
                    }
                ],
            },
            "active": True,
        }

    def _bearer(self, request: RecordedRequest, kind: str) -> str:
        """The token of kind "access" or "refresh" the request carries, else an error."""
        header = request.headers.get("authorization", "")
        if not header:
            raise self._refuse(401, "Authentication Required", "AuthMissing")
        if not header.startswith("Bearer "):
            raise self._refuse(400, "Unexpected authorization type", "InvalidToken")
        token = header.removeprefix("Bearer ").strip()
        with self._lock:
            access, refresh = self._access.get(token), self._refresh.get(token)
            if access is not None and access["expired"]:
                raise self._refuse(400, "Token has expired", "ExpiredToken")
            if refresh is not None and refresh["state"] == "expired":
                raise self._refuse(400, "Token has expired", "ExpiredToken")
            if (kind == "access" and refresh is not None) or (
                kind == "refresh" and access is not None
            ):
                raise self._refuse(400, "Bad token scope", "InvalidToken")
            if kind == "refresh" and refresh is not None and refresh["state"] == "revoked":
                raise self._refuse(400, "Token has been revoked", "ExpiredToken")
            if (access if kind == "access" else refresh) is None:
                raise self._refuse(400, "Token could not be verified", "InvalidToken")
        return token

    def _json_input(self, request: RecordedRequest) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not content_type:
            raise self._refuse(400, "Request encoding (Content-Type) required but not provided")
        if content_type != "application/json":
            raise self._refuse(400, f"Wrong request encoding (Content-Type): {content_type}")
        if request.error or not isinstance(request.body, dict):
            raise self._refuse(400, "Input must be an object")
        return request.body

    def _required(self, body: dict[str, Any], *names: str, where: str = "Input") -> None:
        for name in names:
            if name not in body:
                raise self._refuse(400, f'{where} must have the property "{name}"')

    # --- routing ----------------------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        if not request.path.startswith("/xrpc/"):
            return self.error_reply(404, "Not Found", "NotFound")
        methods: dict[str, tuple[str, str | None, Any]] = {
            "com.atproto.server.createSession": ("POST", None, self._create_session),
            "com.atproto.server.refreshSession": ("POST", "refresh", self._refresh_session),
            "com.atproto.server.getSession": ("GET", "access", self._get_session),
            "com.atproto.repo.uploadBlob": ("POST", "access", self._upload_blob),
            "com.atproto.repo.createRecord": ("POST", "access", self._create_record),
            "com.atproto.repo.listRecords": ("GET", None, self._list_records),
            "com.atproto.identity.resolveHandle": ("GET", None, self._resolve_handle),
            "app.bsky.notification.listNotifications": (
                "GET",
                "access",
                self._list_notifications,
            ),
        }
        nsid = request.path.removeprefix("/xrpc/")
        if nsid not in methods:
            return self.error_reply(501, "Method Not Implemented")
        verb, auth, action = methods[nsid]
        try:
            if request.method != verb:
                raise self._refuse(400, f"Incorrect HTTP method ({request.method}) expected {verb}")
            token = self._bearer(request, auth) if auth else None
            return action(request, token)
        except _Refused as refused:
            return refused.reply

    # --- endpoints --------------------------------------------------------------------------

    def _create_session(self, request: RecordedRequest, _token: None) -> Reply:
        body = self._json_input(request)
        self._required(body, "identifier", "password")
        identifier = str(body["identifier"]).lower().lstrip("@")
        with self._lock:
            now = time.monotonic()
            self._session_times = [t for t in self._session_times if t > now - 300]
            if self.session_limit is not None and len(self._session_times) >= self.session_limit:
                retry = self._session_times[0] + self.SESSION_WINDOW - now
                headers = self._retry_headers(retry, self.session_limit, self.SESSION_WINDOW)
                reply = self.error_reply(429, "Rate Limit Exceeded")
                reply.headers.update(headers)
                return reply
            self._session_times.append(now)
            if identifier not in (self.account_handle.lower(), self.did) or body["password"] != (
                self.password
            ):
                raise self._refuse(401, "Invalid identifier or password")
            self._sessions_created += 1
            return json_reply(200, self._issue())

    def _refresh_session(self, request: RecordedRequest, token: str) -> Reply:
        with self._lock:
            self._refresh[token]["state"] = "revoked"
            self._sessions_refreshed += 1
            return json_reply(200, self._issue())

    def _get_session(self, request: RecordedRequest, _token: str) -> Reply:
        return json_reply(
            200,
            {
                "handle": self.account_handle,
                "did": self.did,
                "active": True,
                "emailConfirmed": True,
            },
        )

    def _upload_blob(self, request: RecordedRequest, _token: str) -> Reply:
        mime = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not mime:
            raise self._refuse(400, "Request encoding (Content-Type) required but not provided")
        data = request.raw
        if not data:
            raise self._refuse(400, "Request body is empty")
        if len(data) > self.MAX_BLOB_BYTES:
            raise self._refuse(
                400,
                f"This file is too large. It is {_pretty_bytes(len(data))} but the maximum "
                f"size is {_pretty_bytes(self.MAX_BLOB_BYTES)}.",
                "BlobTooLarge",
            )
        cid = _cid(0x55, data)
        with self._lock:
            self._blobs[cid] = {"cid": cid, "mimeType": mime, "size": len(data), "data": data}
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(data)}
        return json_reply(200, {"blob": blob})

    def _create_record(self, request: RecordedRequest, _token: str) -> Reply:
        body = self._json_input(request)
        self._required(body, "repo", "collection", "record")
        if body["repo"] != self.did:
            raise self._refuse(400, f"Could not find repo: {body['repo']}")
        collection = body["collection"]
        if collection != POST:
            raise self._refuse(400, f"The fake Bluesky only stores {POST} records: {collection}")
        rkey = body.get("rkey")
        if rkey is not None and (not isinstance(rkey, str) or not _RKEY.fullmatch(rkey)):
            raise self._refuse(400, f"Invalid record key: {rkey}")
        record = body["record"]
        if not isinstance(record, dict):
            raise self._refuse(400, "Input/record must be an object")
        if record.get("$type") != collection:
            got = record.get("$type", "undefined")  # as the PDS (JavaScript) words it
            raise self._invalid_record(f"Invalid $type: expected {collection}, got {got}")
        self._required(record, "text", "createdAt", where=f"Invalid {POST} record: Record")
        text = record["text"]
        if not isinstance(text, str):
            raise self._invalid_record("Record/text must be a string")
        if len(text.encode()) > self.MAX_BYTES:
            raise self._invalid_record(
                f"Record/text must not be longer than {self.MAX_BYTES} characters"
            )
        if count_graphemes(text) > self.MAX_GRAPHEMES:
            raise self._invalid_record(
                f"Record/text must not be longer than {self.MAX_GRAPHEMES} graphemes"
            )
        created = record["createdAt"]
        if not isinstance(created, str) or not _valid_datetime(created):
            raise self._invalid_record(
                "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
            )
        langs = record.get("langs")
        if langs is not None:
            if not isinstance(langs, list) or not all(isinstance(x, str) for x in langs):
                raise self._invalid_record("Record/langs must be an array of strings")
            if len(langs) > self.MAX_LANGS:
                raise self._invalid_record(
                    f"Record/langs must not have more than {self.MAX_LANGS} elements"
                )
            for i, tag in enumerate(langs):
                if not _BCP47.fullmatch(tag):
                    raise self._invalid_record(
                        f"Record/langs/{i} must be a well-formed BCP 47 language tag"
                    )
        facets = self._check_facets(text, record.get("facets"))
        with self._lock:
            images = self._check_embed(record.get("embed"))
            root = self._check_reply(record.get("reply"))
            rkey = rkey or self._tid()
            uri = f"at://{self.did}/{collection}/{rkey}"
            if uri in self._known:
                raise self._refuse(400, f"Record already exists: {uri}")
            cid = _cid(0x71, _json(record).encode())
            self._known[uri] = {
                "cid": cid,
                "root": root or {"uri": uri, "cid": cid},
                "did": self.did,
                "record": record,
            }
            self._posts.append(
                {
                    "uri": uri,
                    "cid": cid,
                    "rkey": rkey,
                    "text": text,
                    "createdAt": created,
                    "langs": langs,
                    "facets": facets,
                    "images": images,
                    "embed": record.get("embed"),
                    "reply": record.get("reply"),
                    "record": record,
                }
            )
            commit = {"cid": _cid(0x71, uri.encode()), "rev": self._tid()}
        return json_reply(
            200, {"uri": uri, "cid": cid, "commit": commit, "validationStatus": "valid"}
        )

    def _check_facets(self, text: str, facets: Any) -> list[dict[str, Any]]:
        if facets is None:
            return []
        if not isinstance(facets, list):
            raise self._invalid_record("Record/facets must be an array")
        data = text.encode()
        decoded, spans = [], []
        for i, facet in enumerate(facets):
            where = f"Record/facets/{i}"
            if not isinstance(facet, dict):
                raise self._invalid_record(f"{where} must be an object")
            for name in ("index", "features"):
                if name not in facet:
                    raise self._invalid_record(f'{where} must have the property "{name}"')
            index = facet["index"]
            if not isinstance(index, dict):
                raise self._invalid_record(f"{where}/index must be an object")
            for name in ("byteStart", "byteEnd"):
                if name not in index:
                    raise self._invalid_record(f'{where}/index must have the property "{name}"')
                if not _is_int(index[name]):
                    raise self._invalid_record(f"{where}/index/{name} must be an integer")
                if index[name] < 0:
                    raise self._invalid_record(f"{where}/index/{name} can not be less than 0")
            start, end = index["byteStart"], index["byteEnd"]
            if start >= end:
                raise self._invalid_record(
                    f"{where}/index/byteStart ({start}) must be less than byteEnd ({end})"
                )
            if end > len(data):
                raise self._invalid_record(
                    f"{where}/index/byteEnd ({end}) is past the end of the text "
                    f"({len(data)} UTF-8 bytes)"
                )
            try:
                spanned = data[start:end].decode("utf-8")
            except UnicodeDecodeError:
                raise self._invalid_record(
                    f"{where}/index ({start}-{end}) splits a UTF-8 character: offsets are "
                    "UTF-8 byte offsets"
                ) from None
            if spanned != spanned.strip():
                raise self._invalid_record(
                    f"{where}/index ({start}-{end}) spans leading or trailing whitespace: "
                    f"{spanned!r}"
                )
            self._check_features(where, facet["features"], spanned)
            spans.append((start, end, i))
            decoded.append({**_copy(facet), "text": spanned})
        spans.sort()
        for (_, first_end, first), (second_start, _, second) in zip(spans, spans[1:], strict=False):
            if second_start < first_end:
                raise self._invalid_record(f"Record/facets/{second} overlaps Record/facets/{first}")
        return decoded

    def _check_features(self, where: str, features: Any, spanned: str) -> None:
        if not isinstance(features, list) or not features:
            raise self._invalid_record(f"{where}/features must be a non-empty array")
        for k, feature in enumerate(features):
            at = f"{where}/features/{k}"
            if not isinstance(feature, dict):
                raise self._invalid_record(f"{at} must be an object")
            kind = feature.get("$type")
            if kind == FACET_LINK:
                self._required(feature, "uri", where=f"Invalid {POST} record: {at}")
                if not isinstance(feature["uri"], str) or not _URI.fullmatch(feature["uri"]):
                    raise self._invalid_record(f"{at}/uri must be a uri")
            elif kind == FACET_MENTION:
                self._required(feature, "did", where=f"Invalid {POST} record: {at}")
                if not isinstance(feature["did"], str) or not _DID.fullmatch(feature["did"]):
                    raise self._invalid_record(f"{at}/did must be a valid did")
                if not spanned.startswith("@"):
                    raise self._invalid_record(
                        f"{at}: a mention facet must span the @handle, not {spanned!r}"
                    )
            elif kind == FACET_TAG:
                self._required(feature, "tag", where=f"Invalid {POST} record: {at}")
                tag = feature["tag"]
                if not isinstance(tag, str) or not tag or tag.startswith(("#", "＃")):
                    raise self._invalid_record(f"{at}/tag must be the tag without its #")
                if len(tag.encode()) > 640 or count_graphemes(tag) > 64 or re.search(r"\s", tag):
                    raise self._invalid_record(f"{at}/tag must be one word of ≤ 64 graphemes")
                if spanned[1:] != tag or spanned[:1] not in ("#", "＃"):
                    raise self._invalid_record(
                        f"{at}: a tag facet must span #{tag}, not {spanned!r}"
                    )
            else:
                raise self._invalid_record(
                    f"{at}/$type must be one of {FACET_LINK}, {FACET_MENTION}, {FACET_TAG} "
                    f"(got {kind!r})"
                )

    def _check_blob(self, where: str, blob: Any, accept: str = "image/") -> dict[str, Any]:
        if not isinstance(blob, dict) or blob.get("$type") != "blob":
            raise self._invalid_record(f"{where} should be a blob ref")
        ref = blob.get("ref")
        link = ref.get("$link") if isinstance(ref, dict) else None
        found = self._blobs.get(link) if isinstance(link, str) else None
        if found is None:
            raise self._refuse(400, f"Could not find blob: {link}", "BlobNotFound")
        if not found["mimeType"].startswith(accept):
            raise self._refuse(
                400,
                f"Wrong type of file. It is {found['mimeType']} but it must match {accept}*.",
                "InvalidMimeType",
            )
        return found

    def _check_embed(self, embed: Any) -> list[dict[str, Any]]:
        if embed is None:
            return []
        if not isinstance(embed, dict):
            raise self._invalid_record("Record/embed must be an object")
        kind = embed.get("$type")
        if kind == EMBED_EXTERNAL:
            external = embed.get("external")
            if not isinstance(external, dict):
                raise self._invalid_record('Record/embed must have the property "external"')
            for name in ("uri", "title", "description"):
                if not isinstance(external.get(name), str):
                    raise self._invalid_record(
                        f'Record/embed/external must have the property "{name}"'
                    )
            if "thumb" in external:
                self._check_blob("Record/embed/external/thumb", external["thumb"])
            return []
        if kind != EMBED_IMAGES:
            raise self._invalid_record(
                f"Record/embed/$type: the fake Bluesky takes {EMBED_IMAGES} or {EMBED_EXTERNAL}, "
                f"not {kind!r}"
            )
        images = embed.get("images")
        if not isinstance(images, list):
            raise self._invalid_record('Record/embed must have the property "images"')
        if len(images) > self.MAX_IMAGES:
            raise self._invalid_record(
                f"Record/embed/images must not have more than {self.MAX_IMAGES} elements"
            )
        recorded = []
        for i, image in enumerate(images):
            where = f"Record/embed/images/{i}"
            if not isinstance(image, dict):
                raise self._invalid_record(f"{where} must be an object")
            for name in ("image", "alt"):
                if name not in image:
                    raise self._invalid_record(f'{where} must have the property "{name}"')
            if not isinstance(image["alt"], str):
                raise self._invalid_record(f"{where}/alt must be a string")
            ratio = image.get("aspectRatio")
            if ratio is not None and not (
                isinstance(ratio, dict)
                and all(_is_int(ratio.get(k)) and ratio[k] >= 1 for k in ("width", "height"))
            ):
                raise self._invalid_record(f"{where}/aspectRatio needs width and height ≥ 1")
            blob = self._check_blob(f"{where}/image", image["image"])
            recorded.append(
                {
                    "alt": image["alt"],
                    "cid": blob["cid"],
                    "mimeType": blob["mimeType"],
                    "size": blob["size"],
                    "aspectRatio": ratio,
                }
            )
        return recorded

    def _check_reply(self, reply: Any) -> dict[str, str] | None:
        """The thread root of a valid reply (None when the post is not a reply)."""
        if reply is None:
            return None
        if not isinstance(reply, dict):
            raise self._invalid_record("Record/reply must be an object")
        refs = {}
        for name in ("root", "parent"):
            ref = reply.get(name)
            if not isinstance(ref, dict):
                raise self._invalid_record(f'Record/reply must have the property "{name}"')
            uri, cid = ref.get("uri"), ref.get("cid")
            if not isinstance(uri, str) or not isinstance(cid, str):
                raise self._invalid_record(f"Record/reply/{name} needs a uri and a cid")
            known = self._known.get(uri)
            if known is None:
                raise self._invalid_record(f"Record/reply/{name} is not a known post: {uri}")
            if known["cid"] != cid:
                raise self._invalid_record(
                    f"Record/reply/{name}/cid is not the cid of {uri} ({known['cid']})"
                )
            refs[name] = {"uri": uri, "cid": cid}
        expected = self._known[refs["parent"]["uri"]]["root"]
        if refs["root"]["uri"] != expected["uri"]:
            raise self._invalid_record(
                f"Record/reply/root must be the root of the parent's thread ({expected['uri']})"
            )
        return refs["root"]

    def _list_records(self, request: RecordedRequest, _token: None) -> Reply:
        query = dict(self._query(request))
        for name in ("repo", "collection"):
            if name not in query:
                raise self._refuse(400, f'Params must have the property "{name}"')
        if query["repo"] not in (self.did, self.account_handle):
            raise self._refuse(400, f"Could not find repo: {query['repo']}")
        limit = self._limit(query, 50, 100)
        with self._lock:
            posts = [p for p in self._posts if query["collection"] == POST]
            posts.sort(key=lambda p: p["rkey"], reverse=query.get("reverse") != "true")
            if query.get("cursor"):
                cursor = query["cursor"]
                posts = [
                    p
                    for p in posts
                    if (
                        p["rkey"] < cursor if query.get("reverse") != "true" else p["rkey"] > cursor
                    )
                ]
            page = posts[:limit]
            body: dict[str, Any] = {
                "records": [{"uri": p["uri"], "cid": p["cid"], "value": p["record"]} for p in page]
            }
            if len(posts) > limit:
                body["cursor"] = page[-1]["rkey"]
            return json_reply(200, _copy(body))

    def _limit(self, query: dict[str, str], default: int, most: int) -> int:
        if "limit" not in query or query["limit"] == "":
            return default
        try:
            limit = int(query["limit"])
        except ValueError:
            raise self._refuse(400, "limit must be an integer") from None
        if limit < 1:
            raise self._refuse(400, "limit can not be less than 1")
        if limit > most:
            raise self._refuse(400, f"limit can not be greater than {most}")
        return limit

    def _resolve_handle(self, request: RecordedRequest, _token: None) -> Reply:
        query = dict(self._query(request))
        if not query.get("handle"):
            raise self._refuse(400, 'Params must have the property "handle"')
        handle = query["handle"].lower().lstrip("@")
        with self._lock:
            did = self.did if handle == self.account_handle.lower() else self._handles.get(handle)
        if did is None:
            raise self._refuse(400, "Unable to resolve handle")
        return json_reply(200, {"did": did})

    def _list_notifications(self, request: RecordedRequest, _token: str) -> Reply:
        pairs = self._query(request)
        query = dict(pairs)
        reasons = {v for k, v in pairs if k in ("reasons", "reasons[]")}
        limit = self._limit(query, self.NOTIFICATIONS_DEFAULT, self.NOTIFICATIONS_MAX)
        with self._lock:
            numbered = list(enumerate(self._notifications))[::-1]  # newest first
            items = [(n, x) for n, x in numbered if not reasons or x["reason"] in reasons]
            if query.get("cursor"):
                if not query["cursor"].isdigit():
                    raise self._refuse(400, "Malformed cursor")
                items = [(n, x) for n, x in items if n < int(query["cursor"])]
            page = items[:limit]
            body: dict[str, Any] = {
                "notifications": [_copy(x) for _, x in page],
                "priority": False,
            }
            if len(items) > limit:
                body["cursor"] = str(page[-1][0])
            return json_reply(200, body)


def _valid_datetime(value: str) -> bool:
    if not _DATETIME.fullmatch(value) or value.endswith("-00:00"):
        return False
    main, _, rest = value.partition(".")
    if rest:  # Python parses at most six fractional digits
        digits = re.match(r"\d+", rest)
        assert digits is not None
        value = f"{main}.{digits[0][:6].ljust(6, '0')}{rest[len(digits[0]) :]}"
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data (bytes kept as they are)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
