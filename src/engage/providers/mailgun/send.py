"""Mailgun: up to 1,000 recipients a call, each message personalised by recipient variables.

The body is sent once per batch with %recipient.x% tags; Mailgun fills them in for each
person, in the subject, the body and the h: headers (List-Unsubscribe, Message-Id, Reply-To).

Unknown messages are looked up in Mailgun's events (`GET /v3/{domain}/events`, the `accepted`
events since they were handed over), which carry our `v:` variables back as
`user-variables`. Mailgun documents these events as complete only after a while: events reach
its storage by different routes, and it advises trusting only pages older than about half an
hour. See docs/reconcile.md.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from urllib.parse import urlsplit

from ...email.base import Batch, Item, Outcome, Reconciled, SystemMessage, Unknown
from ...email.http import (
    BatchRefused,
    HttpProvider,
    error_text,
    form_data,
    merged_bodies,
    merger,
)
from ...email.records import Wanted, read_json, search_window, verdict
from ...errors import ProviderError


def tag(name: str) -> str:
    return f"%recipient.{name}%"


class Mailgun(HttpProvider):
    name = "mailgun"
    batch_size = 1000
    in_flight = 3  # calls at once: the sender prepares the next batch meanwhile
    # Mailgun's API takes internationalised addresses as written: letters beyond ASCII before
    # the @ (it sends with SMTPUTF8) and IDN domains (it converts them to punycode itself).
    unicode_addresses = True
    key_setting = "email.mailgun.api_key_env"
    # Mailgun trusts event pages older than "e.g. half an hour"; twice that leaves room for a
    # request Mailgun was still taking in when engage stopped waiting for it.
    settle = dt.timedelta(hours=1)
    retention = dt.timedelta(days=1)  # events are kept 1 day on free plans, longer on paid ones
    page_size = 300  # the most events Mailgun gives in one page

    def key_env(self) -> str:
        return self.config.mailgun.api_key_env

    def check(self) -> None:
        super().check()
        if not self.config.mailgun.domain:
            raise ProviderError(
                "Set domain in [email.mailgun] of engage.toml (your sending domain)."
            )

    def send_items(self, batch: Batch, items: list[Item]) -> list[Outcome]:
        settings = self.config.mailgun
        html, text = merged_bodies(batch, tag)
        variables, values = {}, merger(batch)
        for item in items:
            headers = batch.headers(item)
            variables[item.email] = {
                **values(item),
                "list_unsubscribe": headers["List-Unsubscribe"],
                "message_id": headers["Message-ID"],
                "reply_to": headers.get("Reply-To", ""),
                "delivery": str(item.delivery_id),
            }
        data: list[tuple[str, str]] = [("from", batch.sender), ("subject", batch.subject)]
        data += [("to", item.to) for item in items]
        data += [("text", text)] + ([("html", html)] if html else [])
        data += [
            ("h:List-Unsubscribe", tag("list_unsubscribe")),
            ("h:List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("h:List-Id", batch.list_id),
            ("h:Message-Id", tag("message_id")),
            ("recipient-variables", json.dumps(variables)),
            ("v:engage_campaign", batch.campaign),
            ("v:engage_send", str(batch.send_id or 0)),
            ("v:engage_delivery", tag("delivery")),
        ]
        if any(item.recipient.reply_to for item in items):
            data.append(("h:Reply-To", tag("reply_to")))
        data += [("o:tag", t) for t in batch.tags[:3]]
        response = self.post(
            f"{settings.base_url.rstrip('/')}/v3/{settings.domain}/messages",
            auth=("api", self.key()),
            **form_data(data),
        )
        if response.status_code == 404:
            raise ProviderError(
                f"Mailgun does not know the domain {settings.domain} at {settings.base_url} "
                f"({error_text(response)}). Check domain and base_url in [email.mailgun]: "
                "EU domains use https://api.eu.mailgun.net."
            )
        if response.status_code != 200:
            raise BatchRefused(error_text(response))
        batch_id = str(response.json().get("id", ""))
        return [Outcome(item.delivery_id, True, provider_id=batch_id) for item in items]

    def send_system(self, message: SystemMessage) -> Outcome:
        settings = self.config.mailgun
        data = [
            ("from", message.sender),
            ("to", message.to),
            ("subject", message.subject),
            ("text", message.text),
            *((f"h:{name}", value) for name, value in message.headers().items()),
            ("o:tag", message.kind),
        ]
        if message.html:
            data.append(("html", message.html))
        response = self.post(
            f"{settings.base_url.rstrip('/')}/v3/{settings.domain}/messages",
            auth=("api", self.key()),
            **form_data(data),
        )
        if response.status_code != 200:
            return Outcome(0, False, error=error_text(response))
        return Outcome(0, True, provider_id=str(response.json().get("id", "")))

    def reconcile(self, unknown: list[Unknown]) -> Reconciled:
        """Look for each unknown message among the `accepted` events since it was handed over,
        by our ids in `user-variables` (or its Message-ID) and its recipient."""
        self.check()
        wanted = Wanted(unknown)
        found: dict[int, str] = {}
        complete: set[int] = set()
        window = search_window(self, unknown)
        if window is not None:
            for event in self._accepted(window.begin, window.end):
                variables = _variables(event.get("user-variables"))
                headers = (event.get("message") or {}).get("headers") or {}
                message_id = str(headers.get("message-id") or "")
                match = wanted.match(variables, [str(event.get("recipient") or "")], message_id)
                if match is not None:
                    found[match.delivery_id] = f"<{message_id}>" if message_id else ""
            complete.update(u.delivery_id for u in window.unknown)
        return verdict(self, unknown, found, complete, records="Mailgun's logs (Sending > Logs)")

    def _accepted(self, begin: dt.datetime, end: dt.datetime) -> Iterator[dict]:
        """Every `accepted` event from `begin` to `end`, oldest first, page by page: Mailgun
        gives the next page's address with each page, and an empty page at the end."""
        settings = self.config.mailgun
        base = settings.base_url.rstrip("/")
        url = f"{base}/v3/{settings.domain}/events"
        params: dict[str, str] | None = {
            "begin": str(math.floor(begin.timestamp())),
            "end": str(math.ceil(end.timestamp())),
            "ascending": "yes",
            "limit": str(self.page_size),
            "event": "accepted",
        }
        while True:
            response = self.get(url, params=params, auth=("api", self.key()))
            if response.status_code == 404:
                raise ProviderError(
                    f"Mailgun does not know the domain {settings.domain} at {settings.base_url} "
                    f"({error_text(response)}). Check domain and base_url in [email.mailgun]."
                )
            if response.status_code != 200:
                raise ProviderError(f"Mailgun would not show its events ({error_text(response)}).")
            page = read_json(self, response)
            items = page.get("items") or []
            if not items:
                return
            yield from items
            url, params = self._next_page(base, page), None

    def _next_page(self, base: str, page: dict) -> str:
        """The next page's address, which must be on the same server: the key goes with it."""
        url = str((page.get("paging") or {}).get("next") or "")
        if urlsplit(url)[:2] != urlsplit(base)[:2]:
            raise ProviderError(
                f"Mailgun's answer gave no next page on {base} (it gave {url!r}), so engage "
                "cannot read all of its events. Check base_url in [email.mailgun]."
            )
        return url


def _variables(value: object) -> dict:
    """An event's `user-variables`: an object, or (in some of Mailgun's answers) its JSON."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}
