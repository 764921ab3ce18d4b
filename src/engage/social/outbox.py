"""The default channel: each post is written as JSON under outbox/social/<channel>/."""

from __future__ import annotations

import json
import time

from . import counting
from .base import Channel, Limits, Part, Posted


class OutboxChannel(Channel):
    network = "outbox"

    def limits(self) -> Limits:
        return Limits(max_length=500)

    def measure(self, text: str) -> int:
        return counting.mastodon_length(text)

    def publish(self, part: Part, thread: list[Posted], key: str) -> Posted:
        folder = self.workspace.root / "outbox" / "social" / self.name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{key}.json"
        record = {
            "channel": self.name,
            "part": part.index,
            "text": part.text,
            "lang": part.lang,
            "images": [{"path": str(i.path), "alt": i.alt} for i in part.images],
            "in_reply_to": thread[-1].remote_id if thread else None,
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
        temporary.replace(path)
        return Posted(remote_id=key, url=path.as_uri())


CHANNEL = OutboxChannel
