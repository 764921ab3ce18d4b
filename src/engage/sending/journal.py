"""The deliveries journal: the only code that writes `sends` and `deliveries`.

A send snapshots its audience into `deliveries` (one row per campaign × contact). Rows then
move pending → claimed → sending → sent or failed (or suppressed: skipped when their turn came),
each step committed before the next, so after a crash every row says how far it got:

- claimed: never handed to the provider → safely pending again;
- sending: handed over, result never recorded → unknown: reported, never resent unless asked.

Claiming is engage/journal.py's one claim (owner, one UPDATE over a sub-select, SKIP LOCKED on
PostgreSQL), so no row is ever claimed twice. Several senders may share one send, on one
computer or several: each is a row of `senders` (join, renew, leave), and what a sender left is
settled only once it is no longer working (recover). Reading deliveries is send_status.py's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .. import journal, recipients
from ..contacts import audiences, core
from ..email.base import Outcome, Provider, Unknown
from ..send_status import delivery_counts, is_stopped, senders_of, skip_counts, stopped_text
from ..store import Store
from ..store.schema import contacts, deliveries, senders, sends
from .results import SendError

FREE = {"status": "pending", "batch": None, "owner": None}  # a row nobody has taken
FEW = 20  # answers of more kinds than this (an id for each message) are written row by row
LEFT = (
    "The sender stopped after handing these to the provider "
    "and before recording the result: they may or may not have been sent."
)


@dataclass(frozen=True)
class Reconciliation:
    """How many unknown messages the provider's records showed sent, showed not sent (now
    pending again), and could not settle (still unknown), with why."""

    sent: int = 0
    pending: int = 0
    unknown: int = 0
    note: str = ""


# --- starting -------------------------------------------------------------------------------


def existing(connection: sa.Connection, slug: str, lock: bool = False) -> sa.Row | None:
    """The send of campaign `slug`, when it has started. `lock`: hold its row until the
    transaction ends (PostgreSQL; SQLite's writes are one at a time already), so senders
    joining at the same moment see each other."""
    query = sa.select(sends).where(sends.c.campaign == slug)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def carry_on(connection: sa.Connection, send: sa.Row, resume: bool) -> None:
    """A send a person stopped goes on only with --resume, which clears the stop; one a person
    cancelled never goes on."""
    if not is_stopped(send):
        return
    if not resume or send.cancelled_at is not None:
        raise SendError(stopped_text(connection, send))
    connection.execute(
        sends.update()
        .where(sends.c.id == send.id)
        .values(status="sending", stop_asked_at=None, stop_asked_by=None)
    )


def open_send(
    connection: sa.Connection, slug: str, subject: str, audience: str, provider: str
) -> int:
    """A new send of `slug`, with nobody in it yet; its id."""
    return connection.execute(
        sends.insert()
        .returning(sends.c.id)
        .values(
            campaign=slug,
            subject=subject,
            audience=audience,
            provider=provider,
            status="sending",
            total=0,
            started_at=core.now(),
        )
    ).scalar_one()


def snapshot(connection: sa.Connection, send_id: int, audience: audiences.Audience) -> None:
    """Everyone in the audience now, one pending row each; the send's total."""
    members = (
        recipients.members(audience)
        .add_columns(sa.literal(send_id), sa.literal("pending"), sa.literal(0))
        .order_by(contacts.c.id)  # people go out in the order they were added, on any engine
    )
    connection.execute(
        deliveries.insert().from_select(["contact_id", "send_id", "status", "attempts"], members)
    )
    total = connection.execute(
        sa.select(sa.func.count()).where(deliveries.c.send_id == send_id)
    ).scalar()
    connection.execute(sends.update().where(sends.c.id == send_id).values(total=total))


# --- the senders of a send -----------------------------------------------------------------


def join(connection: sa.Connection, send_id: int, owner: str) -> None:
    """`owner` is one of the send's senders from now on, until it leaves (or stops renewing)."""
    at = core.now()
    connection.execute(
        senders.insert().values(
            send_id=send_id, owner=owner, joined_at=at, expires_at=at + journal.LEASE
        )
    )


def renew(store: Store, send_id: int, owner: str) -> None:
    """Still working: a sender on another computer is trusted until its lease runs out."""
    with store.begin() as connection:
        connection.execute(
            senders.update()
            .where(senders.c.send_id == send_id, senders.c.owner == owner)
            .values(expires_at=journal.lease_end())
        )


def leave(store: Store, send_id: int, owner: str) -> None:
    """`owner` has stopped working on the send (its rows are settled: see release)."""
    with store.begin() as connection:
        connection.execute(
            senders.delete().where(senders.c.send_id == send_id, senders.c.owner == owner)
        )


def recover(store: Store, send_id: int) -> int:
    """Rows left by senders that are no longer working (they died, or ended without settling
    them): claimed ones go back to pending, sending ones are unknown. A live sender's rows are
    never touched, whichever computer it is on. How many went back to pending.

    The send's row is held first (PostgreSQL), as a joining sender holds it (existing): so no
    sender joins, and no other recovery runs, between reading who is live and settling the
    rest. Only dead senders leave the list."""
    with store.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sends.c.id).where(sends.c.id == send_id).with_for_update())
        listed = connection.execute(
            sa.select(senders.c.owner).where(senders.c.send_id == send_id)
        ).scalars()
        live = senders_of(connection, send_id)
        dead = sorted(set(listed) - set(live))
        left = sa.and_(
            deliveries.c.send_id == send_id,
            sa.or_(deliveries.c.owner.is_(None), deliveries.c.owner.not_in(live)),
        )
        freed = connection.execute(
            deliveries.update().where(left, deliveries.c.status == "claimed").values(**FREE)
        ).rowcount
        connection.execute(
            deliveries.update()
            .where(left, deliveries.c.status == "sending")
            .values(status="unknown", error=LEFT)
        )
        if dead:
            connection.execute(
                senders.delete().where(senders.c.send_id == send_id, senders.c.owner.in_(dead))
            )
    return freed


