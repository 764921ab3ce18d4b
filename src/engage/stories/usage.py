"""Using stories in campaigns: the contributor's choices are checked before anything goes out,
and each place a story went out is recorded, so its contributor hears about it."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from ..campaigns import Campaign
from ..config import Workspace
from ..render.findings import Finding
from ..social.channels import configured
from ..store import Store, open_store
from . import coproduce, core

USABLE = ("approved", "published")


def channels_used(workspace: Workspace, campaign: Campaign) -> list[str]:
    """Where this campaign puts its stories: the newsletter, and each social channel it
    declares a post for ([social.NAME] by channel name, or by network for all its channels)."""
    declared = set(campaign.meta.social)
    social = configured(workspace)
    used = {name for name, c in social.items() if name in declared or c.network in declared}
    used |= {key for key in declared if key not in social and not _is_network(key, social)}
    return ["newsletter", *sorted(used)]


def _is_network(key: str, social: dict) -> bool:
    return any(c.network == key for c in social.values())


def refusals(workspace: Workspace, campaign: Campaign, channel: str) -> list[str]:
    """Why this campaign's stories may not be posted to `channel`, if they may not."""
    if not campaign.meta.stories:
        return []
    found = []
    store = open_store(workspace)
    try:
        with store.connect() as connection:
            for story_id in campaign.meta.stories:
                try:
                    story = core.get(connection, story_id)
                except core.StoryError:
                    found.append(f"there is no story {story_id}")
                    continue
                if not core.story_consents(connection, story.id).get(channel, False):
                    found.append(
                        f"story {story.id}'s contributor has not agreed to it appearing on "
                        f"{channel}"
                    )
    finally:
        store.engine.dispose()
    return found


def check(workspace: Workspace, campaign: Campaign, shown: str) -> Iterator[Finding]:
    """Lint findings for `stories = [...]`: each story exists, is approved, and may appear on
    every channel the campaign uses."""
    if not campaign.meta.stories:
        return
    store = open_store(workspace)
    try:
        with store.connect() as connection:
            yield from _check(connection, workspace, campaign, f"{shown}:1")
    finally:
        store.engine.dispose()


def _check(
    connection: sa.Connection, workspace: Workspace, campaign: Campaign, where: str
) -> Iterator[Finding]:
    for story_id in campaign.meta.stories:
        try:
            story = core.get(connection, story_id)
        except core.StoryError:
            yield Finding(
                "story-unknown",
                where,
                f"There is no story {story_id}.",
                "Check the number with `engage stories list`, or take it out of stories = [...].",
            )
            continue
        if story.status not in USABLE:
            yield Finding(
                "story-not-approved",
                where,
                f"Story {story.id} is {story.status}, not approved by its contributor.",
                f"Send them a draft to approve (engage stories draft {story.id} FILE.md), "
                "or take the story out of this campaign.",
            )
        allowed = core.story_consents(connection, story.id)
        for channel in channels_used(workspace, campaign):
            if not allowed.get(channel, False):
                yield Finding(
                    "story-channel-refused",
                    where,
                    f"Story {story.id}'s contributor has not agreed to it appearing on {channel}.",
                    f"Take [social.{channel}] out of this campaign, or leave the story out."
                    if channel != "newsletter"
                    else "Leave the story out of this newsletter.",
                )
        named = story.name.strip() and story.name.strip().lower() in campaign.body.lower()
        if named and not allowed.get("name", False):
            yield Finding(
                "story-name-refused",
                where,
                f"The email names {story.name}, who said no to using their name.",
                "Take their name out, or ask them first.",
            )


def record_sent(store: Store, workspace: Workspace, campaign: Campaign) -> int:
    """The campaign went out by email: note it on each of its stories. Returns how many new."""
    if not campaign.meta.stories:
        return 0
    link = f"{workspace.config.web.base_url.rstrip('/')}/archive/{campaign.slug}"
    place = coproduce.place_words("newsletter", subject=campaign.meta.subject)
    return _record(store, campaign, "newsletter", link, place)


def record_posted(store: Store, campaign: Campaign, channel: str, link: str, network: str) -> int:
    """The campaign was posted on `channel` (a `network` account), `link` its first post."""
    if not campaign.meta.stories:
        return 0
    return _record(store, campaign, channel, link, coproduce.place_words(channel, network))


def _record(store: Store, campaign: Campaign, channel: str, link: str, place: str) -> int:
    new = 0
    with store.begin() as connection:
        for story_id in campaign.meta.stories:
            try:
                core.get(connection, story_id)
            except core.StoryError:
                continue
            new += coproduce.record_use(connection, story_id, campaign.slug, channel, link, place)
    return new
