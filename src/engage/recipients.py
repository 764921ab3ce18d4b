"""Who a send goes to, and who it skips and why: one owner for the real send, `--dry-run` and
the question `engage send` asks first.

A send's audience is everyone its audience file selects, one contact per mailbox. Of those, a
person is skipped, at the moment their message would go, when their status is not subscribed
(pending: they never confirmed; unsubscribed, bounced, complained, erased) or their address is
on the suppression list under any spelling. The reason is kept with their delivery row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from .contacts import audiences
from .contacts.identity import email_hash, email_hashes, key_hash
from .store.schema import contacts, suppressions

# Why a person was skipped, in the words of `engage send`'s summary line and of the report.
SKIP_WORDS = {
    "pending": "not confirmed yet",
    "unsubscribed": "unsubscribed",
    "bounced": "address bounced",
    "complained": "marked us as spam",
    "erased": "erased",
    "suppressed": "on the suppression list",
    None: "reason not recorded",  # skipped before engage kept the reason
}
# A suppression list entry's reason, as a skip reason.
LISTED = {"unsubscribed": "unsubscribed", "bounced": "bounced", "complained": "complained"}
LISTED |= {"erased": "erased"}
CHUNK = 500  # addresses looked up on the suppression list in one query


def members(audience: audiences.Audience) -> sa.Select:
    """SELECT contacts.id: one contact for each mailbox in the audience (the last guard for
    "one mailbox, one copy", however the contacts table came to hold two)."""
    one_each = (
        sa.select(sa.func.min(contacts.c.id))
        .where(contacts.c.id.in_(audiences.member_ids(audience)))
        .group_by(contacts.c.email_key)
    )
    return sa.select(contacts.c.id).where(contacts.c.id.in_(one_each))


def skip_reasons(connection: sa.Connection, rows: Sequence[Any]) -> dict[int, str]:
    """For each of `rows` (with .id, .email and .status, and .email_key when read with it)
    that must not be sent to now: its id and why."""
    reasons = {row.id: row.status for row in rows if row.status != "subscribed"}
    rest = [row for row in rows if row.id not in reasons]
    for start in range(0, len(rest), CHUNK):
        reasons |= _listed(connection, rest[start : start + CHUNK])
    return reasons


def _listed(connection: sa.Connection, rows: Sequence[Any]) -> dict[int, str]:
    """Rows whose address is on the suppression list (an ASCII address has one hash; another
    may also be listed under older spellings), with the list's reason."""
    pairs = [(hashed, row.id) for row in rows for hashed in _hashes(row)]
    listed = dict(
        connection.execute(
            sa.select(suppressions.c.email_hash, suppressions.c.reason).where(
                suppressions.c.email_hash.in_({hashed for hashed, _ in pairs})
            )
        ).all()
    )
    found: dict[int, str] = {}
    for hashed, row_id in pairs:
        if hashed in listed:
            found.setdefault(row_id, LISTED.get(listed[hashed], "suppressed"))
    return found


def _hashes(row: Any) -> list[str]:
    """The hashes the suppression list may hold for the row's address. An ASCII address has
    one: of its identity, which a row read with its contact's email_key (as a send's claims
    are) carries already."""
    if not row.email.isascii():
        return email_hashes(row.email)
    key = getattr(row, "email_key", None)
    return [key_hash(key)] if key else [email_hash(row.email)]


def describe(skipped: Counter | dict) -> str:
    """Skip counts in words: "1 not confirmed yet, 2 unsubscribed"."""
    order = list(SKIP_WORDS)
    place = {reason: order.index(reason) if reason in order else len(order) for reason in skipped}
    return ", ".join(
        f"{n} {SKIP_WORDS.get(reason, reason)}"
        for reason, n in sorted(skipped.items(), key=lambda item: place[item[0]])
        if n
    )
