"""Where each campaign's send stands, read-only.

A campaign is one of:

- draft: no send time, never sent;
- scheduled: has a send time, not sent yet (`engage run` sends it once that time has passed);
- sending: one or more processes are sending it right now (each is in `senders`, renewing its
  lease while it works);
- stopped: a person stopped it (`engage send CAMPAIGN --stop`, Ctrl-C, or a `--limit` that was
  reached). Only `engage send CAMPAIGN --resume` carries it on;
- interrupted: its sender ended without finishing and without anyone stopping it (killed,
  the power went, SIGTERM, a provider that stayed down). `engage run` carries it on;
- cancelled: a person cancelled it (the console, `engage send CAMPAIGN --cancel`): like
  stopped, but nothing carries it on, not even --resume;
- sent: everyone in it has been dealt with.

A campaign's send time is its schedule when a person set one (the console, `engage campaigns
schedule`: the `schedules` table, which sending/schedule.py writes), else its file's send_at.
A schedule with no time means a person unscheduled it: nothing sends it by itself.

`sends.status` stores sending, stopped or sent; sending is told apart from interrupted by
whether any of its senders is still working (engage/journal.py: working).

The report, the web pages and the CLI read deliveries and sends through here; only the journal
(engage/sending/journal.py) writes them (stopping a send from another terminal is
engage/sending/stopping.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from . import campaigns as campaign_files
from . import journal
from .campaigns import Campaign, when_text
from .config import Workspace
from .errors import CampaignError
from .store import Store
from .store.schema import deliveries, events, schedules, senders, sends

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
class Schedule:
    """A send time a person set: `send_at` None means they unscheduled the campaign."""

    send_at: dt.datetime | None
    by: str
    at: dt.datetime


def schedules_of(connection: sa.Connection) -> dict[str, Schedule]:
    """Every schedule a person set, by campaign slug."""
    return {
        row.campaign: Schedule(row.send_at, row.set_by, row.set_at)
        for row in connection.execute(sa.select(schedules))
    }


def schedule_of(connection: sa.Connection, slug: str) -> Schedule | None:
    row = connection.execute(sa.select(schedules).where(schedules.c.campaign == slug)).first()
    return Schedule(row.send_at, row.set_by, row.set_at) if row else None


def send_time(campaign: Campaign, schedule: Schedule | None) -> dt.datetime | None:
    """When the campaign goes out by itself: the schedule a person set, else the file's
    send_at; None when it has no time (a draft, or a person unscheduled it)."""
    return schedule.send_at if schedule is not None else campaign.meta.send_at


def send_time_of(store: Store, campaign: Campaign) -> dt.datetime | None:
    """`send_time` of one campaign, read from the store."""
    with store.connect() as connection:
        return send_time(campaign, schedule_of(connection, campaign.slug))


@dataclass(frozen=True)
class CampaignState:
    """Where a campaign stands (see the module's docstring), with counts."""

    status: str
    sent: int = 0
    total: int = 0
    by: str = ""  # sending: the process sending it; stopped, cancelled: who, and how
    at: dt.datetime | None = None  # stopped, cancelled: when
    send_at: dt.datetime | None = None  # when it goes (or went) out by itself
    schedule: Schedule | None = None  # the schedule a person set, if any

    @property
    def went_out(self) -> bool:
        """Whether its send has started (so some people may have it)."""
        return self.status not in ("draft", "scheduled")


def is_stopped(row: sa.Row) -> bool:
    """Whether a person stopped this send (or asked it to stop, and its sender then ended)."""
    return row.status == "stopped" or (row.status == "sending" and row.stop_asked_at is not None)


def state(connection: sa.Connection, row: sa.Row) -> tuple[str, str]:
    """A send's status as people see it, and who: the process sending it, or who stopped it.
    A cancelled send is stopped here (see shown_state)."""
    if row.status == "sending":
        owners = senders_of(connection, row.id)
        if owners:
            return "sending", ", ".join(journal.shown(owner) for owner in owners)
    if is_stopped(row):
        return "stopped", row.stop_asked_by or ""
    return ("interrupted", "") if row.status == "sending" else (row.status, "")


def shown_state(connection: sa.Connection, row: sa.Row) -> tuple[str, str]:
    """`state`, with a send a person cancelled told apart from one they stopped."""
    status, by = state(connection, row)
    if status == "stopped" and row.cancelled_at is not None:
        return "cancelled", row.cancelled_by or ""
    return status, by


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
            status, by = shown_state(connection, row)
            at = {"stopped": row.stop_asked_at, "cancelled": row.cancelled_at}.get(status)
            known[row.campaign] = CampaignState(status, sent.get(row.id, 0), row.total, by, at)
        set_by_people = schedules_of(connection)
    states = {}
    for campaign in found:
        schedule = set_by_people.get(campaign.slug)
        when = send_time(campaign, schedule)
        default = CampaignState("scheduled" if when else "draft")
        got = known.get(campaign.slug, default)
        states[campaign.slug] = dataclasses.replace(got, send_at=when, schedule=schedule)
    return states


@dataclass
class Due:
    """What `engage run` finds to send: campaign slugs, campaign files it cannot read (each a
    problem to report), and sends another process is working on now."""

    slugs: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)


