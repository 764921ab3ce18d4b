"""Everything engage holds about one person, for a subject access request."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from ..team import audit
from .core import Contact, changes, consent_history, get, iso, suppression
from .timeline import timeline
from .traces import activity


def export(connection: sa.Connection, email: str) -> dict[str, Any]:
    """Everything engage holds about one person, for a subject access request."""
    return held(connection, get(connection, email))


def held(connection: sa.Connection, contact: Contact) -> dict[str, Any]:
    """`export` of a contact already found (the console finds them by id)."""
    blocked = suppression(connection, contact.email)
    return {
        "contact": contact.as_dict(),
        "consents": consent_history(connection, contact.id),
        "changes": changes(connection, contact.id),
        **activity(connection, contact),
        "timeline": timeline(connection, contact),
        "suppression": None
        if blocked is None
        else {
            "reason": blocked.reason,
            "source": blocked.source,
            "since": iso(blocked.created_at),
        },
    }


def subject_access(connection: sa.Connection, email: str, *, actor: str) -> dict[str, Any]:
    """`export`, to give to the person who asked for it: noted in the audit log as done by
    `actor` (a team member's address, or audit.command_line()), in this transaction."""
    data = export(connection, email)
    audit.record(connection, actor, "exported", data["contact"]["email"])
    return data


def as_json(data: dict[str, Any]) -> str:
    """An export as the file the person is given: JSON, indented, in their own letters."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
