"""Doing it with the contributor: drafts they approve or send back, where their story may
appear, withdrawal at any time, and a record of everywhere it went out."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from ..contacts import core, life
from ..social import networks
from ..store.schema import inbound, stories, story_drafts, story_history, story_uses
from ..team import audit
from .core import Story, StoryError, current_draft, get, note, story_consents, uses, who
from .steps import find_step, moved

# Where a story may appear, besides each [social.NAME] channel, and what of the person may be
# used. Each is a consent record for the story (consents.channel).
PLACES = {"newsletter": "In our email newsletter", "website": "On our website"}
DETAILS = {"name": "My name", "photo": "My photo"}


class OutdatedDraft(StoryError):
    """The contributor answered a draft that has since been replaced."""

    def __init__(self, story_id: int, answered: int, current: int) -> None:
        super().__init__(
            f"You answered version {answered} of the draft of story {story_id}, but there is a "
            f"newer one (version {current}). Please read the newer one first."
        )
        self.current = current


# The same details, as the team reads them in its emails.
TEAM_DETAILS = {"name": "Using their name", "photo": "Using their photo"}


def channels(social: dict[str, str]) -> dict[str, str]:
    """Every place and detail the contributor is asked about, with the words they see.
    `social` is each [social.NAME] channel's network, by name."""
    places = dict(PLACES)
    for name, network in sorted(social.items()):
        known = networks.title(network)
        words = f"On our {known} account" if known else "On our social media"
        places[name] = words if name == network else f"{words} ({name})"
    return {**places, **DETAILS}


def place_words(channel: str, network: str = "", subject: str = "") -> str:
    """Where a story went out, in the words of the "your story went out" email: "in our
    newsletter “Spring news”", "on Mastodon". Never a channel or provider name."""
    if channel == "newsletter":
        subject = " ".join(subject.split())
        return f"in our newsletter “{subject}”" if subject else "in our newsletter"
    known = networks.title(network)
    return f"on {known}" if known else "on our social media"