def due(store: Store, workspace: Workspace, now: dt.datetime, people_only: bool = False) -> Due:
    """Campaigns whose send time has passed and that were never sent, plus interrupted sends.
    `people_only` (the worker of `engage serve`): only campaigns whose time a person set (the
    console, `engage campaigns schedule`), never one that only its file's send_at makes due."""
    with store.connect() as connection:
        set_by_people = schedules_of(connection)
        if people_only and all(s.send_at is None for s in set_by_people.values()):
            return Due()  # the worker's poll: nothing a person set, so no file to read
        states = {
            row.campaign: state(connection, row)
            for row in connection.execute(sa.select(sends)).all()
        }
    found = Due()
    for campaign in campaign_files.all_campaigns(workspace):
        if isinstance(campaign, CampaignError):
            if not people_only:
                found.unreadable.append(f"{campaign} (engage run cannot send it until it is fixed)")
            continue
        schedule = set_by_people.get(campaign.slug)
        if people_only and (schedule is None or schedule.send_at is None):
            continue
        when = send_time(campaign, schedule)
        status, by = states.get(campaign.slug, ("", ""))
        if status == "interrupted" or (not status and when is not None and when <= now):
            found.slugs.append(campaign.slug)
        elif status == "sending":
            found.elsewhere.append(f"{campaign.slug} ({by})")
    return found


@dataclass(frozen=True)
class Progress:
    """How a campaign's send stands, for the console's live progress: its status and how many
    of its people were sent, failed, are unknown, were skipped, and are still to go."""

    status: str
    total: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    to_go: int = 0

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def progress(connection: sa.Connection, slug: str) -> Progress | None:
    """The progress of `slug`'s send from the journal; None when it has not started."""
    row = connection.execute(sa.select(sends).where(sends.c.campaign == slug)).first()
    if row is None:
        return None
    counts = delivery_counts(connection, row.id)
    return Progress(
        status=shown_state(connection, row)[0],
        total=row.total,
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        unknown=counts.get("unknown", 0),
        skipped=counts.get("suppressed", 0),
        to_go=sum(counts.get(s, 0) for s in ("pending", "claimed", "sending")),
    )


def stopped_text(connection: sa.Connection, row: sa.Row) -> str:
    """Why a stopped send does not go on by itself, and how to carry it on."""
    sent, total = sent_of(connection, row)
    if row.cancelled_at is not None:
        by = f" by {row.cancelled_by}" if row.cancelled_by else ""
        return (
            f"{row.campaign} was cancelled{by} on {when_text(row.cancelled_at)}: {sent} of "
            f"{total} went. A cancelled send is never carried on, so the rest will not get it."
        )
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
