"""Keep contributors informed: the one chain run after replies come in and after a campaign
is sent or posted, by the CLI, `engage run` and the worker of `engage serve`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..config import Workspace
from ..store import Store
from ..stories import coproduce, opening
from ..tokens import signer as make_signer

if TYPE_CHECKING:
    from ..stories.telling import Told

AUTOMATIC = "engage ([followups] auto)"  # who sends the updates `engage run` sends

# What tells and sends (stories.service, .telling, .wentout) loads email rendering, so it is
# imported only when something is owed: an idle `engage run` asks `owed` and stops there.


def keep_contributors_informed(
    store: Store, workspace: Workspace, *, followups: bool = False
) -> Told:
    """Open a story for each new story reply and thank its contributor, tell each contributor
    whose story went out, and tell the team when a contributor replied asking us to stop
    writing. With `followups` (for `engage run`), also send the updates that are owed when
    [followups] auto = true."""
    told = catch_up(store, workspace)
    if followups and workspace.config.followups.auto:
        from ..stories import service

        signer = make_signer(workspace)
        told.add(service.send_followups(store, workspace, signer, actor=AUTOMATIC))
    return told


def owed(store: Store, workspace: Workspace, *, followups: bool = False) -> bool:
    """Whether keep_contributors_informed may have anything to do, in three reads."""
    if followups and workspace.config.followups.auto:
        return True
    with store.connect() as connection:
        return any(_new(connection))


def catch_up(store: Store, workspace: Workspace) -> Told:
    """Everything owed after replies or a send, with nothing to do in three reads when there
    is nothing new (it runs after every command that could make work for it)."""
    from ..stories import service
    from ..stories.telling import Told
    from ..stories.wentout import announce_uses

    with store.connect() as connection:
        replies, uses, stops = _new(connection)
    if not replies and not uses and not stops:
        return Told()
    signer = make_signer(workspace) if replies else None
    told = service.open_from_replies(store, workspace, signer) if signer else Told()
    told.add(announce_uses(store, workspace))  # it makes a signer only to send
    return told.add(service.tell_team_of_stops(store, workspace))


def _new(connection: sa.Connection) -> tuple[list[sa.Row], list[sa.Row], list[sa.Row]]:
    """New story replies, story uses not told, and stop requests the team has not heard of."""
    return (
        opening.unopened_story_replies(connection),
        coproduce.untold_uses(connection),
        coproduce.untold_stops(connection),
    )
