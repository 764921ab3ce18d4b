"""Postmark: up to 500 whole messages a call on a broadcast stream; each has its own result.

Postmark has no merge tags outside its own templates, so each message is sent rendered.
Broadcast streams add Postmark's own unsubscribe link too; unsubscribes come back by webhook.

Unknown messages are looked up with Postmark's outbound message search (`GET
/messages/outbound`), by the `engage_send` metadata every message carries, since the time it
was handed over; each message found carries its `engage_delivery` back. See docs/reconcile.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...email.base import Batch, Item, Outcome, Reconciled, SystemMessage, Unknown
from ...email.http import BatchRefused, HttpProvider, error_text
from ...email.records import Wanted, Window, by_send, read_json, search_window, verdict
from ...errors import ProviderError

EASTERN = "America/New_York"  # Postmark reads fromdate and todate as Eastern Time


class Postmark(HttpProvider):
    name = "postmark"
    batch_size = 500
    in_flight = 3  # calls at once: the sender prepares the next batch meanwhile
    key_setting = "email.postmark.server_token_env"
    # Postmark documents no delay before a message shows in its search; this is a margin.
    settle = dt.timedelta(minutes=30)
    retention = dt.timedelta(days=7)  # 45 days by default; a server may keep as few as 7
    page_size = 500  # the most messages one search answer holds
    search_limit = 10_000  # count + offset may not pass this

    def key_env(self) -> str:
        return self.config.postmark.server_token_env

    def send_items(self, batch: Batch, items: list[Item]) -> list[Outcome]:
        settings = self.config.postmark
        messages = [self._message(batch, item, settings.message_stream) for item in items]
        response = self.post(
            f"{settings.base_url.rstrip('/')}/email/batch",
            json=messages,
            headers={
                "X-Postmark-Server-Token": self.key(),
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
        )
        if response.status_code != 200:
            raise BatchRefused(error_text(response))
        results = response.json()
        outcomes = []
        for item, result in zip(items, results, strict=True):
            if result.get("ErrorCode", 0) == 0:
                outcomes.append(
                    Outcome(item.delivery_id, True, provider_id=str(result.get("MessageID", "")))
                )
            else:
                reason = f"Postmark error {result.get('ErrorCode')}: {result.get('Message', '')}"
                outcomes.append(Outcome(item.delivery_id, False, error=reason))
        return outcomes

    def _message(self, batch: Batch, item: Item, stream: str) -> dict:
        body = batch.rendered(item)
        headers = batch.headers(item)
        reply_to = headers.pop("Reply-To", "")
        message = {
            "From": batch.sender,
            "To": item.to,
            "Subject": batch.subject,
            "TextBody": body.text,
            "Headers": [{"Name": k, "Value": v} for k, v in headers.items()],
            "Metadata": batch.metadata(item),
            "MessageStream": stream,
        }
        if body.html:
            message["HtmlBody"] = body.html
        if reply_to:
            message["ReplyTo"] = reply_to
        if batch.tags:
            message["Tag"] = batch.tags[0]
        return message

    def send_system(self, message: SystemMessage) -> Outcome:
        payload: dict[str, object] = {
            "From": message.sender,
            "To": message.to,
            "Subject": message.subject,
            "TextBody": message.text,
            "Tag": message.kind,
            "MessageStream": "outbound",  # a confirmation is not a broadcast
        }
        headers = message.headers()
        if "Reply-To" in headers:  # Postmark's own field for it
            payload["ReplyTo"] = headers.pop("Reply-To")
        payload["Headers"] = [{"Name": name, "Value": value} for name, value in headers.items()]
        if message.html:
            payload["HtmlBody"] = message.html
        response = self.post(
            f"{self.config.postmark.base_url.rstrip('/')}/email",
            json=payload,
            headers={
                "X-Postmark-Server-Token": self.key(),
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
        )
        if response.status_code != 200:
            return Outcome(0, False, error=error_text(response))
        return Outcome(0, True, provider_id=str(response.json().get("MessageID", "")))

    def reconcile(self, unknown: list[Unknown]) -> Reconciled:
        """Search the messages of each send from just before its unknown ones were handed
        over, by metadata and time; where a search would find more than Postmark lets engage
        page through, ask about each unknown message by its own `engage_delivery` instead."""
        self.key()
        wanted = Wanted(unknown)
        found: dict[int, str] = {}
        complete: set[int] = set()
        for send_id, group in by_send(unknown).items():
            window = search_window(self, group)
            if window is None:
                continue
            if self._search_window(send_id, window, wanted, found):
                complete.update(u.delivery_id for u in window.unknown)
                continue
            for item in window.unknown:
                query = {"metadata_engage_delivery": str(item.delivery_id)}
                if self._search(query, wanted, found):
                    complete.add(item.delivery_id)
        return verdict(self, unknown, found, complete, records="Postmark's Activity page")

    def _search_window(
        self, send_id: int, window: Window, wanted: Wanted, found: dict[int, str]
    ) -> bool:
        fromdate = eastern(window.begin, later=False)
        todate = eastern(window.end, later=True)
        if fromdate is None or todate is None:  # no time zone data: ask message by message
            return False
        query = {
            "metadata_engage_send": str(send_id),
            "fromdate": fromdate,
            "todate": todate,
        }
        return self._search(query, wanted, found)

    def _search(self, query: dict[str, str], wanted: Wanted, found: dict[int, str]) -> bool:
        """Page through one search and note every unknown message it shows. False, having
        read nothing, when it finds more messages than Postmark lets engage page through."""
        for total, messages in self._pages(query):
            if total > self.search_limit:
                return False
            for message in messages:
                metadata = message.get("Metadata") or {}
                recipients = [str(r) for r in message.get("Recipients") or []]
                match = wanted.match(metadata, recipients)
                if match is not None:
                    found[match.delivery_id] = str(message.get("MessageID") or "")
        return True

    def _pages(self, query: dict[str, str]) -> Iterator[tuple[int, list[dict]]]:
        settings = self.config.postmark
        offset = 0
        while True:
            params = {
                "count": str(self.page_size),
                "offset": str(offset),
                "messagestream": settings.message_stream,
                **query,
            }
            response = self.get(
                f"{settings.base_url.rstrip('/')}/messages/outbound",
                params=params,
                headers={"X-Postmark-Server-Token": self.key(), "Accept": "application/json"},
            )
            if response.status_code != 200:
                raise ProviderError(
                    f"Postmark would not search its messages ({error_text(response)})."
                )
            page = read_json(self, response)
            total = int(page.get("TotalCount") or 0)
            messages = page.get("Messages") or []
            yield total, messages
            offset += len(messages)
            if not messages or offset >= min(total, self.search_limit):
                return


def eastern(when: dt.datetime, *, later: bool) -> str | None:
    """`when` as Postmark's fromdate/todate want it: Eastern Time, to the second, rounded
    outwards (down for a start, up for an end, `later`). In the hour that comes twice when the
    clocks go back, an hour more is allowed, since Postmark may read it as either. None when
    this computer has no time zone data."""
    try:
        zone = ZoneInfo(EASTERN)
    except ZoneInfoNotFoundError:
        return None
    local = when.astimezone(zone)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        local += dt.timedelta(hours=1 if later else -1)
    if later:
        local += dt.timedelta(seconds=1)
    return local.strftime("%Y-%m-%dT%H:%M:%S")
