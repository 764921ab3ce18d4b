"""Postmark: up to 500 whole messages a call on a broadcast stream; each has its own result.

Postmark has no merge tags outside its own templates, so each message is sent rendered.
Broadcast streams add Postmark's own unsubscribe link too; unsubscribes come back by webhook.
"""

from __future__ import annotations

from .base import Batch, Item, Outcome, SystemMessage
from .http import BatchRefused, HttpProvider, error_text


class Postmark(HttpProvider):
    name = "postmark"
    batch_size = 500
    key_setting = "email.postmark.server_token_env"

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
        payload = {
            "From": message.sender,
            "To": message.to,
            "Subject": message.subject,
            "TextBody": message.text,
            "Tag": message.kind,
            "MessageStream": "outbound",  # a confirmation is not a broadcast
            "Headers": [{"Name": "Message-ID", "Value": message.message_id}],
        }
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
