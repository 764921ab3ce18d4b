"""The public archive: each newsletter as it went out, and the team's say over its page.

A real send freezes its web version when it starts (`freeze`, called by sending.Sender in the
transaction that creates the send): the subject, the date, the email as the archive shows it
(standard and large print) and its plain text. So a crash mid-send still has it, and neither a
resumed send nor a later edit to the campaign file changes it. The archive serves only that copy.

A page is public when its send reached someone (a message sent, or one that may have gone:
people follow the "view in browser" link in the emails that did arrive) and
the team has not taken it down (`remove`; `restore` puts it back). Test copies (`engage send
--test-to`) make no send, so they never appear; nor does a send that reached nobody.

Sends from before engage kept copies have none. The first time such a page is opened, a copy is
made from the campaign file as it is then, and marked as copied later: `engage archive list`
says so, since the file may have changed after the send.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from . import campaigns as campaign_files
from . import langs
from .campaigns import Campaign
from .config import Workspace
from .contacts import core
from .errors import EngageError
from .render.build import build
from .render.personal import Recipient
from .send_status import reached_per_send
from .store import Store
from .store.schema import archive_pages, sends

# A delivery that went, or may have gone: sent, handed to the provider with no answer yet
# (sending), or whose answer was lost (unknown).
REACHED = ("sent", "sending", "unknown")
ORIGIN_WORDS = {
    "send": "kept when it was sent",
    "file": "made from the campaign file after it was sent",
    "": "not kept: made from the campaign file when the page is first opened",
}


class ArchiveError(EngageError):
    """A campaign has no archive page to change, or cannot be found."""


class NotInArchive(ArchiveError):
    """No public page at this address (never sent, reached nobody, or no copy to show)."""


class TakenDown(NotInArchive):
    """The team took this page down."""


@dataclass(frozen=True)
class Entry:
    """One sent campaign as the archive sees it."""

    campaign: str
    subject: str
    sent_on: dt.date | None
    address: str
    reached: int  # messages sent, or that may have gone
    origin: str  # send | file | "" (see ORIGIN_WORDS)
    removed_at: dt.datetime | None = None
    removed_by: str = ""
    removed_note: str = ""

    @property
    def state(self) -> str:
        if self.removed_at is not None:
            return "taken down"
        return "public" if self.reached else "hidden"

    @property
    def date(self) -> str:
        return day_words(self.sent_on)

    @property
    def why(self) -> str:
        """What a person needs to know about this page, in a few words."""
        if self.removed_at is not None:
            said = f"taken down by {self.removed_by or 'someone'} on {day_words(self.removed_at)}"
            return f"{said}: {self.removed_note}" if self.removed_note else said
        if not self.reached:
            return "reached nobody, so it is not shown"
        return f"copy {ORIGIN_WORDS[self.origin]}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "subject": self.subject,
            "sent_on": self.sent_on.isoformat() if self.sent_on else None,
            "address": self.address,
            "state": self.state,
            "reached": self.reached,
            "copy": self.origin or None,
            "removed_at": self.removed_at.isoformat() if self.removed_at else None,
            "removed_by": self.removed_by or None,
            "removed_note": self.removed_note or None,
        }


@dataclass(frozen=True)
class Page:
    """The frozen copy the archive serves."""

    campaign: str
    subject: str
    html: str
    large_print: str
    text: str


def day_words(when: dt.date | None) -> str:
    """A day as people write it: 3 December 2026."""
    return f"{when.day} {when:%B %Y}" if when else ""


def address(workspace: Workspace, slug: str) -> str:
    """The public web address of a campaign's archive page: the email's "view in browser"."""
    return f"{workspace.config.web.base_url.rstrip('/')}/archive/{slug}"


def page_key(workspace: Workspace, campaign: Campaign) -> str:
    """The archive page of a campaign or a version: the slug, or slug.cy for a translation
    (an Easy Read version is read on its campaign's page, in its language)."""
    lang = campaign.lang
    if not lang or langs.same(lang, workspace.config.organisation.lang):
        return campaign.slug
    return f"{campaign.slug}.{lang}"


def slug_of(ref: str) -> str:
    """A campaign given as a slug or as its file's path (campaigns/news.md)."""
    return Path(ref).stem if ref.endswith(".md") or "/" in ref else ref


# --- freezing ---------------------------------------------------------------------------


def freeze(
    connection: sa.Connection, workspace: Workspace, campaign: Campaign, send_id: int
) -> None:
    """Keep the archive's copy of `campaign` as it goes out now, and of each translation of it
    (its page is slug.cy: the web version its readers' emails link to). Called in the
    transaction that creates the send, so the send and its copies are stored together or not
    at all. A copy already kept is never changed."""
    _freeze(connection, workspace, campaign, campaign.slug, send_id)
    for version in campaign_files.versions(workspace, campaign):
        key = page_key(workspace, version)
        if not version.form and key != campaign.slug:
            _freeze(connection, workspace, version, key, send_id)


def _freeze(
    connection: sa.Connection, workspace: Workspace, campaign: Campaign, key: str, send_id: int
) -> None:
    kept = connection.execute(
        sa.select(archive_pages.c.origin).where(archive_pages.c.campaign == key)
    ).first()
    if kept is not None and kept.origin:
        return
    at = core.now()
    values = {
        **_copy(workspace, campaign, key),
        "send_id": send_id,
        "sent_at": at,
        "sent_on": _local_day(at, campaign),
        "origin": "send",
        "frozen_at": at,
    }
    if kept is None:
        connection.execute(archive_pages.insert().values(campaign=key, **values))
    else:
        connection.execute(
            archive_pages.update().where(archive_pages.c.campaign == key).values(values)
        )


def _copy(workspace: Workspace, campaign: Campaign, key: str = "") -> dict[str, str]:
    """The campaign rendered for the archive: for nobody in particular, no personal links."""
    built = build(workspace, campaign)
    base = workspace.config.web.base_url.rstrip("/")
    reader = Recipient(
        email="",
        unsubscribe_url=f"{base}/unsubscribe",
        preferences_url=f"{base}/subscribe",
        web_version_url=address(workspace, key or campaign.slug),
    )
    return {
        "subject": campaign.meta.subject,
        "preheader": campaign.meta.preheader,
        "html": built.html["standard"].render(reader),
        "large_print": built.html["large-print"].render(reader),
        "text": built.text.render(reader),
    }


def _local_day(at: dt.datetime, campaign: Campaign | None) -> dt.date:
    """The day `at` falls on where the campaign was planned (its send_at's zone), else UTC."""
    zone = campaign.meta.send_at.tzinfo if campaign and campaign.meta.send_at else None
    return at.astimezone(zone or dt.UTC).date()


# --- reading ----------------------------------------------------------------------------


def entries(store: Store, workspace: Workspace, slug: str | None = None) -> list[Entry]:
    """Every sent campaign (or only `slug`), newest first, with what its archive page shows."""
    reached = reached_per_send(REACHED, slug)
    query = (
        sa.select(
            sends.c.campaign,
            sends.c.subject.label("send_subject"),
            sends.c.started_at,
            archive_pages.c.subject,
            archive_pages.c.sent_on,
            archive_pages.c.origin,
            archive_pages.c.removed_at,
            archive_pages.c.removed_by,
            archive_pages.c.removed_note,
            sa.func.coalesce(reached.c.n, 0).label("reached"),
        )
        .select_from(
            sends.outerjoin(archive_pages, archive_pages.c.campaign == sends.c.campaign).outerjoin(
                reached, reached.c.send_id == sends.c.id
            )
        )
        .order_by(sends.c.started_at.desc(), sends.c.id.desc())
    )
    if slug is not None:
        query = query.where(sends.c.campaign == slug)
    with store.connect() as connection:
        return [_entry(workspace, row) for row in connection.execute(query)]


def _entry(workspace: Workspace, row: sa.Row) -> Entry:
    return Entry(
        campaign=row.campaign,
        subject=row.subject or row.send_subject,
        sent_on=row.sent_on or _local_day(row.started_at, None),
        address=address(workspace, row.campaign),
        reached=row.reached,
        origin=row.origin or "",
        removed_at=row.removed_at,
        removed_by=row.removed_by or "",
        removed_note=row.removed_note or "",
    )


def public(store: Store, workspace: Workspace) -> list[Entry]:
    """What the archive's index lists: every page anyone may see, newest first."""
    return [e for e in entries(store, workspace) if e.state == "public"]


def entry(store: Store, workspace: Workspace, ref: str) -> Entry:
    """One sent campaign's archive entry; a clear error when it was never sent."""
    slug = slug_of(ref)
    found = entries(store, workspace, slug)
    if found:
        return found[0]
    if workspace.named_file("campaigns", slug, ".md"):
        raise ArchiveError(f"{slug} has not been sent, so it has no page in the archive.")
    sent = ", ".join(sorted(e.campaign for e in entries(store, workspace))) or "none yet"
    raise ArchiveError(f"No sent campaign called '{slug}'. Campaigns sent so far: {sent}.")


def page(store: Store, workspace: Workspace, slug: str) -> Page:
    """The frozen copy of a public page. Raises TakenDown for a page the team took down, and
    NotInArchive for anything else that is not public. A translation's page (slug.cy) is
    public when its campaign's is."""
    try:
        found = entry(store, workspace, slug)
    except ArchiveError:
        base, _, lang = slug.rpartition(".")
        if not (base and langs.is_tag(lang)):
            raise NotInArchive(f"{slug} is not in the archive.") from None
        return _translation(store, workspace, base, slug)
    if found.state == "taken down":
        raise TakenDown(f"{slug} was taken down.")
    if found.state != "public":
        raise NotInArchive(f"{slug} reached nobody.")
    if not found.origin:
        _copy_from_file(store, workspace, slug)
    kept = _kept(store, slug)
    if kept is None:
        raise NotInArchive(f"{slug}: no copy was kept, and its campaign file cannot be read.")
    return kept


def _kept(store: Store, key: str) -> Page | None:
    """The copy kept under `key` (a slug, or slug.cy for a translation), if there is one."""
    with store.connect() as connection:
        row = connection.execute(
            sa.select(archive_pages).where(archive_pages.c.campaign == key)
        ).first()
    if row is None or row.html is None:
        return None
    return Page(key, row.subject, row.html, row.large_print or row.html, row.text or "")


def _translation(store: Store, workspace: Workspace, base: str, key: str) -> Page:
    """A translation's frozen copy, shown (or taken down) with its campaign's page. One
    written after the send started is copied from its file, marked as copied later."""
    original = page(store, workspace, base)
    kept = _kept(store, key)
    if kept is None:
        _translation_from_file(store, workspace, key)
        kept = _kept(store, key)
    if kept is None:
        raise NotInArchive(f"{key}: {original.campaign} has no version in this language.")
    return kept


def _translation_from_file(store: Store, workspace: Workspace, key: str) -> None:
    """Keep a copy of a translation written after its campaign was sent (its file, as it is
    now). Nothing when there is no such translation."""
    try:
        version = campaign_files.load(workspace, key)
    except EngageError:
        return
    if not version.is_version or version.form or page_key(workspace, version) != key:
        return
    base = version.slug
    try:
        with store.begin() as connection:
            send = connection.execute(
                sa.select(sends.c.id, sends.c.started_at).where(sends.c.campaign == base)
            ).first()
            if send is None:
                return
            values = {**_copy(workspace, version, key), "origin": "file", "frozen_at": core.now()}
            connection.execute(
                archive_pages.insert().values(
                    campaign=key,
                    send_id=send.id,
                    sent_at=send.started_at,
                    sent_on=_local_day(send.started_at, version),
                    **values,
                )
            )
    except sa.exc.IntegrityError:  # another request copied it at the same moment
        return


def _copy_from_file(store: Store, workspace: Workspace, slug: str) -> None:
    """A send from before engage kept copies: copy it from the campaign file as it is now,
    marked as copied later. A file that cannot be read leaves it without a copy."""
    try:
        campaign = campaign_files.load(workspace, slug)
        values = {**_copy(workspace, campaign), "origin": "file", "frozen_at": core.now()}
    except EngageError:
        return
    try:
        with store.begin() as connection:
            _upsert(connection, slug, values, only_without_copy=True)
    except sa.exc.IntegrityError:  # another request copied it at the same moment
        return


def _upsert(
    connection: sa.Connection, slug: str, values: dict[str, Any], only_without_copy: bool = False
) -> None:
    """Change the archive row of a sent campaign, making it first when there is none."""
    where = [archive_pages.c.campaign == slug]
    if only_without_copy:
        where.append(archive_pages.c.origin == "")
    exists = connection.execute(
        sa.select(archive_pages.c.id).where(archive_pages.c.campaign == slug)
    ).first()
    if exists is not None:
        connection.execute(archive_pages.update().where(*where).values(values))
        return
    send = connection.execute(
        sa.select(sends.c.id, sends.c.subject, sends.c.started_at).where(sends.c.campaign == slug)
    ).one()
    base = {
        "campaign": slug,
        "send_id": send.id,
        "subject": send.subject,
        "preheader": "",
        "sent_at": send.started_at,
        "sent_on": _local_day(send.started_at, None),
        "origin": "",
    }
    connection.execute(archive_pages.insert().values({**base, **values}))


# --- taking down and putting back ---------------------------------------------------------


def remove(store: Store, workspace: Workspace, ref: str, note: str = "") -> Entry:
    """Take a campaign's page down: the archive no longer lists it, and its address says it was
    taken down. The copy is kept (it is the record of what was sent). Returns the entry as it
    was before; taking down a page already down changes nothing."""
    before = entry(store, workspace, ref)
    if before.removed_at is not None:
        return before
    values = {
        "removed_at": core.now(),
        "removed_by": core.actor(),
        "removed_note": " ".join(note.split()),
    }
    _change(store, before.campaign, values)
    return before


def restore(store: Store, workspace: Workspace, ref: str) -> Entry:
    """Put a page that was taken down back. Returns the entry as it was before."""
    before = entry(store, workspace, ref)
    if before.removed_at is not None:
        _change(store, before.campaign, {"removed_at": None, "removed_by": "", "removed_note": ""})
    return before


def _change(store: Store, slug: str, values: dict[str, Any]) -> None:
    try:
        with store.begin() as connection:
            _upsert(connection, slug, values)
    except sa.exc.IntegrityError:  # the page was copied at the same moment: now it exists
        with store.begin() as connection:
            _upsert(connection, slug, values)