def public_link(url: str) -> str:
    """The link when anyone on the internet can open it (https, a real host), else ""."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return ""
    if parts.scheme != "https" or "." not in host or host.endswith((".localhost", ".local")):
        return ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return url.strip()
    return url.strip() if address.is_global else ""


def add_draft(connection: sa.Connection, story_id: int, body: str, actor: str) -> tuple[Story, int]:
    """Attach an edited version; the story waits for its contributor. Returns the version.
    `actor` did it (see team/audit.py)."""
    story = get(connection, story_id)
    if find_step(connection, story, "draft", "team") is None:
        if story.status == "received":
            raise StoryError(
                f"Story {story.id} is received. Set it in progress first: "
                f"engage stories set {story.id} in-progress"
            )
        raise StoryError(f"Story {story.id} is {story.status}; it takes no more drafts.")
    if not body.strip():
        raise StoryError("The draft is empty. Write the edited story in the file first.")
    last = current_draft(connection, story.id)
    version = (last.version if last else 0) + 1
    at = core.now()
    connection.execute(
        story_drafts.insert().values(
            story_id=story.id,
            version=version,
            body=body,
            created_at=at,
            decision="",
            comment="",
        )
    )
    connection.execute(
        stories.update()
        .where(stories.c.id == story.id)
        .values(status="awaiting-approval", updated_at=at)
    )
    said = f"Version {version}."
    note(connection, story.id, "draft", "awaiting-approval", said, actor=who(actor))
    audit.record(connection, actor, "story draft sent", f"story {story.id}", f"version {version}")
    return get(connection, story.id), version


def decide(
    connection: sa.Connection,
    story_id: int,
    version: int,
    approve: bool,
    comment: str,
    allowed: dict[str, bool],
    labels: dict[str, str],
) -> Story:
    """The contributor's answer from their page: approve (and where it may appear), or ask for
    changes with a comment."""
    story = get(connection, story_id)
    draft = current_draft(connection, story.id)
    if draft is None:
        raise StoryError(f"Story {story.id} has no draft to answer yet.")
    if version != draft.version:
        raise OutdatedDraft(story.id, version, draft.version)
    if find_step(connection, story, "approve" if approve else "changes", "contributor") is None:
        raise StoryError(f"This draft has already been answered (the story is {story.status} now).")
    comment = comment.strip()
    if not approve and not comment:
        raise StoryError("Please tell us what you would like us to change.")
    at = core.now()
    connection.execute(
        story_drafts.update()
        .where(story_drafts.c.id == draft.id)
        .values(decision="approved" if approve else "changes", decided_at=at, comment=comment)
    )
    status = "approved" if approve else "in-progress"
    connection.execute(
        stories.update().where(stories.c.id == story.id).values(status=status, updated_at=at)
    )
    if approve:
        note(connection, story.id, "approved", status, comment, actor=story.email)
    else:
        note(connection, story.id, "changes", status, comment, actor=story.email)
    record_choices(connection, story, allowed, labels)
    return get(connection, story.id)


def choose(
    connection: sa.Connection, story_id: int, allowed: dict[str, bool], labels: dict[str, str]
) -> list[str]:
    """The contributor changes where their story may appear, on their page. Returns the
    places and details whose answer changed."""
    story = get(connection, story_id)
    if find_step(connection, story, "choices", "contributor") is None:
        raise StoryError("You took your story back, so we will not use it anywhere.")
    return record_choices(connection, story, allowed, labels)


def record_choices(
    connection: sa.Connection, story: Story, allowed: dict[str, bool], labels: dict[str, str]
) -> list[str]:
    """Store each place or detail whose answer changed, as a consent record for this story.
    Returns the channels that changed."""
    before = story_consents(connection, story.id)
    at = core.now()
    changed = []
    for channel, yes in allowed.items():
        if before.get(channel, False) == yes and channel in before:
            continue
        life.record_story_choice(
            connection,
            dict(
                contact_id=story.contact_id,
                story_id=story.id,
                action="given" if yes else "withdrawn",
                basis="consent",
                channel=channel,
                method="story page",
                source=f"story {story.id}",
                wording=labels.get(channel, channel),
                opt_out_offered=True,
                actor=story.email,
                recorded_at=at,
            ),
        )
        changed.append(channel)
    if changed:
        said = ", ".join(f"{c} {'yes' if allowed[c] else 'no'}" for c in changed)
        note(connection, story.id, "consent", story.status, said, actor=story.email)
    return changed


def withdraw(
    connection: sa.Connection, story_id: int, reason: str, actor: str, *, team: str = ""
) -> dict[str, Any]:
    """The contributor (or the team, for them) takes the story back. Every consent for it is
    withdrawn; returns the story and where it went out, for the team to take down. `team`:
    who on the team recorded it (as the audit log names them), when the team did."""
    story = get(connection, story_id)
    if find_step(connection, story, "withdraw", "contributor") is None:
        raise StoryError(f"Story {story.id} is already withdrawn.")
    at = core.now()
    connection.execute(
        stories.update().where(stories.c.id == story.id).values(status="withdrawn", updated_at=at)
    )
    given = [c for c, yes in story_consents(connection, story.id).items() if yes]
    record_choices(connection, story, dict.fromkeys(given, False), {})
    note(connection, story.id, "withdrawn", "withdrawn", reason.strip(), actor=actor)
    if team:
        moved(connection, team, story, "withdrawn", reason)
    return {"story": get(connection, story.id), "take_down": uses(connection, story.id)}


def record_use(
    connection: sa.Connection,
    story_id: int,
    campaign: str,
    channel: str,
    link: str,
    place: str = "",
) -> bool:
    """Note that a campaign or post used the story, with `place` in the contributor's words
    (place_words). True the first time for this place."""
    exists = connection.execute(
        sa.select(story_uses.c.id).where(
            story_uses.c.story_id == story_id,
            story_uses.c.campaign == campaign,
            story_uses.c.channel == channel,
        )
    ).first()
    if exists is not None:
        return False
    connection.execute(
        story_uses.insert().values(
            story_id=story_id,
            campaign=campaign,
            channel=channel,
            link=link,
            place=place or place_words(channel),
            at=core.now(),
            told=False,
        )
    )
    note(connection, story_id, "went-out", get(connection, story_id).status, channel, link)
    return True


def untold_uses(connection: sa.Connection) -> list[sa.Row]:
    """Each place a story went out that its contributor has not heard about, oldest first;
    none for a withdrawn story (they said goodbye)."""
    return list(
        connection.execute(
            sa.select(
                story_uses.c.id,
                story_uses.c.story_id,
                story_uses.c.place,
                story_uses.c.channel,
                story_uses.c.link,
                story_uses.c.at,
            )
            .join(stories, stories.c.id == story_uses.c.story_id)
            .where(story_uses.c.told.is_(False), stories.c.status != "withdrawn")
            .order_by(story_uses.c.at, story_uses.c.id)
        ).all()
    )


def claim_uses(connection: sa.Connection, use_ids: list[int]) -> bool:
    """Take these places for one "your story went out" email, before it is sent. False (and
    nothing should be sent) when another process took any of them first."""
    taken = connection.execute(
        story_uses.update()
        .where(story_uses.c.id.in_(use_ids), story_uses.c.told.is_(False))
        .values(told=True)
    )
    return taken.rowcount == len(use_ids)


def release_uses(connection: sa.Connection, use_ids: list[int]) -> None:
    """The email for these places surely did not go: the next run tries again."""
    connection.execute(story_uses.update().where(story_uses.c.id.in_(use_ids)).values(told=False))


def untold_stops(connection: sa.Connection) -> list[sa.Row]:
    """Replies asking us to stop writing, from a contributor whose story is not withdrawn,
    that the team has not been told about yet: one row per story."""
    told = sa.select(story_history.c.id).where(
        story_history.c.story_id == stories.c.id,
        story_history.c.action == "stop-asked",
        story_history.c.note == sa.literal("reply ", sa.String) + sa.cast(inbound.c.id, sa.String),
    )
    return list(
        connection.execute(
            sa.select(
                inbound.c.id.label("reply_id"), inbound.c.clean_text, stories.c.id.label("story_id")
            )
            .join(stories, stories.c.contact_id == inbound.c.contact_id)
            .where(
                inbound.c.kind == "unsubscribe",
                stories.c.status != "withdrawn",
                stories.c.opened_at <= inbound.c.received_at,
                ~sa.exists(told),
            )
            .order_by(inbound.c.id, stories.c.id)
        ).all()
    )


def claim_stop(connection: sa.Connection, story_id: int, reply_id: int) -> bool:
    """Note on the story that its contributor asked us to stop (reply `reply_id`), before the
    team is told: False when another process noted it first."""
    story = get(connection, story_id)
    # Lock the story first (PostgreSQL; SQLite locks the whole file), so that of two
    # processes, the second waits and then finds the first's note.
    connection.execute(sa.select(stories.c.id).where(stories.c.id == story_id).with_for_update())
    noted = connection.execute(
        sa.select(story_history.c.id).where(
            story_history.c.story_id == story_id,
            story_history.c.action == "stop-asked",
            story_history.c.note == f"reply {reply_id}",
        )
    ).first()
    if noted is not None:
        return False
    note(connection, story_id, "stop-asked", story.status, f"reply {reply_id}", actor="engage")
    return True


def drafts(connection: sa.Connection, story_id: int) -> list[dict[str, Any]]:
    rows = connection.execute(
        sa.select(story_drafts)
        .where(story_drafts.c.story_id == story_id)
        .order_by(story_drafts.c.version)
    ).all()
    return [
        {
            "version": r.version,
            "created_at": core.iso(r.created_at),
            "decision": r.decision,
            "decided_at": core.iso(r.decided_at),
            "comment": r.comment,
            "body": r.body,
        }
        for r in rows
    ]
