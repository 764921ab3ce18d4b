"""The stories section of `engage report` on a call for stories: its stories by status, and
who is owed news. The report takes it as an extra section, so the report imports nothing of
stories."""

from __future__ import annotations

import sqlalchemy as sa

from ..report import Extra, Report, Section
from ..store.schema import STORY_STATUSES, story_drafts
from . import core


def report_section(days: int) -> Extra:
    """For `engage report` on a call for stories: its stories, by status, and who is owed
    news now."""

    def section(connection: sa.Connection, report: Report) -> Section | None:
        if report.kind != "call-for-stories":
            return None
        found = [s for s in core.listing(connection) if s.campaign == report.campaign]
        ids = [s.id for s in found]
        approved = (
            connection.execute(
                sa.select(sa.func.count(sa.distinct(story_drafts.c.story_id))).where(
                    story_drafts.c.story_id.in_(ids), story_drafts.c.decision == "approved"
                )
            ).scalar()
            or 0
            if ids
            else 0
        )
        waiting = [(s, d) for s, d in core.owed(connection, days) if s.id in ids]
        longest = max((d for _, d in waiting), default=0)
        rows = [("Stories opened", len(found))]
        rows += [
            (f"Now {status}", sum(s.status == status for s in found)) for status in STORY_STATUSES
        ]
        rows += [
            ("Approved by their contributor", approved),
            ("Contributors owed news now", len({s.contact_id for s, _ in waiting})),
            ("Longest wait for news, in days", longest),
        ]
        note = (
            f"Nobody should wait more than {days} days for news about their story."
            if not waiting
            else f"{len(waiting)} of these stories are owed news: the longest has waited "
            f"{longest} days. Send updates with: engage followups send"
        )
        return Section("stories", "Stories", rows, note)

    return section
