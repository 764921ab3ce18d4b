"""Mastodon: the instance's own limits, alt text on every image, an Idempotency-Key on posts."""

from __future__ import annotations

import functools
import html
import re
from typing import Any

import requests

from .. import langs
from ..config import secret
from ..errors import ProviderError, Rejected
from ..http import refusal
from ..models import SocialReply
from . import counting
from .base import Channel, Limits, Part, Posted


class MastodonChannel(Channel):
    network = "mastodon"
    title = "Mastodon"

    @property
    def base(self) -> str:
        if not self.settings.base_url:
            raise ProviderError(f"Set base_url in [social.{self.name}] (your Mastodon instance).")
        return self.settings.base_url.rstrip("/")

    @functools.cached_property
    def instance(self) -> dict:
        """The instance's configuration (no login needed); defaults if it cannot be read."""
        try:
            response = self.http.request("GET", f"{self.base}/api/v2/instance")
            return response.json().get("configuration", {}) if response.ok else {}
        except (requests.RequestException, ValueError):
            return {}

    def limits(self) -> Limits:
        statuses = self.instance.get("statuses", {})
        return Limits(
            max_length=int(statuses.get("max_characters", 500)),
            max_images=int(statuses.get("max_media_attachments", 4)),
        )

    def measure(self, text: str) -> int:
        reserved = int(self.instance.get("statuses", {}).get("characters_reserved_per_url", 23))
        return counting.mastodon_length(text, reserved)

    def _token(self) -> str:
        return secret(
            self.settings.access_token_env or "MASTODON_ACCESS_TOKEN",
            f"social.{self.name}.access_token_env",
        )

    def check(self) -> None:
        self._token()

    def _call(self, method: str, path: str, **kwargs: object) -> dict:
        extra: Any = kwargs.pop("headers", {})
        headers = {"Authorization": f"Bearer {self._token()}", **extra}
        try:
            response = self.http.request(method, f"{self.base}{path}", headers=headers, **kwargs)
        except requests.RequestException as exc:
            raise ProviderError(f"Cannot reach {self.base}: {exc}") from None
        refused = refusal(
            response,
            auth=f"{self.base} refused the access token for [social.{self.name}] "
            f"(HTTP {response.status_code}). Check {self.settings.access_token_env}.",
            busy=f"{self.base} says too many requests",
            server_error=f"{self.base} answered HTTP {response.status_code}",
            wait=False,
        )
        if refused:
            raise refused
        if not response.ok:
            raise Rejected(_error(response))
        return response.json()

    def publish(self, part: Part, thread: list[Posted], key: str) -> Posted:
        media_ids = []
        for image in part.images:
            with image.path.open("rb") as handle:
                media = self._call(
                    "POST",
                    "/api/v2/media",
                    data={"description": image.alt},
                    files={"file": (image.path.name, handle, image.mime)},
                )
            media_ids.append(media["id"])
        form: dict[str, object] = {
            "status": part.text,
            "visibility": "public",
            "media_ids[]": media_ids,
        }
        if part.lang:  # an ISO 639 code: Mastodon keeps no region (en-GB is en)
            form["language"] = langs.primary(part.lang)
        if thread:
            form["in_reply_to_id"] = thread[-1].remote_id
        status = self._call("POST", "/api/v1/statuses", data=form, headers={"Idempotency-Key": key})
        return Posted(remote_id=str(status["id"]), url=str(status.get("url", "")))

    def fetch_replies(self, since: str | None) -> list:
        params: dict[str, object] = {"types[]": ["mention"], "limit": 40}
        if since:
            params["since_id"] = since
        found = []
        for note in self._call("GET", "/api/v1/notifications", params=params):
            status = note.get("status") or {}
            found.append(
                SocialReply(
                    remote_id=str(note["id"]),
                    author=note["account"]["acct"],
                    text=plain(status.get("content", "")),
                    url=status.get("url") or "",
                    in_reply_to=str(status.get("in_reply_to_id") or ""),
                    raw={"status_id": status.get("id")},
                )
            )
        return found


def _error(response: requests.Response) -> str:
    try:
        return f"HTTP {response.status_code}: {response.json().get('error', response.text[:200])}"
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"


def plain(fragment: str) -> str:
    """Mastodon sends HTML: a readable text with line breaks kept."""
    text = re.sub(r"<br\s*/?>|</p>\s*<p>", "\n", fragment)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


CHANNEL = MastodonChannel
