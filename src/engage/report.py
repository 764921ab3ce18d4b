"""How a campaign went: who it went to, what the email provider told us, and who wrote back.

`build` counts; `Report.as_dict` is the JSON; `as_html` is one page with charts. Where each
number comes from (docs/report.md says the same in plain words):

- recipients: the send's rows in `deliveries`, everyone in the audience when it went out;
  sent, failed, unknown, skipped and waiting are those rows by status. Each skipped row keeps
  why (engage/recipients.py): not confirmed yet, unsubscribed, bounced, and so on.
- status: draft, scheduled, sending, stopped, cancelled, interrupted or sent
  (engage/send_status.py).
- delivered, bounced, complained: people on this send with an `events` row of that type tied
  to their delivery. The outbox and SMTP never report deliveries: delivered is then "not
  available" (null in JSON), never a 0 that looks like a count. A soft and a hard bounce both
  count as bounced; each person counts once. A bounce notice that came back by mail is
  turned into an event too (replies/inbox.py), so events are the one place to count from.
- unsubscribed: people on this send who stopped because of it: a provider's `unsubscribed`
  event for their delivery, the unsubscribe link in this email (a consent withdrawal with
  source "send N", written by subscriptions.unsubscribe), or a reply asking to stop.
- replies: `inbound` rows for this campaign, by kind, all six kinds always present; replies
  per day by the UTC date they arrived.
- reply rate: people this email was sent to who wrote back themselves (story, question,
  unsubscribe or other; not automatic replies or bounce notices), out of everyone it was sent to.

Later parts (stories for a call for stories) add a `Section` through `build(extras=...)`; the
table, JSON and HTML show every section without knowing what it is.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from . import langs, providers, recipients
from .campaigns import FrontMatter
from .send_status import delivery_counts, people_on, people_with_event, shown_state, skip_counts
from .store.schema import REPLY_KINDS, consents, contacts, deliveries, inbound, sends

PERSON_KINDS = ("story", "question", "unsubscribe", "other")  # a person wrote these themselves
WAITING = ("pending", "claimed", "sending")

# What each number means, in the words the table and the HTML page use.
MEANINGS = {
    "recipients": "people in the audience when it went out",
    "sent": "emails handed over to be sent",
    "failed": "emails refused when we sent them",
    "unknown": "may or may not have gone: their answer never came",
    "skipped": "people we did not send it to",
    "waiting": "emails still to send",
    "delivered": "emails the provider says arrived",
    "bounced": "emails that could not be delivered",
    "complained": "people who marked it as spam",
    "unsubscribed": "people who asked to stop getting our emails",
}
KIND_MEANINGS = {
    "story": "shared a story with us",
    "question": "asked us something",
    "unsubscribe": "asked us to stop emailing them",
    "auto-reply": "an automatic reply, like “out of office”",
    "bounce": "a notice that an email did not arrive",
    "other": "anything else a person wrote",
}


@dataclass(frozen=True)
class Section:
    """A part of the report that another module adds: a heading, numbers, a sentence."""

    key: str
    title: str
    rows: list[tuple[str, int]]
    note: str = ""


@dataclass
class Report:
    campaign: str
    subject: str
    kind: str = "newsletter"
    status: str = "draft"  # draft | scheduled | sending | stopped | cancelled | interrupted | sent
    stopped_by: str = ""  # stopped: who stopped it, and how
    stopped_at: dt.datetime | None = None
    send_at: dt.datetime | None = None
    provider: str = ""
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    skipped_because: dict[str | None, int] = field(default_factory=dict)
    waiting: int = 0
    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    unsubscribed: int = 0
    replies: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REPLY_KINDS, 0))
    replied: int = 0  # people it was sent to who wrote back themselves
    per_day: list[tuple[dt.date, int]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    @property
    def is_sent(self) -> bool:
        """Whether its send has started, so some people may have it."""
        return self.status not in ("draft", "scheduled")

    @property
    def reply_rate(self) -> float | None:
        return percent(self.replied, self.sent)

    @property
    def deliveries_reported(self) -> bool:
        """False when the provider cannot tell us (outbox, SMTP) and nothing did."""
        return self.is_sent and (providers.reports_delivery(self.provider) or self.delivered > 0)

    def counts(self) -> list[tuple[str, int | None]]:
        """What happened to the emails. Unknown, skipped and waiting only when there are any;
        delivered is None (not available) when the provider cannot tell us."""
        shown = ["recipients", "sent", "failed", "unknown", "skipped", "waiting"]
        shown = [n for n in shown if n in ("recipients", "sent", "failed") or getattr(self, n)]
        shown += ["delivered", "bounced", "complained", "unsubscribed"]
        return [(name, self._count(name)) for name in shown]

    def _count(self, name: str) -> int | None:
        if name == "delivered" and self.is_sent and not self.deliveries_reported:
            return None
        return getattr(self, name)

    def meaning(self, name: str) -> str:
        """What a number means, in the words of the table and the web page."""
        if name == "skipped" and self.skipped:
            return f"people we did not send it to: {recipients.describe(self.skipped_because)}"
        if name == "delivered" and self._count(name) is None:
            return f"sending through {self.provider} does not tell us when an email arrives"
        return MEANINGS[name]

    def funnel(self) -> list[tuple[str, int]]:
        steps = [("In the audience", self.recipients), ("Sent", self.sent)]
        if self.deliveries_reported:
            steps.append(("Delivered", self.delivered))
        return [*steps, ("Wrote back", self.replied)]

    def summary(self) -> str:
        if self.status == "sent":
            said = f"Sent through {self.provider} on {when(self.finished_at or self.started_at)}."
            return said + self._early()
        if self.status == "sending":
            return f"Still sending through {self.provider}. It started on {when(self.started_at)}."
        if self.status == "stopped":
            by = f" by {self.stopped_by}" if self.stopped_by else ""
            return (
                f"Stopped{by} on {when(self.stopped_at)}, with {self.waiting} still to send. "
                f"`engage send {self.campaign} --resume` sends the rest."
            )
        if self.status == "cancelled":
            by = f" by {self.stopped_by}" if self.stopped_by else ""
            return (
                f"Cancelled{by} on {when(self.stopped_at)}. {self.waiting} people still to send "
                "to will not get it."
            )
        if self.status == "interrupted":
            return (
                f"Interrupted: its sender ended part way, with {self.waiting} still to send. The "
                f"next `engage run` carries it on, or run `engage send {self.campaign}`."
            )
        if self.send_at:
            return f"Not sent yet. It is due to go on {when(self.send_at)}."
        return "Not sent yet."

    def _early(self) -> str:
        """Said when it went before its send_at (sent early with --now)."""
        if self.send_at and self.started_at and self.started_at < self.send_at:
            return f" It was scheduled for {when(self.send_at)}, and sent early."
        return ""

    def notes(self) -> list[str]:
        found = []
        if self.unknown:
            found.append(
                f"{self.unknown} email(s) may or may not have gone. `engage send {self.campaign} "
                "--reconcile` asks the provider's records about them; `--resend-unknown` sends "
                "them again, only once you have checked."
            )
        if self.is_sent and not self.deliveries_reported:
            found.append(
                f"Sending through {self.provider} does not tell us when an email arrives, "
                "so this report cannot count deliveries."
            )
        return found

    def as_dict(self) -> dict[str, Any]:
        """For --format json: always the same keys, in the same order."""
        return {
            "campaign": self.campaign,
            "subject": self.subject,
            "kind": self.kind,
            "status": self.status,
            "send_at": _iso(self.send_at),
            "provider": self.provider or None,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "recipients": self.recipients,
            "sent": self.sent,
            "failed": self.failed,
            "unknown": self.unknown,
            "skipped": self.skipped,
            "skipped_because": {
                reason or "not recorded": n for reason, n in self.skipped_because.items()
            },
            "waiting": self.waiting,
            "delivered": self._count("delivered"),
            "bounced": self.bounced,
            "complained": self.complained,
            "unsubscribed": self.unsubscribed,
            "deliveries_reported": self.deliveries_reported,
            "replies": dict(self.replies),
            "replies_total": sum(self.replies.values()),
            "replied": self.replied,
            "reply_rate": self.reply_rate,
            "replies_per_day": [{"date": d.isoformat(), "replies": n} for d, n in self.per_day],
            "notes": self.notes(),
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "rows": [{"label": label, "count": n} for label, n in s.rows],
                    "note": s.note,
                }
                for s in self.sections
            ],
        }


Extra = Callable[[sa.Connection, Report], Section | None]


def build(
    connection: sa.Connection,
    slug: str,
    *,
    meta: FrontMatter | None = None,
    extras: Sequence[Extra] = (),
) -> Report:
    """Count everything about campaign `slug`; `meta` is its front matter, when it has a file.

    A campaign never sent gets zeros (replies can still come from its social posts)."""
    meta = meta or FrontMatter()
    report = Report(
        campaign=slug,
        subject=meta.subject,
        kind=meta.kind,
        status="scheduled" if meta.send_at else "draft",
        send_at=meta.send_at,
    )
    send = connection.execute(sa.select(sends).where(sends.c.campaign == slug)).first()
    if send is not None:
        report.subject, report.provider = send.subject, send.provider
        report.status, by = shown_state(connection, send)
        if report.status == "stopped":
            report.stopped_by, report.stopped_at = by, send.stop_asked_at
        elif report.status == "cancelled":
            report.stopped_by, report.stopped_at = by, send.cancelled_at
        report.started_at, report.finished_at = send.started_at, send.finished_at
        _count_deliveries(connection, send.id, report)
        _count_events(connection, send.id, report)
        report.unsubscribed = _unsubscribed(connection, send.id, slug)
        report.replied = _replied(connection, send.id, slug)
    _count_replies(connection, slug, report)
    versions = _versions(connection, send.id) if send is not None else []
    report.sections = versions + [
        s for extra in extras if (s := extra(connection, report)) is not None
    ]
    return report


FORMAT_WORDS = {
    "standard": "Email",
    "large-print": "Large print",
    "easy-read": "Easy Read",
    "instead": "Large print, as there was no Easy Read version",
    "plain": "Plain text",
    None: "Not recorded (sent before engage kept it)",
}


def _versions(connection: sa.Connection, send_id: int) -> list[Section]:
    """How many people were sent each format, and each language: the version each delivery
    was handed over as (sending/editions.py chose it). Someone who asked for Easy Read and got
    large print is counted on a line of their own."""
    query = (
        sa.select(deliveries.c.variant, deliveries.c.lang, contacts.c.format, sa.func.count())
        .join(contacts, contacts.c.id == deliveries.c.contact_id)
        .where(deliveries.c.send_id == send_id, deliveries.c.status == "sent")
        .group_by(deliveries.c.variant, deliveries.c.lang, contacts.c.format)
    )
    formats: Counter[str | None] = Counter()
    languages: Counter[str | None] = Counter()
    for variant, lang, fmt, n in connection.execute(query).all():
        asked_easy = variant == "large-print" and fmt == "easy-read"
        formats["instead" if asked_easy else variant] += n
        languages[lang] += n
    if not formats:
        return []
    order = list(FORMAT_WORDS)
    shown = [
        Section(
            "formats",
            "Formats: how many got each",
            [(FORMAT_WORDS.get(v, str(v)), formats[v]) for v in order if formats[v]],
        )
    ]
    if len(languages) > 1:  # one language: nothing to tell apart
        rows = [
            (_language_words(lang), n)
            for lang, n in sorted(languages.items(), key=lambda item: (-item[1], item[0] or ""))
        ]
        shown.append(Section("languages", "Languages: how many got each", rows))
    return shown


def _language_words(lang: str | None) -> str:
    """A delivery's language as the report names it: "Cymraeg (Welsh, cy)", or both."""
    if not lang:
        return FORMAT_WORDS[None]
    tags = lang.split()
    names = " and ".join(langs.english_name(tag) for tag in tags)
    return f"{names} ({', '.join(tags)})" if len(tags) > 1 else f"{names} ({lang})"


