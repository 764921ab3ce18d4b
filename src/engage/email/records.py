"""Asking a provider's own records about unknown messages: what every provider shares.

A message is *unknown* when engage handed it over and never heard the answer. Each HTTP provider
searches its own records its own way (Mailgun's events, Postmark's message search, SendGrid's
Email Activity) and reports what it found and which messages its search covered completely.
`verdict` then applies one rule for all of them:

- a message the records show was accepted is *sent*;
- a message they do not show is *not sent* only when the search covered it completely, it was
  handed over at least `settle` ago (the provider's records can lag behind; after that they
  are complete) and not so long ago that the provider may have dropped its records;
- anything else stays unknown, and the note says why and what to do.

Nothing here changes a delivery: the sender records what comes back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import requests

from .. import clock
from ..addresses import InvalidEmail
from ..config import Email
from ..contacts.identity import identity
from ..errors import ProviderError
from .base import Reconciled, Unknown

MARGIN = dt.timedelta(minutes=5)  # clocks differ: search from a little before the hand-over


class Keeper(Protocol):
    """A provider that keeps records engage can ask about."""

    config: Email
    settle: dt.timedelta  # how long after a hand-over its records are complete
    retention: dt.timedelta  # how long it is sure to keep them

    @property
    def title(self) -> str: ...


def settle_for(provider: Keeper) -> dt.timedelta:
    """How long after a hand-over the provider's records are complete: its own figure
    (`settle`), or `[email] reconcile_settle_seconds` when the workspace sets it."""
    seconds = provider.config.reconcile_settle_seconds
    return provider.settle if seconds is None else dt.timedelta(seconds=seconds)


@dataclass(frozen=True)
class Window:
    """The time to search a provider's records in for some unknown messages: from a little
    before the first was handed over until now. It ends now, not when the messages' records
    settle, because a provider may take a request well after the batch was claimed (after
    retries), and a record that is already there must always be found."""

    begin: dt.datetime
    end: dt.datetime
    unknown: list[Unknown]


def still_kept(provider: Keeper, unknown: Iterable[Unknown]) -> list[Unknown]:
    """The unknown messages recent enough for the provider to keep their records; older ones
    are not asked about, and stay unknown (see `verdict`)."""
    now = clock.now()
    return [u for u in unknown if now - u.handed_at <= provider.retention]


def search_window(provider: Keeper, unknown: Iterable[Unknown]) -> Window | None:
    """The window for the unknown messages whose records the provider still keeps; None when
    it keeps none of them."""
    kept = still_kept(provider, unknown)
    if not kept:
        return None
    begin = min(u.handed_at for u in kept) - MARGIN
    return Window(begin, max(begin, clock.now()), kept)


def by_send(unknown: Iterable[Unknown]) -> dict[int, list[Unknown]]:
    groups: dict[int, list[Unknown]] = {}
    for item in unknown:
        groups.setdefault(item.send_id, []).append(item)
    return groups


def mailbox(address: str) -> str:
    """Whose mailbox an address names (engage.contacts.identity), so a provider may hand it
    back in any spelling; something that is not an address stays as it is, without case."""
    text = address.strip().strip("<>")
    try:
        return identity(text)
    except InvalidEmail:
        return text.casefold()


def bare_id(message_id: str) -> str:
    """A Message-ID without its angle brackets, as providers' records show it."""
    return message_id.strip().strip("<>").strip()


class Wanted:
    """The unknown messages being looked for, found by engage's ids (which providers hand back
    as metadata) or by their Message-ID. The recipient must match too, and the campaign when
    both sides name one, so a record from another workspace on the same account that happens to
    carry the same ids is not taken for ours."""

    def __init__(self, unknown: Iterable[Unknown]) -> None:
        self.by_ids = {(u.send_id, u.delivery_id): u for u in unknown}
        self.by_message_id = {bare_id(u.message_id): u for u in self.by_ids.values()}

    def match(
        self, metadata: dict, recipients: Iterable[str], message_id: str = ""
    ) -> Unknown | None:
        """The unknown message a record is about: `metadata` is what came back of the ids
        engage sent (engage_campaign, engage_send, engage_delivery)."""
        found = None
        with contextlib.suppress(ValueError):
            ids = (int(str(metadata.get("engage_send"))), int(str(metadata.get("engage_delivery"))))
            found = self.by_ids.get(ids)
        if found is None and message_id:
            found = self.by_message_id.get(bare_id(message_id))
        if found is None or mailbox(found.email) not in {mailbox(r) for r in recipients}:
            return None
        campaign = str(metadata.get("engage_campaign") or "")
        if found.campaign and campaign and campaign != found.campaign:
            return None
        return found


