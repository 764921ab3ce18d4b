"""Erasing a person, all of it: their records, the files of their replies' attachments, their
mail in the outbox, what the audit log says of them, and the old copies of their rows that the
database would otherwise keep in its files. The one place every way to erase calls
(`engage contacts erase`, the console)."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Workspace
from .contacts import core, life
from .contacts.identity import email_hash
from .providers import outbox
from .replies import attachments
from .store import Store
from .team import audit


@dataclass(frozen=True)
class Erased:
    emails: int  # outbox files removed
    problem: str = ""  # what could not be cleared yet, to report
    named: str = ""  # how the audit log names them now: "person" and the start of the hash


def erase(store: Store, workspace: Workspace, email: str, *, actor: str) -> Erased:
    """Erase the person with this address (any spelling); raises ContactError when there is
    no such contact, and then nothing is changed.

    `actor` (a team member's address, or audit.command_line()) is noted in the audit log as
    having erased them, in the same transaction. The log names them only by the start of the
    hash the suppression list keeps, and so do its earlier entries that named them by their
    address or full name (an export, an unsubscribe): who did what, and when, stays."""
    with store.begin() as connection:
        contact = core.get(connection, email)
        erasure = life.erase(connection, contact.email)
        named = known_as(contact.email)
        audit.forget(connection, [*erasure.spellings, contact.name], named)
        audit.record(connection, actor, "erased", named, "only a hash of their address is kept")
    # Files only once their rows are gone: a crash before this leaves files no row names, never
    # a row that names a missing file.
    attachments.for_workspace(workspace).remove_files(erasure.attachments)
    emails = outbox.remove_mail_for(workspace.root, erasure.spellings, erasure.emails)
    return Erased(emails, store.scrub(erasure.tables), named)


def known_as(email: str) -> str:
    """How the audit log names an erased person: by the start of the hash of their address
    that the suppression list keeps, enough to tell two erasures apart, never the address."""
    return f"person {email_hash(email)[:12]}"
