"""Keep contributors informed: the one chain run after replies come in and after a campaign
is sent or posted, by the CLI, `engage run` and the worker of `engage serve`."""

from __future__ import annotations

from ..config import Workspace
from ..store import Store
from ..stories import coproduce, opening, service
from ..stories.telling import Told
from ..stories.wentout import announce_uses
from ..tokens import signer as make_signer


def keep_contributors_informed(
    store: Store, workspace: Workspace, *, followups: bool = False
) -> Told:
    """Open a story for each new story reply and thank its contributor, tell each contributor
    whose story went out, and tell the team when a contributor replied asking us to stop
    writing. With `followups` (for `engage run`), also send the updates that are owed when
    [followups] auto = true."""
    told = catch_up(store, workspace)
    if followups and workspace.config.followups.auto:
        told.add(service.send_followups(store, workspace, make_signer(workspace)))
    return told


def catch_up(store: Store, workspace: Workspace) -> Told:
    """Everything owed after replies or a send, with nothing to do in three reads when there
    is nothing new (it runs after every command that could make work for it)."""
    with store.connect() as connection:
        replies = opening.unopened_story_replies(connection)
        uses = coproduce.untold_uses(connection)
        stops = coproduce.untold_stops(connection)
    if not replies and not uses and not stops:
        return Told()
    signer = make_signer(workspace) if replies else None
    told = service.open_from_replies(store, workspace, signer) if signer else Told()
    told.add(announce_uses(store, workspace))  # it makes a signer only to send
    return told.add(service.tell_team_of_stops(store, workspace))
