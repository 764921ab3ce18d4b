"""SendGrid: up to 1,000 personalizations a call, each with its own substitutions and headers.

The body is sent once per batch with -tag- substitutions; custom_args carry our ids and come
back as top-level keys of each webhook event.
"""

from __future__ import annotations

import email.utils

from .base import Batch, Item, Outcome, SystemMessage
from .http import BatchRefused, HttpProvider, error_text, merge_values, merged_bodies


def tag(name: str) -> str:
    return f"-{name}-"


class SendGrid(HttpProvider):
    name = "sendgrid"
    batch_size = 1000
    key_setting = "email.sendgrid.api_key_env"

    @property
    def title(self) -> str:
        return "SendGrid"

    def key_env(self) -> str:
        return self.config.sendgrid.api_key_env

    def send_items(self, batch: Batch, items: list[Item]) -> list[Outcome]:
        html, text = merged_bodies(batch, tag)
        name, address = email.utils.parseaddr(batch.sender)
        content = [{"type": "text/plain", "value": text}]
        if html:
            content.append({"type": "text/html", "value": html})
        payload = {
            "personalizations": [self._personalization(batch, item) for item in items],
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

    def _personalization(self, batch: Batch, item: Item) -> dict:
        name, address = email.utils.parseaddr(item.to)
        to = {"email": item.email, **({"name": " ".join(item.name.split())} if item.name else {})}
        headers = batch.headers(item)
        reply_to = headers.pop("Reply-To", "")
        personalization = {
            "to": [to],
            "substitutions": {tag(k): v for k, v in merge_values(batch, item).items()},
            "headers": headers,
            "custom_args": {"engage_delivery": str(item.delivery_id)},
        }
        if reply_to:
            personalization["headers"]["Reply-To"] = reply_to
        del name, address
        return personalization

    def send_system(self, message: SystemMessage) -> Outcome:
        name, address = email.utils.parseaddr(message.sender)
        content = [{"type": "text/plain", "value": message.text}]
        if message.html:
            content.append({"type": "text/html", "value": message.html})
        payload = {
            "personalizations": [{"to": [{"email": email.utils.parseaddr(message.to)[1]}]}],
            "from": {"email": address, **({"name": name} if name else {})},
            "subject": message.subject,
            "content": content,
            "headers": {"Message-ID": message.message_id},
            "categories": [message.kind],
        }
        response = self.post(
            f"{self.config.sendgrid.base_url.rstrip('/')}/v3/mail/send",
            json=payload,
            headers={"Authorization": f"Bearer {self.key()}"},
        )
        if response.status_code != 202:
            return Outcome(0, False, error=error_text(response))
        return Outcome(0, True, provider_id=response.headers.get("X-Message-Id", ""))