def _count_deliveries(connection: sa.Connection, send_id: int, report: Report) -> None:
    counts = delivery_counts(connection, send_id)
    report.recipients = sum(counts.values())
    report.sent, report.failed = counts.get("sent", 0), counts.get("failed", 0)
    report.unknown, report.skipped = counts.get("unknown", 0), counts.get("suppressed", 0)
    report.skipped_because = skip_counts(connection, send_id)
    report.waiting = sum(counts.get(status, 0) for status in WAITING)


def _count_events(connection: sa.Connection, send_id: int, report: Report) -> None:
    types = ("delivered", "bounced", "complained")
    found = people_with_event(send_id, types, with_type=True).distinct().subquery()
    counts: dict[str, int] = dict(
        connection.execute(
            sa.select(found.c.event_type, sa.func.count()).group_by(found.c.event_type)
        ).all()
    )
    report.delivered = counts.get("delivered", 0)
    report.bounced = counts.get("bounced", 0)
    report.complained = counts.get("complained", 0)


def _unsubscribed(connection: sa.Connection, send_id: int, slug: str) -> int:
    by_event = people_with_event(send_id, ("unsubscribed",))
    by_link = sa.select(consents.c.contact_id).where(
        consents.c.action == "withdrawn",
        consents.c.send_id == send_id,  # the unsubscribe link in this send's email
        consents.c.contact_id.in_(people_on(send_id)),
    )
    by_reply = sa.select(inbound.c.contact_id).where(
        inbound.c.campaign == slug,
        inbound.c.kind == "unsubscribe",
        inbound.c.contact_id.in_(people_on(send_id)),
    )
    people = sa.union(by_event, by_link, by_reply).subquery()
    return connection.execute(sa.select(sa.func.count()).select_from(people)).scalar() or 0


def _replied(connection: sa.Connection, send_id: int, slug: str) -> int:
    sent_to = people_on(send_id, "sent")
    return (
        connection.execute(
            sa.select(sa.func.count(sa.distinct(inbound.c.contact_id))).where(
                inbound.c.campaign == slug,
                inbound.c.kind.in_(PERSON_KINDS),
                inbound.c.contact_id.in_(sent_to),
            )
        ).scalar()
        or 0
    )


def _count_replies(connection: sa.Connection, slug: str, report: Report) -> None:
    rows = connection.execute(
        sa.select(inbound.c.kind, inbound.c.received_at).where(inbound.c.campaign == slug)
    ).all()
    for kind, _ in rows:
        report.replies[kind if kind in report.replies else "other"] += 1
    days = Counter(received.date() for _, received in rows)
    if days:
        first, last = min(days), max(days)
        span = (last - first).days + 1
        report.per_day = [
            (day, days[day]) for day in (first + dt.timedelta(days=i) for i in range(span))
        ]


def percent(part: int, whole: int) -> float | None:
    """part of whole as a percentage with one decimal, rounded half up; None for 0 of 0."""
    if not whole:
        return None
    exact = Decimal(part * 100) / Decimal(whole)
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "an unknown date"
