"""Erasing a person, all of it: their records, the files of their replies' attachments, their
mail in the outbox, and the old copies of their rows that the database would otherwise keep in
its files. The one place every way to erase calls (`engage contacts erase`)."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Workspace
from .contacts import life
from .providers import outbox
from .replies import attachments
from .store import Store


@dataclass(frozen=True)
class Erased:
    emails: int  # outbox files removed
    problem: str = ""  # what could not be cleared yet, to report


def erase(store: Store, workspace: Workspace, email: str) -> Erased:
    """Erase the person with this address (any spelling); raises ContactError when there is
    no such contact, and then nothing is changed."""
    with store.begin() as connection:
        erasure = life.erase(connection, email)
    # Files only once their rows are gone: a crash before this leaves files no row names, never
    # a row that names a missing file.
    attachments.for_workspace(workspace).remove_files(erasure.attachments)
    emails = outbox.remove_mail_for(workspace.root, erasure.spellings, erasure.emails)
    return Erased(emails, store.scrub(erasure.tables))