def resend_unknown(store: Store, send_id: int) -> None:
    """--resend-unknown: the team checked, so unknown rows go out again. Anyone the
    provider had in fact taken gets a second copy; that is the risk the flag names."""
    with store.begin() as connection:
        connection.execute(
            deliveries.update()
            .where(deliveries.c.send_id == send_id, deliveries.c.status == "unknown")
            .values(error=None, **FREE)
        )


# --- claiming and recording -----------------------------------------------------------------


def claim(
    store: Store, send_id: int, size: int, fmt: str, owner: str, after: int = 0
) -> tuple[list[sa.Row], int]:
    """Take up to `size` pending rows of people who want `fmt`, with ids above `after`, in one
    statement; those who may not be sent to now are skipped (see skip), the rest come back to
    be sent, with the highest id taken (0: none was). Reading on from `after` keeps each claim
    to its own rows, however far into a million-row send it is, rather than stepping again
    over every row of other formats before them."""
    batch = uuid.uuid4().hex
    with store.begin() as connection:
        free = (
            sa.select(deliveries.c.id)
            .join(contacts, contacts.c.id == deliveries.c.contact_id)
            .where(
                deliveries.c.send_id == send_id,
                deliveries.c.status == "pending",
                deliveries.c.id > after,
                contacts.c.format == fmt,
            )
            .order_by(deliveries.c.id)
            .limit(size)
        )
        journal.claim(
            connection, deliveries, free, status="claimed", batch=batch, owner=owner,
            claimed_at=core.now(),
        )  # fmt: skip
        rows = connection.execute(
            sa.select(
                deliveries.c.id,
                contacts.c.id.label("contact_id"),
                contacts.c.email,
                contacts.c.email_key,  # its suppression-list hash, without reading it again
                contacts.c.name,
                contacts.c.first_name,
                contacts.c.format,
                contacts.c.status,
                contacts.c.lang,
            )
            .join(contacts, contacts.c.id == deliveries.c.contact_id)
            .where(deliveries.c.batch == batch)
            .order_by(deliveries.c.id)
        ).all()
        return _skip(connection, list(rows)), rows[-1].id if rows else 0


def _skip(connection: sa.Connection, rows: list[sa.Row]) -> list[sa.Row]:
    """Checked at the moment of sending: anyone who may not be sent to now (unsubscribed
    since the start, never confirmed, on the suppression list...) is skipped, with why."""
    reasons = recipients.skip_reasons(connection, rows)
    for reason in sorted(set(reasons.values())):
        connection.execute(
            deliveries.update()
            .where(deliveries.c.id.in_([i for i, r in reasons.items() if r == reason]))
            .values(
                status="suppressed",
                skip_reason=reason,
                error=f"skipped when their turn came: {recipients.SKIP_WORDS[reason]}",
            )
        )
    return [row for row in rows if row.id not in reasons]