def verdict(
    provider: Keeper,
    unknown: list[Unknown],
    found: dict[int, str],
    complete: set[int],
    *,
    records: str,
    incomplete: str = "",
) -> Reconciled:
    """The one rule (see the module's docstring) applied to what a provider's search found.
    `records`: where a person can look by hand, e.g. "Mailgun's logs"; `incomplete`: why some
    messages could not be searched completely."""
    now = clock.now()
    settle = settle_for(provider)
    retention = provider.retention
    wanted = {u.delivery_id for u in unknown}
    result = Reconciled(sent={d: p for d, p in found.items() if d in wanted})
    waiting: list[Unknown] = []
    too_old: list[Unknown] = []
    unsearched: list[Unknown] = []
    for item in unknown:
        if item.delivery_id in result.sent:
            continue
        age = now - item.handed_at
        if age < settle:
            waiting.append(item)
        elif age > retention:
            too_old.append(item)
        elif item.delivery_id not in complete:
            unsearched.append(item)
        else:
            result.not_sent.add(item.delivery_id)
    title = provider.title
    notes = []
    ahead = [u for u in waiting if u.handed_at > now]
    recent = [u for u in waiting if u.handed_at <= now]
    if recent:
        after = max(u.handed_at for u in recent) + settle
        notes.append(
            f"{_count(recent)} handed to {title} less than {span(settle)} ago, and its records "
            f"may not be complete yet. Ask again after {moment(after)}."
        )
    if ahead:
        # Another computer sending the same campaign recorded the hand-over by a clock that
        # runs ahead of this one's: wait until this clock has passed it too.
        after = max(u.handed_at for u in ahead) + settle
        notes.append(
            f"{_count(ahead)} handed to {title} at a time this computer's clock has not "
            f"reached yet: the clocks of the computers that send may differ, so check that "
            f"they keep time. Ask again after {moment(after)}."
        )
    if too_old:
        notes.append(
            f"{_count(too_old)} handed over more than {span(retention)} ago, longer than "
            f"{title} is sure to keep its records. Look for {_them(too_old)} by hand in "
            f"{records}."
        )
    if unsearched:
        notes.append(
            f"{_messages(unsearched)} could not be looked up completely"
            + (f": {incomplete}" if incomplete else "")
            + f". Look for {_them(unsearched)} by hand in {records}."
        )
    result.note = " ".join(notes)
    return result


def read_json(provider: Keeper, response: requests.Response) -> dict:
    """The JSON object a records API answered, or a ProviderError that says what came."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ProviderError(
            f"{provider.title} answered engage's question about its records with something "
            f"that is not a JSON object (HTTP {response.status_code}): {response.text[:200]!r}"
        )
    return data


def span(delta: dt.timedelta) -> str:
    """A duration in words: "1 hour", "30 minutes", "7 days", "90 seconds"."""
    seconds = round(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return _plural(seconds // size, unit)
    if seconds >= 3600:
        return _plural(round(seconds / 60), "minute")
    return _plural(seconds, "second")


def moment(when: dt.datetime) -> str:
    """A time in words, in UTC, to the next whole minute: "1 December 2026, 10:05 UTC"."""
    when = when.astimezone(dt.UTC)
    if when.second or when.microsecond:
        when = when.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return f"{when.day} {when:%B %Y, %H:%M} UTC"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _count(items: list[Unknown]) -> str:
    return "1 message was" if len(items) == 1 else f"{len(items)} messages were"


def _messages(items: list[Unknown]) -> str:
    return "1 message" if len(items) == 1 else f"{len(items)} messages"


def _them(items: list[Unknown]) -> str:
    return "it" if len(items) == 1 else "them"
