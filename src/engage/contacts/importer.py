"""`engage contacts import`: a CSV of people into the store, in one transaction.

Rows are checked one by one; good rows go in together, in chunks, while the file streams.
Rows are matched to contacts by mailbox (`identity`), so a different spelling of a known
address updates that contact, and a second spelling in one file is a repeated row. A suppressed
address is never subscribed again, however it is spelled. Importing the same file twice changes
nothing the second time. Each run is recorded in the imports table.

A consent record is added only when an import says something new about consent: for a new
contact, for one with no consent on record, or when the import gives wording (`--consent`) that
is not yet on record for them with the same basis and source. Importing again without wording
adds nothing: it has nothing to say about what they agreed to.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..store import Store
from ..store.schema import consents, contact_tags, contacts, imports
from ..store.schema import tags as tag_table
from . import life
from .core import ConsentGiven, now, suppressed_among
from .csvfile import REJECTS_COLUMN, ContactFile, ImportFileError, Row, safe_cell
from .moves import may_import

CHUNK = 500
# The mailboxes one import has seen, with the line each was first on (per connection).
SEEN = sa.Table(
    "engage_import_seen",
    sa.MetaData(),
    sa.Column("email_key", sa.String(320), primary_key=True),
    sa.Column("line", sa.Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True)
class Options:
    basis: str = "consent"
    source: str = ""
    wording: str = ""
    tags: frozenset[str] = frozenset()
    actor: str = ""
    dry_run: bool = False


@dataclass
class Report:
    file: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    duplicates: list[tuple[int, int, str]] = field(default_factory=list)  # (line, first, email)
    rejected: list[Row] = field(default_factory=list)  # each with its errors
    consents: int = 0  # consent records added
    header: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return 3 if self.rejected else 0


def import_file(store: Store, path: Path, options: Options, shown: str | None = None) -> Report:
    contact_file = ContactFile(path, shown)
    report = Report(file=contact_file.shown, header=contact_file.header, dry_run=options.dry_run)
    with store.connect() as connection:
        connection = connection.execution_options(engage_write=True)
        transaction = connection.begin()
        try:
            run = _Run(connection, options, report, contact_file.shown)
            for chunk in _chunks(contact_file.rows(), CHUNK):
                run.chunk(chunk)
            run.finish()
        except sa.exc.SQLAlchemyError as exc:
            transaction.rollback()
            # Never the database's own words: they hold the SQL and people's details.
            raise ImportFileError(
                f"{contact_file.shown}: the database could not take this import "
                f"({type(getattr(exc, 'orig', exc)).__name__}), so nothing was imported. "
                "Set ENGAGE_DEBUG=1 to see why."
            ) from exc
        except BaseException:
            transaction.rollback()
            raise
        if options.dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return report


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while chunk := list(islice(rows, size)):
        yield chunk


class _Run:
    """One import, inside its transaction."""

    def __init__(self, connection: sa.Connection, options: Options, report: Report, file: str):
        self.connection, self.options, self.report = connection, options, report
        SEEN.create(connection)
        self.postgres = connection.dialect.name == "postgresql"
        self.remember = (  # PostgreSQL takes the chunk as two arrays, in one statement
            f"INSERT INTO {SEEN.name} (email_key, line) "
            + ("SELECT * FROM unnest(%s::text[], %s::int[])" if self.postgres else "VALUES (?, ?)")
            + " ON CONFLICT DO NOTHING"
        )
        self.at = now()
        key = connection.execute(
            imports.insert().values(
                file_name=file,
                actor=options.actor,
                started_at=self.at,
                added=0,
                updated=0,
                unchanged=0,
                skipped=0,
                rejected=0,
            )
        ).inserted_primary_key
        assert key is not None  # an insert always has its key
        self.import_id = key[0]
        self.consent = ConsentGiven(
            basis=options.basis,
            method="import",
            source=options.source or file,
            wording=options.wording,
            actor=options.actor,
            import_id=self.import_id,
        )

    def chunk(self, rows: list[Row]) -> None:
        good = self._first_time([row for row in rows if not self._rejected(row)])
        if not good:
            return
        blocked = suppressed_among(self.connection, [row.address or row.email for row in good])
        existing = {
            r.email_key: r
            for r in self.connection.execute(
                sa.select(contacts).where(contacts.c.email_key.in_([row.key for row in good]))
            )
        }
        new, changed, tags, consenting = [], [], [], []
        have_tags = self._tags([r.id for r in existing.values()])
        have_consent = self._consented([r.id for r in existing.values()])
        for row in good:
            contact = existing.get(row.key)
            reason = blocked.get(row.email)
            if reason is None and contact is not None and not may_import(contact.status):
                reason = contact.status
            if reason:
                self.report.skipped.append((row.line, _skip_reason(row.email, reason)))
            elif contact is None:
                new.append(row)
            else:
                update = _changes(contact, row, self.at)
                missing_tags = (row.tags | self.options.tags) - have_tags.get(contact.id, set())
                needs_consent = contact.id not in have_consent
                if update:
                    changed.append({"id_": contact.id, **update})
                tags += [(contact.id, t) for t in missing_tags]
                if needs_consent:
                    consenting.append(contact.id)
                if update or missing_tags or needs_consent:
                    self.report.updated += 1
                else:
                    self.report.unchanged += 1
        self._write(new, changed, tags, consenting)

    def _rejected(self, row: Row) -> bool:
        if row.errors:
            self.report.rejected.append(row)
        return bool(row.errors)

    def _first_time(self, rows: list[Row]) -> list[Row]:
        """Rows whose mailbox this file has not had before, in any spelling; the rest are
        reported. The mailboxes seen so far live in a temporary table, so memory stays flat."""
        if not rows:
            return rows
        first: dict[str, int] = {}  # each mailbox's first line: in this chunk, then in the file
        for row in rows:
            first.setdefault(row.key, row.line)
        # Plain keys and numbers into a table of our own: straight to the driver. A mailbox
        # seen in an earlier chunk keeps its first line there, to be read back.
        seen: Any = (list(first), list(first.values())) if self.postgres else list(first.items())
        added = self.connection.exec_driver_sql(self.remember, seen).rowcount
        if added != len(first):  # some were there already (or the driver cannot say)
            query = sa.select(SEEN.c.email_key, SEEN.c.line)
            query = query.where(SEEN.c.email_key.in_(list(first)))
            first = {key: line for key, line in self.connection.execute(query)}
        kept = []
        for row in rows:
            if first[row.key] == row.line:
                kept.append(row)
            else:
                self.report.duplicates.append((row.line, first[row.key], row.email))
        return kept

    def _tags(self, ids: list[int]) -> dict[int, set[str]]:
        found: dict[int, set[str]] = {}
        query = (
            sa.select(contact_tags.c.contact_id, tag_table.c.name)
            .join(tag_table, tag_table.c.id == contact_tags.c.tag_id)
            .where(contact_tags.c.contact_id.in_(ids))
        )
        for contact_id, name in self.connection.execute(query):
            found.setdefault(contact_id, set()).add(name)
        return found

    def _consented(self, ids: list[int]) -> set[int]:
        """Contacts for whom this import's consent would add nothing: any consent on record when
        the import has no wording, else this same consent (basis, source, wording)."""
        query = sa.select(consents.c.contact_id).where(
            consents.c.contact_id.in_(ids),
            consents.c.action == "given",
            consents.c.story_id.is_(None),  # a story's publishing choices are not this consent
        )
        if self.consent.wording:
            query = query.where(
                consents.c.basis == self.consent.basis,
                consents.c.source == self.consent.source,
                consents.c.wording == self.consent.wording,
            )
        return set(self.connection.execute(query).scalars())

    def _write(self, new: list[Row], changed: list[dict], tags: list, consenting: list) -> None:
        """The chunk's changes, through the one writer of contacts (contacts/life.py)."""
        inserted = life.import_new(self.connection, [_new_contact(row, self.at) for row in new])
        for contact_id, row in zip(inserted, new, strict=True):
            tags += [(contact_id, t) for t in row.tags | self.options.tags]
        consenting += inserted
        self.report.added += len(new)
        record = self.consent.record(0, self.at)
        life.import_changes(self.connection, changed, tags, record, consenting)
        self.report.consents += len(consenting)

    def finish(self) -> None:
        SEEN.drop(self.connection)
        report = self.report
        self.connection.execute(
            imports.update()
            .where(imports.c.id == self.import_id)
            .values(
                added=report.added,
                updated=report.updated,
                unchanged=report.unchanged,
                skipped=len(report.skipped),
                rejected=len(report.rejected),
            )
        )