def mark_sending(
    store: Store,
    ids: list[int],
    owner: str,
    message_ids: tuple[str, str],
    version: tuple[str, str] = ("", ""),
) -> set[int]:
    """Recorded before the provider sees them: if engage dies now, these are unknown. One
    statement for the batch; each row's Message-ID is `message_ids` around its id, and its
    `version` (variant, language) what the person is sent (report.py counts them). Only rows
    `owner` still holds as claimed are marked (a sender whose rows were settled as a dead
    owner's must not send them): the ids marked come back, and only those may be sent."""
    before, after = message_ids
    marked: set[int] = set()
    with store.begin() as connection:
        for chunk in _chunks(ids):
            marked.update(
                connection.execute(
                    deliveries.update()
                    .where(
                        deliveries.c.id.in_(chunk),
                        deliveries.c.status == "claimed",
                        deliveries.c.owner == owner,
                    )
                    .values(
                        status="sending",
                        message_id=sa.literal(before)
                        + sa.cast(deliveries.c.id, sa.String)
                        + sa.literal(after),
                        attempts=deliveries.c.attempts + 1,
                        claimed_at=core.now(),  # handed over now: reconciling counts from here
                        variant=version[0] or None,
                        lang=version[1] or None,
                    )
                    .returning(deliveries.c.id)
                ).scalars()
            )
    return marked


def record(store: Store, outcomes: list[Outcome]) -> None:
    """The provider's answers: sent (with its id) or failed (with why). One statement for
    each kind of answer (a provider that gives one id for the whole batch: one statement)."""
    at = core.now()
    alike: dict[tuple[bool, str, str], list[int]] = {}
    for o in outcomes:
        alike.setdefault((o.sent, o.provider_id, o.error), []).append(o.delivery_id)
    with store.begin() as connection:
        if len(alike) > FEW:  # an id for each message: one statement, many rows
            connection.execute(
                deliveries.update()
                .where(deliveries.c.id == sa.bindparam("id_"))
                .values(
                    status=sa.bindparam("st"),
                    provider_id=sa.bindparam("pid"),
                    error=sa.bindparam("err"),
                    sent_at=sa.bindparam("at"),
                ),
                [
                    {
                        "id_": o.delivery_id,
                        "st": "sent" if o.sent else "failed",
                        "pid": o.provider_id or None,
                        "err": o.error or None,
                        "at": at if o.sent else None,
                    }
                    for o in outcomes
                ],
            )
            return
        for (sent, provider_id, error), ids in alike.items():
            for chunk in _chunks(ids):
                connection.execute(
                    deliveries.update()
                    .where(deliveries.c.id.in_(chunk))
                    .values(
                        status="sent" if sent else "failed",
                        provider_id=provider_id or None,
                        error=error or None,
                        sent_at=at if sent else None,
                    )
                )


def _chunks(ids: list[int], size: int = 1000) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def put(store: Store, ids: list[int], **values: Any) -> None:
    """Set `values` on the deliveries `ids` (claimed again, pending again, unknown...)."""
    with store.begin() as connection:
        connection.execute(deliveries.update().where(deliveries.c.id.in_(ids)).values(**values))


def give_back(store: Store, ids: list[int], error: str | None = None) -> None:
    """Never handed over (or proved not taken): pending again, free for any sender."""
    values: dict[str, Any] = dict(FREE, error=error) if error else dict(FREE)
    put(store, ids, **values)


def release(store: Store, send_id: int, owner: str) -> None:
    """Rows `owner` claimed but never handed over go back to pending."""
    with store.begin() as connection:
        connection.execute(
            deliveries.update()
            .where(
                deliveries.c.send_id == send_id,
                deliveries.c.status == "claimed",
                deliveries.c.owner == owner,
            )
            .values(**FREE)
        )


# --- stopping and finishing -----------------------------------------------------------------


def stop_asked(store: Store, send_id: int) -> tuple[dt.datetime | None, str | None]:
    """When a person asked this send to stop (--stop), and who; (None, None) if nobody has."""
    with store.connect() as connection:
        asked = connection.execute(
            sa.select(sends.c.stop_asked_at, sends.c.stop_asked_by).where(sends.c.id == send_id)
        ).one()
    return asked.stop_asked_at, asked.stop_asked_by


