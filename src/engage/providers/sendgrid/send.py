"""SendGrid: up to 1,000 personalizations a call, each with its own substitutions and headers.

The body is sent once per batch with -tag- substitutions; custom_args carry our ids and come
back as top-level keys of each webhook event.

Unknown messages are looked up with the Email Activity API (`GET /v3/messages`), which SendGrid
sells as an add-on ("additional email activity history"). Its query language finds messages by
our custom_args (it calls them unique_args); each answer is one list with no further pages, of
at most 1,000 messages. Without the add-on it answers 400 "authorization required", and engage
says it cannot reconcile. See docs/reconcile.md.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable
from urllib.parse import urlsplit

from ...email.base import Batch, Item, Outcome, Reconciled, SystemMessage, Unknown
from ...email.http import BatchRefused, HttpProvider, error_text, merged_bodies, merger
from ...email.records import by_send, mailbox, read_json, still_kept, verdict
from ...errors import CannotReconcile, ProviderError

EU_API = "api.eu.sendgrid.com"  # EU regional subusers: SendGrid keeps no Email Activity there
CHECK_BY_HAND = (
    "look for these people by hand in SendGrid's Activity Feed, then use --resend-unknown "
    "for those who did not get it."
)


def tag(name: str) -> str:
    return f"-{name}-"


class SendGrid(HttpProvider):
    name = "sendgrid"
    batch_size = 1000
    in_flight = 3  # calls at once: the sender prepares the next batch meanwhile
    key_setting = "email.sendgrid.api_key_env"
    # SendGrid documents no delay before a message shows in its Email Activity, and its queues
    # can run late in an outage; this is a margin.
    settle = dt.timedelta(hours=1)
    retention = dt.timedelta(days=7)  # "up to 30 days" with the add-on; engage relies on 7
    chunk = 50  # unknown messages asked about in one query
    limit = 1000  # the most messages one answer holds; there are no further pages

    @property
    def title(self) -> str:
        return "SendGrid"

    def key_env(self) -> str:
        return self.config.sendgrid.api_key_env

    def send_items(self, batch: Batch, items: list[Item]) -> list[Outcome]:
        html, text = merged_bodies(batch, tag)
        values = merger(batch)
        name, address = email.utils.parseaddr(batch.sender)
        content = [{"type": "text/plain", "value": text}]
        if html:
            content.append({"type": "text/html", "value": html})
        payload = {
            "personalizations": [self._personalization(batch, item, values) for item in items],
            "from": {"email": address, **({"name": name} if name else {})},
            "subject": batch.subject,
            "content": content,
            "custom_args": {
                "engage_campaign": batch.campaign,
                "engage_send": str(batch.send_id or 0),
            },
        }
        if batch.tags:
            payload["categories"] = batch.tags[:10]
        response = self.post(
            f"{self.config.sendgrid.base_url.rstrip('/')}/v3/mail/send",
            json=payload,
            headers={"Authorization": f"Bearer {self.key()}"},
        )
        if response.status_code != 202:
            raise BatchRefused(error_text(response))
        message_id = response.headers.get("X-Message-Id", "")
        return [Outcome(item.delivery_id, True, provider_id=message_id) for item in items]

    def _personalization(
        self, batch: Batch, item: Item, values: Callable[[Item], dict[str, str]]
    ) -> dict:
        name, address = email.utils.parseaddr(item.to)
        to = {"email": item.email, **({"name": " ".join(item.name.split())} if item.name else {})}
        headers = batch.headers(item)
        reply_to = headers.pop("Reply-To", "")
        personalization = {
            "to": [to],
            "substitutions": {tag(k): v for k, v in values(item).items()},
            "headers": headers,
            "custom_args": {"engage_delivery": str(item.delivery_id)},
        }
        if reply_to:
            headers["Reply-To"] = reply_to  # the dict personalization holds
        del name, address
        return personalization

    def send_system(self, message: SystemMessage) -> Outcome:
        name, address = email.utils.parseaddr(message.sender)
        content = [{"type": "text/plain", "value": message.text}]
        if message.html:
            content.append({"type": "text/html", "value": message.html})
        headers = message.headers()
        payload: dict[str, object] = {
            "personalizations": [{"to": [{"email": email.utils.parseaddr(message.to)[1]}]}],
            "from": {"email": address, **({"name": name} if name else {})},
            "subject": message.subject,
            "content": content,
            "categories": [message.kind],
        }
        if "Reply-To" in headers:  # a header SendGrid reserves: it has its own field
            reply_name, reply_address = email.utils.parseaddr(headers.pop("Reply-To"))
            payload["reply_to"] = {
                "email": reply_address,
                **({"name": reply_name} if reply_name else {}),
            }
        payload["headers"] = headers
        response = self.post(
            f"{self.config.sendgrid.base_url.rstrip('/')}/v3/mail/send",
            json=payload,
            headers={"Authorization": f"Bearer {self.key()}"},
        )
        if response.status_code != 202:
            return Outcome(0, False, error=error_text(response))
        return Outcome(0, True, provider_id=response.headers.get("X-Message-Id", ""))

    def reconcile(self, unknown: list[Unknown]) -> Reconciled:
        """Ask for the messages of each send that carry the unknown messages' `engage_delivery`,
        `chunk` at a time, and match each one found by its recipient (the answer lists each
        message's recipient and id, not its custom_args)."""
        if urlsplit(self.config.sendgrid.base_url).hostname == EU_API:
            raise CannotReconcile(
                f"SendGrid keeps no Email Activity for EU regional accounts ({EU_API}), so "
                f"engage cannot ask it which messages it took. Instead, {CHECK_BY_HAND}"
            )
        found: dict[int, str] = {}
        complete: set[int] = set()
        for send_id, group in by_send(still_kept(self, unknown)).items():
            for start in range(0, len(group), self.chunk):
                self._look_up(send_id, group[start : start + self.chunk], found, complete)
        return verdict(
            self,
            unknown,
            found,
            complete,
            records="SendGrid's Activity Feed",
            incomplete="SendGrid's answer was full, or two of them went to one address",
        )

    def _look_up(
        self, send_id: int, part: list[Unknown], found: dict[int, str], complete: set[int]
    ) -> None:
        by_address: dict[str, list[Unknown]] = {}
        for item in part:
            by_address.setdefault(mailbox(item.email), []).append(item)
        single = {address: items[0] for address, items in by_address.items() if len(items) == 1}
        messages = self._messages(activity_query(send_id, part))
        for message in messages:
            one = single.get(mailbox(str(message.get("to_email") or "")))
            if one is not None:  # msg_id is the X-Message-Id a send records, then more
                found[one.delivery_id] = str(message.get("msg_id") or "").split(".")[0]
        if len(messages) < self.limit:
            complete.update(item.delivery_id for item in single.values())

    def _messages(self, query: str) -> list[dict]:
        response = self.get(
            f"{self.config.sendgrid.base_url.rstrip('/')}/v3/messages",
            params={"limit": str(self.limit), "query": query},
            headers={"Authorization": f"Bearer {self.key()}"},
            key_refused=(401,),
        )
        if response.status_code == 400 and "authorization required" in response.text.lower():
            raise CannotReconcile(
                "This SendGrid account cannot be asked which messages it took: its Email "
                f'Activity API is a paid add-on ({error_text(response)}). Buy "additional '
                'email activity history" in SendGrid (Account Details > Your Products > Add-ons) '
                f"and give the key Email Activity access, or {CHECK_BY_HAND}"
            )
        if response.status_code == 403:
            raise CannotReconcile(
                f"The SendGrid key in {self.key_env()} may send but not read Email Activity "
                f"({error_text(response)}). Give the key Email Activity access in SendGrid "
                f"(Settings > API Keys), or {CHECK_BY_HAND}"
            )
        if response.status_code != 200:
            raise ProviderError(
                f"SendGrid would not search its Email Activity ({error_text(response)})."
            )
        messages = read_json(self, response).get("messages")
        return messages if isinstance(messages, list) else []


def activity_query(send_id: int, unknown: list[Unknown]) -> str:
    """The Email Activity query for these messages of one send, e.g.
    `unique_args['engage_send']="7" AND (unique_args['engage_delivery']="1" OR ...)`, and
    `AND unique_args['engage_campaign']="slug"` when the campaign is known."""
    deliveries = " OR ".join(f"unique_args['engage_delivery']=\"{u.delivery_id}\"" for u in unknown)
    query = f"unique_args['engage_send']=\"{send_id}\" AND ({deliveries})"
    campaign = unknown[0].campaign.replace("\\", "\\\\").replace('"', '\\"')
    return f"{query} AND unique_args['engage_campaign']=\"{campaign}\"" if campaign else query