def _new_contact(row: Row, at: Any) -> dict[str, Any]:
    return {
        "email": row.email,
        "email_key": row.key,  # read from the email with the file (schema.py's _email_key)
        "name": row.name,
        "first_name": row.first_name,
        "format": row.format or "html",
        "lang": row.lang,
        "status": "subscribed",
        "attributes": row.attributes,
        "created_at": at,
        "updated_at": at,
    }


def _changes(contact: sa.Row, row: Row, at: Any) -> dict[str, Any]:
    """What this row would change about an existing contact. Blank cells change nothing."""
    values = {
        "name": row.name or contact.name,
        "first_name": row.first_name or contact.first_name,
        "format": row.format or contact.format,
        "lang": row.lang or contact.lang,
        "attributes": {**(contact.attributes or {}), **row.attributes},
        "status": "subscribed",
    }
    current = {key: getattr(contact, key) for key in values}
    current["attributes"] = contact.attributes or {}
    if values == current:
        return {}
    return {**values, "updated_at": at}


def _skip_reason(email: str, reason: str) -> str:
    status = "suppressed" if reason == "manual" else reason
    return f"{email} is {status}; an import never subscribes it again"


def problems(row: Row) -> str:
    """All that is wrong with a rejected row, in one line."""
    return "; ".join(f"{row.where(column)}: {reason}" for column, reason in row.errors)


def write_rejects(report: Report, path: Path) -> None:
    """The rejected rows as a CSV the team can fix and import again, with a reason column."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*report.header, REJECTS_COLUMN])
        for row in report.rejected:
            writer.writerow([*(safe_cell(v) for v in row.raw), problems(row)])
    temporary.replace(path)
