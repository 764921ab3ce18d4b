"""`engage send CAMPAIGN --stop` (the console's "Pause"), from another terminal: ask the send
to stop at its next batch and wait a while for its senders (one or several) to say they have.
A send nobody is sending (interrupted) is stopped at once, so `engage run` leaves it until
`--resume` (or the console's "Carry on sending": `resume`).

`--cancel` (the console's "Cancel") stops it the same way, for good: nothing carries a
cancelled send on, not `engage run`, not the console, not `--resume`. Each is noted in the
audit log, in the transaction that asks."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from .. import clock
from ..errors import EngageError
from ..send_status import is_stopped, senders_of, sent_of, stopped_text
from ..store import Store
from ..team import audit
from . import journal
from .schedule import put_schedule

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


def ask_to_stop(
    store: Store,
    slug: str,
    by: str,
    wait: float = STOP_WAIT,
    *,
    actor: str = "",
    cancel: bool = False,
) -> StopAnswer:
    """Ask the send of `slug` to stop at its next batch (`cancel`: for good), and wait up to
    `wait` seconds for it. A send that nobody is sending (interrupted) is stopped at once, so
    `engage run` leaves it. `actor` is noted in the audit log (`by` when not given)."""
    with store.begin() as connection:
        row = _send(connection, slug)
        if row.cancelled_at is not None or (row.status == "stopped" and not cancel):
            who = row.cancelled_by if row.cancelled_at is not None else row.stop_asked_by
            return StopAnswer("already", *sent_of(connection, row), who or "")
        if cancel:
            journal.cancel(connection, row.id, by)
        else:
            journal.ask_stop(connection, row.id, by)
        done = "send cancelled" if cancel else "send paused"
        sent, total = sent_of(connection, row)
        audit.record(connection, actor or by, done, slug, f"{sent} of {total} had gone")
        if row.status == "stopped" or not senders_of(connection, row.id):
            journal.stopped(connection, row.id)
            return StopAnswer("stopped", sent, total, by)
    return _wait_for_sender(store, slug, row.id, by, wait)


class CannotResume(EngageError):
    """A send that is not stopped, or that a person cancelled."""


def resume(store: Store, slug: str, actor: str) -> None:
    """The console's "Carry on sending": clear a person's stop, and set the campaign's
    schedule to now, so the next sender carries it on (the worker of `engage serve`, or
    `engage run`). Nobody gets it twice: the journal knows who has had it."""
    with store.begin() as connection:
        row = journal.existing(connection, slug)
        if row is None or row.status == "sent" or not is_stopped(row):
            raise CannotResume(f"{slug} is not paused, so there is nothing to carry on.")
        if row.cancelled_at is not None:
            raise CannotResume(stopped_text(connection, row))
        journal.clear_stop(connection, row.id)
        put_schedule(connection, slug, clock.now(), actor)
        sent, total = sent_of(connection, row)
        audit.record(connection, actor, "send resumed", slug, f"{sent} of {total} had gone")


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
