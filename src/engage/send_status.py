"""Where each campaign's send stands, and stopping one from another terminal.

A campaign is one of:

- draft: no send_at, never sent;
- scheduled: has a send_at, not sent yet (`engage run` sends it once that time has passed);
- sending: a process is sending it right now (it holds the campaign's lock);
- stopped: a person stopped it (`engage send CAMPAIGN --stop`, Ctrl-C, or a `--limit` that was
  reached). Only `engage send CAMPAIGN --resume` carries it on;
- interrupted: its sender ended without finishing and without anyone stopping it (killed,
  the power went, SIGTERM, a provider that stayed down). `engage run` carries it on;
- sent: everyone in it has been dealt with.

`sends.status` stores sending, stopped or sent; sending is told apart from interrupted by
whether a process holds the campaign's lock (engage/locks.py).

This is also the one place that reads deliveries and sends for others (the report, the web
pages, the CLI): only the journal (engage/sending/journal.py) writes them.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import sqlalchemy as sa

from . import clock, journal, locks
from .campaigns import when_text
from .errors import EngageError
from .store import Store
from .store.schema import deliveries, sends

STOP_WAIT = 60.0  # seconds `--stop` waits for the sender to say it has stopped
BUSY = (
    "{slug} is being sent right now by another engage{who}. Nobody gets it twice: wait for it "
    "to finish, or stop it with `engage send {slug} --stop`."
)


class NothingToStop(EngageError):
    """`--stop` on a campaign that is not sending."""


def lock_name(slug: str) -> str:
    """The lock that `engage send` and `engage run` both take to send campaign `slug`."""
    return f"send:{slug}"


@dataclass(frozen=True)
class CampaignState:
    """Where a campaign stands (see the module's docstring), with counts."""

    status: str
    sent: int = 0
    total: int = 0
    by: str = ""  # sending: the process sending it; stopped: who stopped it, and how
    at: dt.datetime | None = None  # stopped: when

    @property
    def went_out(self) -> bool:
        """Whether its send has started (so some people may have it)."""
        return self.status not in ("draft", "scheduled")


def is_stopped(row: sa.Row) -> bool:
    """Whether a person stopped this send (or asked it to stop, and its sender then ended)."""
    return row.status == "stopped" or (row.status == "sending" and row.stop_asked_at is not None)


def state(connection: sa.Connection, row: sa.Row) -> tuple[str, str]:
    """A send's status as people see it, and who: the process sending it, or who stopped it."""
    if row.status == "sending":
        owner = locks.holder(connection, lock_name(row.campaign))
        if owner:
            return "sending", journal.shown(owner)
    if is_stopped(row):
        return "stopped", row.stop_asked_by or ""
    return ("interrupted", "") if row.status == "sending" else (row.status, "")


def campaign_states(store: Store, found: list) -> dict[str, CampaignState]:
    """The state of each of `found` (campaigns), by slug."""
    with store.connect() as connection:
        sent: dict[int, int] = dict(
            connection.execute(
                sa.select(deliveries.c.send_id, sa.func.count())
                .where(deliveries.c.status == "sent")
                .group_by(deliveries.c.send_id)
            ).all()
        )
        known = {}
        for row in connection.execute(sa.select(sends)).all():
            status, by = state(connection, row)
            at = row.stop_asked_at if status == "stopped" else None
            known[row.campaign] = CampaignState(status, sent.get(row.id, 0), row.total, by, at)
    states = {}
    for campaign in found:
        default = "scheduled" if campaign.meta.send_at else "draft"
        states[campaign.slug] = known.get(campaign.slug, CampaignState(default))
    return states


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
            return StopAnswer("already", *_counts(connection, row), row.stop_asked_by or "")
        connection.execute(
            sends.update()
            .where(sends.c.id == row.id)
            .values(stop_asked_at=clock.now(), stop_asked_by=by)
        )
        if locks.holder(connection, lock_name(slug)) is None:
            connection.execute(sends.update().where(sends.c.id == row.id).values(status="stopped"))
            return StopAnswer("stopped", *_counts(connection, row), by)
    return _wait_for_sender(store, slug, by, wait)


def _wait_for_sender(store: Store, slug: str, by: str, wait: float) -> StopAnswer:
    deadline = time.monotonic() + wait
    while True:
        with store.connect() as connection:
            running = locks.holder(connection, lock_name(slug)) is not None
        if not running:
            return _settle_stop(store, slug, by)
        if time.monotonic() >= deadline:
            with store.connect() as connection:
                return StopAnswer("asked", *_counts(connection, _send(connection, slug)), by)
        time.sleep(0.1)


def _settle_stop(store: Store, slug: str, by: str) -> StopAnswer:
    """The sender has ended (or died) since the stop was asked: finished, or stopped."""
    with store.begin() as connection:
        row = _send(connection, slug, finished=True)
        if row.status == "sending":
            connection.execute(sends.update().where(sends.c.id == row.id).values(status="stopped"))
        outcome = "finished" if row.status == "sent" else "stopped"
        return StopAnswer(outcome, *_counts(connection, row), by)


def stopped_text(connection: sa.Connection, row: sa.Row) -> str:
    """Why a stopped send does not go on by itself, and how to carry it on."""
    sent, total = _counts(connection, row)
    by = f" by {row.stop_asked_by}" if row.stop_asked_by else ""
    at = f" on {when_text(row.stop_asked_at)}" if row.stop_asked_at else ""
    return (
        f"{row.campaign} was stopped{by}{at}: {sent} of {total} went. Nobody will get it "
        f"twice: to send the rest, run `engage send {row.campaign} --resume`."
    )


def _send(connection: sa.Connection, slug: str, finished: bool = False) -> sa.Row:
    """The send of `slug`; NothingToStop when there is none, or (unless `finished`) when it has
    finished."""
    row = connection.execute(sa.select(sends).where(sends.c.campaign == slug)).first()
    if row is None:
        raise NothingToStop(f"{slug} has not started sending, so there is nothing to stop.")
    if row.status == "sent" and not finished:
        sent, total = _counts(connection, row)
        raise NothingToStop(
            f"{slug} has already been sent ({sent} of {total} went), so there is nothing to stop."
        )
    return row


def _counts(connection: sa.Connection, row: sa.Row) -> tuple[int, int]:
    sent = connection.execute(
        sa.select(sa.func.count()).where(
            deliveries.c.send_id == row.id, deliveries.c.status == "sent"
        )
    ).scalar()
    return sent or 0, row.total


def delivery_counts(connection: sa.Connection, send_id: int) -> dict[str, int]:
    """How many of a send's deliveries are in each status."""
    return dict(
        connection.execute(
            sa.select(deliveries.c.status, sa.func.count())
            .where(deliveries.c.send_id == send_id)
            .group_by(deliveries.c.status)
        ).all()
    )


def skip_counts(connection: sa.Connection, send_id: int) -> dict[str | None, int]:
    """How many of a send's people were skipped, by reason (None: not recorded)."""
    return dict(
        connection.execute(
            sa.select(deliveries.c.skip_reason, sa.func.count())
            .where(deliveries.c.send_id == send_id, deliveries.c.status == "suppressed")
            .group_by(deliveries.c.skip_reason)
        ).all()
    )
