"""Everything engage holds about one person, for a subject access request."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .core import changes, consent_history, get, iso, suppression
from .timeline import timeline
from .traces import activity


def export(connection: sa.Connection, email: str) -> dict[str, Any]:
    """Everything engage holds about one person, for a subject access request."""
    contact = get(connection, email)
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
