"""Where each campaign's send stands, read-only.

A campaign is one of:

- draft: no send_at, never sent;
- scheduled: has a send_at, not sent yet (`engage run` sends it once that time has passed);
- sending: one or more processes are sending it right now (each is in `senders`, renewing its
  lease while it works);
- stopped: a person stopped it (`engage send CAMPAIGN --stop`, Ctrl-C, or a `--limit` that was
  reached). Only `engage send CAMPAIGN --resume` carries it on;
- interrupted: its sender ended without finishing and without anyone stopping it (killed,
  the power went, SIGTERM, a provider that stayed down). `engage run` carries it on;
- sent: everyone in it has been dealt with.

`sends.status` stores sending, stopped or sent; sending is told apart from interrupted by
whether any of its senders is still working (engage/journal.py: working).

The report, the web pages and the CLI read deliveries and sends through here; only the journal
(engage/sending/journal.py) writes them (stopping a send from another terminal is
engage/sending/stopping.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from . import journal
from .campaigns import when_text
from .store import Store
from .store.schema import deliveries, events, senders, sends

BUSY = (
    "{slug} is being sent right now by another engage{who}. Nobody gets it twice: wait for it "
    "to finish, or stop it with `engage send {slug} --stop`."
)


def senders_of(connection: sa.Connection, send_id: int) -> list[str]:
    """The owners of the processes still working on this send, in the order they joined: a
    sender on this computer while its process runs, one elsewhere until its lease runs out."""
    rows = connection.execute(
        sa.select(senders.c.owner, senders.c.expires_at)
        .where(senders.c.send_id == send_id)
        .order_by(senders.c.joined_at, senders.c.owner)
    ).all()
    return [row.owner for row in rows if journal.working(row.owner, row.expires_at)]


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
        owners = senders_of(connection, row.id)
        if owners:
            return "sending", ", ".join(journal.shown(owner) for owner in owners)
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


def stopped_text(connection: sa.Connection, row: sa.Row) -> str:
    """Why a stopped send does not go on by itself, and how to carry it on."""
    sent, total = sent_of(connection, row)
    by = f" by {row.stop_asked_by}" if row.stop_asked_by else ""
    at = f" on {when_text(row.stop_asked_at)}" if row.stop_asked_at else ""
    return (
        f"{row.campaign} was stopped{by}{at}: {sent} of {total} went. Nobody will get it "
        f"twice: to send the rest, run `engage send {row.campaign} --resume`."
    )


def sent_of(connection: sa.Connection, row: sa.Row) -> tuple[int, int]:
    """How many of the send `row` went, and of how many."""
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


# --- queries other reads build on (the report, the archive) -------------------------------


def people_on(send_id: int, status: str | None = None) -> sa.Select:
    """The contact ids of a send's deliveries (only those in `status`, when given)."""
    query = sa.select(deliveries.c.contact_id).where(deliveries.c.send_id == send_id)
    return query if status is None else query.where(deliveries.c.status == status)


def people_with_event(send_id: int, types: tuple[str, ...], with_type: bool = False) -> sa.Select:
    """The contact ids (and, `with_type`, each event type) of a send's people whose delivery
    has a provider event of one of `types`."""
    columns = [deliveries.c.contact_id] + ([events.c.event_type] if with_type else [])
    return (
        sa.select(*columns)
        .select_from(deliveries.join(events, events.c.delivery_id == deliveries.c.id))
        .where(deliveries.c.send_id == send_id, events.c.event_type.in_(types))
    )


def reached_per_send(statuses: tuple[str, ...], slug: str | None = None) -> sa.Subquery:
    """(send_id, n): how many of each send's deliveries are in `statuses` (one campaign's
    sends only, when `slug` is given)."""
    counted = sa.select(deliveries.c.send_id, sa.func.count().label("n")).where(
        deliveries.c.status.in_(statuses)
    )
    if slug is not None:
        counted = counted.join(sends, sends.c.id == deliveries.c.send_id).where(
            sends.c.campaign == slug
        )
    return counted.group_by(deliveries.c.send_id).subquery()