def mark_stopped(store: Store, send_id: int, by: str) -> None:
    """A person stopped this send: only --resume carries it on (`engage run` never does).
    Who asked first stays recorded."""
    with store.begin() as connection:
        connection.execute(
            sends.update()
            .where(sends.c.id == send_id, sends.c.status == "sending")
            .values(
                status="stopped",
                stop_asked_at=sa.func.coalesce(sends.c.stop_asked_at, core.now()),
                stop_asked_by=sa.func.coalesce(sends.c.stop_asked_by, by),
            )
        )


def ask_stop(connection: sa.Connection, send_id: int, by: str) -> None:
    """--stop: ask the send's sender to stop at its next batch (it reads this: stop_asked)."""
    connection.execute(
        sends.update()
        .where(sends.c.id == send_id)
        .values(stop_asked_at=core.now(), stop_asked_by=by)
    )


def cancel(connection: sa.Connection, send_id: int, by: str) -> None:
    """--cancel: stop the send at its next batch, and never carry it on. A stop asked
    before keeps who asked it."""
    at = core.now()
    connection.execute(
        sends.update()
        .where(sends.c.id == send_id)
        .values(
            cancelled_at=at,
            cancelled_by=by,
            stop_asked_at=sa.func.coalesce(sends.c.stop_asked_at, at),
            stop_asked_by=sa.func.coalesce(sends.c.stop_asked_by, by),
        )
    )


def clear_stop(connection: sa.Connection, send_id: int) -> None:
    """A person carries on a send they stopped: nobody has asked it to stop any more, so the
    next sender (`engage run`, the worker of `engage serve`) carries it on."""
    connection.execute(
        sends.update()
        .where(sends.c.id == send_id, sends.c.status != "sent")
        .values(status="sending", stop_asked_at=None, stop_asked_by=None)
    )


def stopped(connection: sa.Connection, send_id: int) -> None:
    """The send is stopped now: nobody is sending it, and a person asked it to stop."""
    connection.execute(sends.update().where(sends.c.id == send_id).values(status="stopped"))


def total(store: Store, send_id: int) -> int:
    with store.connect() as connection:
        found = connection.execute(sa.select(sends.c.total).where(sends.c.id == send_id))
        return found.scalar() or 0


def close(
    store: Store, send_id: int, may_finish: bool
) -> tuple[dict[str, int], dict[str | None, int]]:
    """The send's counts by status and its skips by reason; with nobody left waiting (and
    `may_finish`: not a dry run), the send is marked sent."""
    with store.begin() as connection:
        counts = delivery_counts(connection, send_id)
        skips = skip_counts(connection, send_id)
        waiting = sum(counts.get(s, 0) for s in ("pending", "claimed", "sending"))
        if waiting == 0 and may_finish:
            connection.execute(
                sends.update()
                .where(sends.c.id == send_id, sends.c.status != "sent")
                .values(status="sent", finished_at=core.now())
            )
    return counts, skips


# --- reconciling ----------------------------------------------------------------------------


def reconcile(store: Store, provider: Provider, send_id: int, slug: str) -> Reconciliation:
    """Turn each unknown row into sent or pending from the provider's own records; what
    they cannot settle stays unknown. Raises CannotReconcile for providers without them."""
    with store.connect() as connection:
        rows = connection.execute(
            sa.select(
                deliveries.c.id, deliveries.c.message_id, deliveries.c.claimed_at, contacts.c.email
            )
            .join(contacts, contacts.c.id == deliveries.c.contact_id)
            .where(deliveries.c.send_id == send_id, deliveries.c.status == "unknown")
            .order_by(deliveries.c.id)
        ).all()
    if not rows:
        return Reconciliation()
    unknown = [
        Unknown(
            delivery_id=row.id,
            send_id=send_id,
            email=row.email,
            message_id=row.message_id or "",
            handed_at=row.claimed_at or core.now(),
            campaign=slug,
        )
        for row in rows
    ]
    with provider:
        found = provider.reconcile(unknown)
    at = core.now()
    with store.begin() as connection:
        only_unknown = deliveries.c.status == "unknown"  # never overrule a newer answer
        for delivery_id, provider_id in found.sent.items():
            connection.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id, only_unknown)
                .values(status="sent", provider_id=provider_id or None, error=None, sent_at=at)
            )
        if found.not_sent:
            connection.execute(
                deliveries.update()
                .where(deliveries.c.id.in_(sorted(found.not_sent)), only_unknown)
                .values(error=None, **FREE)
            )
    left = len(rows) - len(found.sent) - len(found.not_sent)
    return Reconciliation(len(found.sent), len(found.not_sent), left, found.note)
