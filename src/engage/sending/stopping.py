"""`engage send CAMPAIGN --stop`, from another terminal: ask the send to stop at its next
batch and wait a while for its senders (one or several) to say they have. A send nobody is
sending (interrupted) is stopped at once, so `engage run` leaves it until `--resume`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from ..errors import EngageError
from ..send_status import senders_of, sent_of
from ..store import Store
from . import journal

STOP_WAIT = 60.0  # seconds `--stop` waits for the sender to say it has stopped


class NothingToStop(EngageError):
    """`--stop` on a campaign that is not sending."""


@dataclass(frozen=True)
class StopAnswer:
    """What `--stop` did: `outcome` is stopped (the sender stopped, or nobody was sending it),
    finished (everything went first), already (stopped before) or asked (the sender has not
    answered yet)."""

    outcome: str
    sent: int
    total: int
    by: str = ""


def ask_to_stop(store: Store, slug: str, by: str, wait: float = STOP_WAIT) -> StopAnswer:
    """Ask the send of `slug` to stop at its next batch, and wait up to `wait` seconds for it.
    A send that nobody is sending (interrupted) is stopped at once, so `engage run` leaves it."""
    with store.begin() as connection:
        row = _send(connection, slug)
        if row.status == "stopped":
            return StopAnswer("already", *sent_of(connection, row), row.stop_asked_by or "")
        journal.ask_stop(connection, row.id, by)
        if not senders_of(connection, row.id):
            journal.stopped(connection, row.id)
            return StopAnswer("stopped", *sent_of(connection, row), by)
    return _wait_for_sender(store, slug, row.id, by, wait)


def _wait_for_sender(store: Store, slug: str, send_id: int, by: str, wait: float) -> StopAnswer:
    """Every sender of the send reads the stop before its next batch: wait for all of them."""
    deadline = time.monotonic() + wait
    while True:
        with store.connect() as connection:
            running = bool(senders_of(connection, send_id))
        if not running:
            return _settle_stop(store, slug, by)
        if time.monotonic() >= deadline:
            with store.connect() as connection:
                return StopAnswer("asked", *sent_of(connection, _send(connection, slug)), by)
        time.sleep(0.1)


def _settle_stop(store: Store, slug: str, by: str) -> StopAnswer:
    """The sender has ended (or died) since the stop was asked: finished, or stopped."""
    with store.begin() as connection:
        row = _send(connection, slug, finished=True)
        if row.status == "sending":
            journal.stopped(connection, row.id)
        outcome = "finished" if row.status == "sent" else "stopped"
        return StopAnswer(outcome, *sent_of(connection, row), by)


def _send(connection: sa.Connection, slug: str, finished: bool = False) -> sa.Row:
    """The send of `slug`; NothingToStop when there is none, or (unless `finished`) when it has
    finished."""
    row = journal.existing(connection, slug)
    if row is None:
        raise NothingToStop(f"{slug} has not started sending, so there is nothing to stop.")
    if row.status == "sent" and not finished:
        sent, total = sent_of(connection, row)
        raise NothingToStop(
            f"{slug} has already been sent ({sent} of {total} went), so there is nothing to stop."
        )
    return row
