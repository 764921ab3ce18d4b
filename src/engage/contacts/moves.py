"""What may happen to a contact, and who may make it happen: the table every change to a
contact's life asks first (contacts/life.py makes the changes).

`MOVES` says which status each change may start from, the status it leaves, who may make it and
what is recorded besides, as a story's steps are decided in stories/steps.py. A change from a
status the table does not give is refused; from a status in its `keeps` it changes nothing, as
the promises need: an unsubscribe of someone already suppressed adds no second withdrawal, a
sign-up of a known address waits for its confirmation, a bounce never subscribes anyone.
Whether a confirmation link is fresh enough to confirm (so an old link never undoes an
unsubscribe) is subscriptions.check_confirmation's to say, before it asks for `confirm`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store.schema import STATUSES
from .core import PERSON, SUPPRESSED_STATUSES, ContactError

NEW = "new"  # no contact yet
TEAM, PROVIDER = "the team", "their provider"  # who, beside the person (PERSON)
EVERY = frozenset(STATUSES)


@dataclass(frozen=True)
class Move:
    """One change to a contact's life: the statuses it may start from, the status it leaves
    (None: as it was; an erasure leaves no contact at all), who may make it, and what it
    records besides."""

    start: frozenset[str]
    to: str | None
    by: frozenset[str]
    records: str
    keeps: frozenset[str] = frozenset()  # statuses it leaves as they are, without refusing


MOVES: dict[str, Move] = {
    "add": Move(frozenset({NEW}), "subscribed", frozenset({TEAM}), "consent given; tags"),
    "import": Move(
        frozenset({NEW, "pending", "subscribed"}),
        "subscribed",
        frozenset({TEAM}),
        "consent given when the import says something new about it; tags; the row's details",
    ),
    "sign-up": Move(
        frozenset({NEW}),
        "pending",
        frozenset({PERSON}),
        "nothing more: consent only when they confirm",
        keeps=EVERY,
    ),
    "sender": Move(
        frozenset({NEW}),
        "pending",
        frozenset({PERSON}),
        "nothing: someone who only wrote to us is never mailed",
        keeps=EVERY,
    ),
    "confirm": Move(
        EVERY - {"subscribed"},
        "subscribed",
        frozenset({PERSON}),
        "consent given; the suppression entry lifted, under every spelling; sign-up tags",
        keeps=frozenset({"subscribed"}),
    ),
    "unsubscribe": Move(
        frozenset({"pending", "subscribed"}),
        "unsubscribed",
        frozenset({PERSON, TEAM}),
        "consent withdrawn; a suppression entry",
        keeps=frozenset(SUPPRESSED_STATUSES),
    ),
    "bounce": Move(EVERY, "bounced", frozenset({PROVIDER}), "a suppression entry"),
    "complain": Move(EVERY, "complained", frozenset({PROVIDER}), "a suppression entry"),
    "tags": Move(frozenset({"subscribed"}), None, frozenset({PERSON, TEAM}), "a change"),
    "preferences": Move(EVERY - {"erased"}, None, frozenset({PERSON}), "a change"),
    "handle": Move(EVERY, None, frozenset({TEAM}), "the handle; earlier replies matched"),
    "erase": Move(EVERY, None, frozenset({TEAM}), "all deleted; a hash kept as suppression"),
}


def check(name: str, status: str, by: str) -> bool:
    """True if change `name` is to be made from `status` by `by`; False if it leaves this
    status as it is; else refused with ContactError."""
    move = MOVES[name]
    if by not in move.by:
        raise ContactError(f"Only {' or '.join(sorted(move.by))} may {name} a contact.")
    if status in move.keeps:
        return False
    if status not in move.start:
        raise ContactError(f"A contact who is {status} cannot be given the change {name!r}.")
    return True


def who(by: str) -> str:
    """Who made a change, for the table: the person, or (any team member's name) the team."""
    return PERSON if by == PERSON else TEAM


def may_import(status: str) -> bool:
    """False for a status an import never subscribes again (a suppressed one)."""
    return status in MOVES["import"].start
