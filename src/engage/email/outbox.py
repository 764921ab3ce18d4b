"""The default provider: each message is written as an .eml file under outbox/<campaign>/.

Nothing leaves the machine, so the whole job can be tried with no account anywhere. Each file
is written whole under a temporary name first, then renamed.
"""

from __future__ import annotations

import re
import time

from .base import Batch, Outcome, Provider, Reconciled, SystemMessage, Unknown


class Outbox(Provider):
    name = "outbox"
    batch_size = 500
    unicode_addresses = True  # a file takes any address

    def reconcile(self, unknown: list[Unknown]) -> Reconciled:
        """A message went when its file is there: each is written whole, then renamed."""
        found = Reconciled()
        for campaign in {each.campaign for each in unknown}:
            written = {
                int(number): f"outbox/{campaign}/{path.name}"
                for path in (self.workspace.root / "outbox" / campaign).glob("*.eml")
                if (number := path.name.partition("-")[0]).isdigit()
            }
            for each in unknown:
                if each.campaign != campaign:
                    continue
                if each.delivery_id in written:
                    found.sent[each.delivery_id] = written[each.delivery_id]
                else:
                    found.not_sent.add(each.delivery_id)
        return found

    def send_batch(self, batch: Batch) -> list[Outcome]:
        folder = (
            self.workspace.root
            / "outbox"
            / (batch.campaign + ("-test" if not batch.send_id else ""))
        )
        folder.mkdir(parents=True, exist_ok=True)
        outcomes = []
        for item in batch.items:
            data = batch.raw(item)
            name = f"{item.delivery_id:07d}-{_safe(item.email)}.eml"
            temporary = folder / f".{name}.tmp"
            temporary.write_bytes(data)
            temporary.replace(folder / name)
            outcomes.append(
                Outcome(item.delivery_id, True, provider_id=f"outbox/{folder.name}/{name}")
            )
        return outcomes

    def send_system(self, message: SystemMessage) -> Outcome:
        folder = self.workspace.root / "outbox" / "system" / message.kind
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{_safe(message.to)}.eml"
        temporary = folder / f".{name}.tmp"
        temporary.write_bytes(message.raw())
        temporary.replace(folder / name)
        return Outcome(0, True, provider_id=f"outbox/system/{message.kind}/{name}")


def _safe(address: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", address)[:100]
