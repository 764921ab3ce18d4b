"""Handing one batch to the provider, in the sending thread, and recording every answer the
moment it arrives (journal.py). Only what the provider proves it did not take is tried again
(with backoff, honouring Retry-After); what it may have taken is marked unknown."""

from __future__ import annotations

import random
import threading
from dataclasses import replace

from ..email.base import Batch, Item, Outcome, Provider, Unsendable
from ..errors import LostAnswer, ProviderError, TryLater
from ..store import Store
from . import journal
from .results import Handed, Options


class HandOver:
    """Hands batches of one send to `provider`; `stop` cuts the retries short."""

    def __init__(
        self,
        store: Store,
        provider: Provider,
        options: Options,
        stop: threading.Event,
        owner: str,
    ) -> None:
        self.store, self.provider, self.options, self.stop = store, provider, options, stop
        self.owner = owner  # the sender whose claimed rows these are

    def __call__(self, batch: Batch) -> Handed:
        handed = Handed()
        items = self._addressable(batch, handed)
        wait, tries = self.options.backoff, 0
        while items:
            items = self._mark_sending(batch, items, handed)
            if not items:
                break
            try:
                outcomes = self.provider.send_batch(replace(batch, items=items))
            except TryLater as exc:
                items = self._answered(items, exc.done, handed)
                journal.put(self.store, _ids(items), status="claimed")
                tries += 1
                if tries >= self.options.max_tries or self.stop.is_set():
                    return self._give_back(items, str(exc), handed)
                delay = (
                    exc.retry_after if exc.retry_after is not None else wait * (1 + random.random())
                )
                if self.stop.wait(min(delay, self.options.max_wait)):
                    return self._give_back(items, str(exc), handed)
                wait *= 2
            except LostAnswer as exc:
                items = self._answered(items, exc.done, handed)
                doubt = set(exc.unknown)
                journal.put(self.store, sorted(doubt), status="unknown", error=str(exc))
                handed.count += len(doubt)
                handed.lost.append(f"{exc}: {len(doubt)} message(s) may or may not have gone")
                items = [i for i in items if i.delivery_id not in doubt]
                if items:
                    journal.put(self.store, _ids(items), status="claimed")
                tries += 1
                if items and (tries >= self.options.max_tries or self.stop.is_set()):
                    return self._give_back(items, str(exc), handed)
            except ProviderError as exc:  # a wrong key or domain, a refused sender: stop the send
                items = self._answered(items, exc.done, handed)  # what went before it did
                journal.give_back(self.store, _ids(items))
                raise
            except BaseException:  # engage itself failed while they were with the provider
                journal.put(
                    self.store,
                    _ids(items),
                    status="unknown",
                    error="engage stopped while handing these over",
                )
                raise
            else:
                self._answered(items, outcomes, handed)
                items = []
        return handed

    def _mark_sending(self, batch: Batch, items: list[Item], handed: Handed) -> list[Item]:
        """Mark them sending; the ones this sender no longer holds are left alone, unsent."""
        marked = journal.mark_sending(
            self.store, _ids(items), self.owner, batch.message_ids, (batch.variant, batch.lang)
        )
        if len(marked) < len(items):
            handed.lost.append(
                f"{len(items) - len(marked)} message(s) were no longer this sender's to send "
                "(another sender took them back after this one stopped renewing), so it left "
                "them alone"
            )
        return items if len(marked) == len(items) else [i for i in items if i.delivery_id in marked]

    def _addressable(self, batch: Batch, handed: Handed) -> list[Item]:
        """The batch's people with each address as the provider takes it; anyone whose
        address it cannot take is failed now, with the reason, and the rest go on."""
        items, refused = [], []
        for item in batch.items:
            try:
                address = self.provider.address(item.email)
            except Unsendable as exc:
                refused.append(Outcome(item.delivery_id, False, error=str(exc)))
                continue
            items.append(item if address == item.email else replace(item, email=address))
        if refused:
            self._answered([], refused, handed)
        return items

    def _answered(self, items: list[Item], outcomes: list[Outcome], handed: Handed) -> list[Item]:
        """Record these answers now; the items still without one."""
        if outcomes:
            journal.record(self.store, outcomes)
            handed.count += len(outcomes)
        done = {o.delivery_id for o in outcomes}
        return [i for i in items if i.delivery_id not in done]

    def _give_back(self, items: list[Item], reason: str, handed: Handed) -> Handed:
        """Not taken, and no more tries now: pending again, for the next run."""
        journal.give_back(self.store, _ids(items), error=reason)
        handed.stop = f"{reason}; {len(items)} left for the next run"
        return handed


def _ids(items: list[Item]) -> list[int]:
    return [i.delivery_id for i in items]
