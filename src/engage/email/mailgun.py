"""Mailgun: up to 1,000 recipients a call, each message personalised by recipient variables.

The body is sent once per batch with %recipient.x% tags; Mailgun fills them in for each
person, in the subject, the body and the h: headers (List-Unsubscribe, Message-Id, Reply-To).
"""

from __future__ import annotations

import json

from .base import Batch, Item, Outcome, SystemMessage
from .http import BatchRefused, HttpProvider, error_text, merge_values, merged_bodies


def tag(name: str) -> str:
    return f"%recipient.{name}%"


class Mailgun(HttpProvider):
    name = "mailgun"
    batch_size = 1000
    key_setting = "email.mailgun.api_key_env"

    def key_env(self) -> str:
        return self.config.mailgun.api_key_env

    def check(self) -> None:
        super().check()
        if not self.config.mailgun.domain:
            from .base import ProviderError

            raise ProviderError(
                "Set domain in [email.mailgun] of engage.toml (your sending domain)."
            )

    def send_items(self, batch: Batch, items: list[Item]) -> list[Outcome]:
        settings = self.config.mailgun
        html, text = merged_bodies(batch, tag)
        variables = {}
        for item in items:
            headers = batch.headers(item)
            variables[item.email] = {
                **merge_values(batch, item),
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
            files=[(name, (None, value)) for name, value in data],  # multipart: no %-escaping
        )
        if response.status_code == 404:
            from .base import ProviderError

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
            ("h:Message-Id", message.message_id),
            ("o:tag", message.kind),
        ]
        if message.html:
            data.append(("html", message.html))
        response = self.post(
            f"{settings.base_url.rstrip('/')}/v3/{settings.domain}/messages",
            auth=("api", self.key()),
            files=[(name, (None, value)) for name, value in data],
        )
        if response.status_code != 200:
            return Outcome(0, False, error=error_text(response))
        return Outcome(0, True, provider_id=str(response.json().get("id", "")))
