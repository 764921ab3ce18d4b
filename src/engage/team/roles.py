"""What each role may do. An editor works on campaigns, replies and stories; a sender may also
send, schedule and cancel; an admin may also export and erase people and manage the team.
Each action names the least role that may do it, so a higher role may do everything below."""

from __future__ import annotations

from ..store.schema import TEAM_ROLES

ROLES = TEAM_ROLES  # from least to most

# action -> the least role that may do it
ACTIONS = {
    "read": "editor",  # see campaigns, replies, stories, people and reports
    "edit": "editor",  # answer and assign replies, move stories, send a test to yourself
    "send": "sender",  # start, schedule, unschedule, pause and cancel a send
    "export": "admin",  # export everything held about a person
    "erase": "admin",  # erase a person
    "team": "admin",  # add and remove team members, read the audit log
}

WHAT = {
    "read": "read this",
    "edit": "change this",
    "send": "send, schedule or cancel campaigns",
    "export": "export what we hold about a person",
    "erase": "erase a person",
    "team": "manage the team",
}


def may(role: str, action: str) -> bool:
    """Whether someone with `role` may do `action` (one of ACTIONS)."""
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(ACTIONS[action])


def needed(action: str) -> str:
    """The least role that may do `action`."""
    return ACTIONS[action]
