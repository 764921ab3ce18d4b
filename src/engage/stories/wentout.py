"""'Your story went out': one email for each day a story went out, with every place it went
out that day, in plain words, with only the links anyone can open.

A day is a UTC day. Its email goes the morning after (from 08:00 UTC), at the first `engage run`
(or send, post or replies import) once that day is over, so a send and the posts minutes later
make one email, and a use the next day makes another. Each email's places are taken (marked
told) before it is sent, so two processes never send it twice; if it surely did not go they
are given back for the next run; if it may have gone, never.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..config import Workspace
from ..contacts import core as people
from ..errors import EngageError
from ..store import Store
from ..tokens import Signer
from ..tokens import signer as make_signer
from . import coproduce
from .telling import Told, deliver, not_told

MORNING = dt.timedelta(hours=8)  # a day's "went out" email goes from 08:00 UTC the day after


def _utc_day(at: dt.datetime) -> dt.date:
    """The day (UTC) of a time from the database (always given back in UTC)."""
    return at.astimezone(dt.UTC).date()


def _day_words(day: dt.date) -> str:
    return day.strftime("%A %-d %B")


def announce_uses(store: Store, workspace: Workspace, signer: Signer | None = None) -> Told:
    """Tell each contributor where their story went out: one email for each day it went out,
    with every place, once that day is over (from 08:00 UTC the day after). A story going
    out today is listed in `done` as waiting. Each email's places are taken first, so two
    processes never send it twice; one that surely did not go is tried again next time."""
    told = Told()
    with store.connect() as connection:
        waiting = coproduce.untold_uses(connection)
    ready_before = (people.now() - MORNING).date()
    days: dict[tuple[int, dt.date], list[Any]] = {}
    for use in waiting:
        days.setdefault((use.story_id, _utc_day(use.at)), []).append(use)
    for (story_id, day), uses in days.items():
        if day >= ready_before:
            told.done.append(
                f"Story {story_id} went out on {_day_words(day)}: its contributor will hear "
                f"where in one email, from 08:00 UTC on {_day_words(day + dt.timedelta(1))}."
            )
            continue
        signer = signer or make_signer(workspace)
        _announce(store, workspace, signer, story_id, day, uses, told)
    return told


def _announce(
    store: Store,
    workspace: Workspace,
    signer: Signer,
    story_id: int,
    day: dt.date,
    uses: list[Any],
    told: Told,
) -> None:
    ids = [use.id for use in uses]
    try:
        with store.begin() as connection:
            if not coproduce.claim_uses(connection, ids):
                raise _Taken  # another process is telling them: leave it all to it
    except _Taken:
        return
    places = _places(uses)
    try:
        # the day as a date: the email says it in the contributor's language (telling.context)
        deliver(store, workspace, signer, story_id, "went-out", day=day, places=places)
    except EngageError as exc:
        if not getattr(exc, "maybe_sent", False):
            with store.begin() as connection:
                coproduce.release_uses(connection, ids)
        not_told(store, story_id, "went-out", exc, told)
        return
    told.sent.append(story_id)
    where = ", ".join(place["words"] for place in places)
    told.done.append(
        f"Told the contributor of story {story_id} where it went out on {_day_words(day)}: {where}."
    )


class _Taken(Exception):
    """Another process took these places first."""


def _places(uses: list[Any]) -> list[dict[str, str]]:
    """Each place in the contributor's words, with its link only when anyone can open it."""
    found: list[dict[str, str]] = []
    for use in uses:
        place = {"words": use.place, "url": coproduce.public_link(use.link)}
        if place not in found:
            found.append(place)
    return found
