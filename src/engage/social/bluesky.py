"""Bluesky: one session kept and refreshed, facets with UTF-8 byte offsets, alt on images."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from ..config import secret
from ..errors import AuthFailed, ProviderError, Rejected
from ..http import refusal
from ..models import SocialReply
from . import counting, facets
from .base import Channel, Limits, Part, Posted


class BlueskyChannel(Channel):
    network = "bluesky"
    title = "Bluesky"
    session: dict | None = None

    @property
    def base(self) -> str:
        return (self.settings.base_url or "https://bsky.social").rstrip("/")

    def limits(self) -> Limits:
        return Limits(max_length=300, max_images=4, unit="graphemes")

    def measure(self, text: str) -> int:
        return counting.bluesky_length(text)

    def check(self) -> None:
        if not self.settings.handle:
            raise ProviderError(f"Set handle in [social.{self.name}] (like team.bsky.social).")
        self._password()

    def _password(self) -> str:
        return secret(
            self.settings.app_password_env or "BLUESKY_APP_PASSWORD",
            f"social.{self.name}.app_password_env",
        )

    def _xrpc(self, method: str, name: str, token: str | None = None, **kwargs: object) -> dict:
        headers: Any = kwargs.pop("headers", {})
        if token:
            headers = {**headers, "Authorization": f"Bearer {token}"}
        try:
            response = self.http.request(
                method, f"{self.base}/xrpc/{name}", headers=headers, **kwargs
            )
        except requests.RequestException as exc:
            raise ProviderError(f"Cannot reach {self.base}: {exc}") from None
        busy = refusal(  # the key is checked below, once an expired token has been renewed
            response,
            auth="",
            auth_statuses=(),
            busy=f"{self.base} says too many requests",
            server_error=f"{self.base} answered HTTP {response.status_code}",
            wait=False,
        )
        if busy:
            raise busy
        body = response.json() if response.content else {}
        if response.status_code in (400, 401) and body.get("error") == "ExpiredToken":
            raise _Expired()
        if response.status_code == 401 or (name.endswith("createSession") and not response.ok):
            raise AuthFailed(
                f"{self.base} refused the handle or app password for "
                f"[social.{self.name}]. Check {self.settings.app_password_env}."
            )
        if not response.ok:
            raise Rejected(
                f"HTTP {response.status_code}: {body.get('message') or body.get('error')}"
            )
        return body

    def _login(self) -> dict:
        if self.session is None:
            self.session = self._xrpc(
                "POST",
                "com.atproto.server.createSession",
                json={"identifier": self.settings.handle, "password": self._password()},
            )
        return self.session

    def _authed(self, method: str, name: str, **kwargs: object) -> dict:
        session = self._login()
        try:
            return self._xrpc(method, name, session["accessJwt"], **kwargs)
        except _Expired:
            self.session = self._xrpc(
                "POST", "com.atproto.server.refreshSession", session["refreshJwt"]
            )
            return self._xrpc(method, name, self.session["accessJwt"], **kwargs)

    def _resolve(self, handle: str) -> str | None:
        try:
            return self._xrpc(
                "GET", "com.atproto.identity.resolveHandle", params={"handle": handle}
            ).get("did")
        except Rejected:
            return None

    def publish(self, part: Part, thread: list[Posted], key: str) -> Posted:
        session = self._login()
        record: dict[str, object] = {
            "$type": "app.bsky.feed.post",
            "text": part.text,
            "createdAt": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
            "facets": facets.bluesky_facets(part.text, self._resolve),
        }
        if part.lang:  # BCP 47 tags, as written (en-GB, cy)
            record["langs"] = [part.lang]
        if part.images:
            images = []
            for image in part.images:
                blob = self._authed(
                    "POST",
                    "com.atproto.repo.uploadBlob",
                    data=image.path.read_bytes(),
                    headers={"Content-Type": image.mime},
                )["blob"]
                images.append({"image": blob, "alt": image.alt})
            record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
        if thread:
            root, parent = _ref(thread[0].remote_id), _ref(thread[-1].remote_id)
            record["reply"] = {"root": root, "parent": parent}
        made = self._authed(
            "POST",
            "com.atproto.repo.createRecord",
            json={"repo": session["did"], "collection": "app.bsky.feed.post", "record": record},
        )
        rkey = made["uri"].rsplit("/", 1)[-1]
        url = f"https://bsky.app/profile/{self.settings.handle}/post/{rkey}"
        return Posted(remote_id=f"{made['uri']} {made['cid']}", url=url)

    def fetch_replies(self, since: str | None) -> list:
        body = self._authed(
            "GET",
            "app.bsky.notification.listNotifications",
            params={"reasons": ["mention", "reply"], "limit": 50},
        )
        found = []
        for note in body.get("notifications", []):
            record = note.get("record", {})
            handle = note.get("author", {}).get("handle", "")
            rkey = note["uri"].rsplit("/", 1)[-1]
            parent = record.get("reply", {}).get("parent", {}).get("uri", "")
            found.append(
                SocialReply(
                    remote_id=note["uri"],
                    author=handle,
                    text=record.get("text", ""),
                    url=f"https://bsky.app/profile/{handle}/post/{rkey}",
                    in_reply_to=parent,
                    raw={"reason": note.get("reason"), "cid": note.get("cid")},
                )
            )
        return found


def _ref(remote_id: str) -> dict[str, str]:
    uri, _, cid = remote_id.partition(" ")
    return {"uri": uri, "cid": cid}


class _Expired(Exception):
    """The access token has expired: refresh the session and try once more."""


CHANNEL = BlueskyChannel
