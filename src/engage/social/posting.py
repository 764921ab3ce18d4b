"""`engage post`: a campaign's social posts, checked first, then posted exactly once.

Each part of each channel's post has a row in `posts`, moved pending → in_flight → posted
(or failed), each step committed. Taking a row is one UPDATE that only succeeds on a pending
row, so two runs never post the same part. A row left in_flight by a run that stopped is
unknown: reported, never posted again by engage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import jinja2
import sqlalchemy as sa

from ..campaigns import Campaign, SocialPost
from ..config import Workspace
from ..contacts import core
from ..errors import EngageError
from ..sending import _alive, owner_name
from ..store import Store
from ..store.schema import posts
from ..stories import usage as story_usage
from . import counting
from .base import (
    Channel,
    ChannelAuthFailed,
    ChannelError,
    Image,
    Part,
    Posted,
    RateLimited,
    Rejected,
)
from .channels import channel as make_channel
from .channels import configured


class PostError(EngageError):
    """The posts cannot go as written: the message lists every problem."""


@dataclass
class Plan:
    channel: Channel
    parts: list[Part]
    post_at: dt.datetime | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    channel: str
    posted: list[Posted] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    already: int = 0


def plans(workspace: Workspace, campaign: Campaign, names: list[str] | None = None) -> list[Plan]:
    """What each channel would post, with every problem found, before anything is posted."""
    variants = campaign.meta.social
    chosen = names or sorted(configured(workspace))
    found = []
    for name in chosen:
        chan = make_channel(workspace, name)
        variant = variants.get(name) or variants.get(chan.network) or _default(campaign)
        plan = Plan(chan, _parts(workspace, campaign, variant), variant.post_at)
        _check(plan)
        plan.errors += [f"{name}: {why}" for why in story_usage.refusals(workspace, campaign, name)]
        found.append(plan)
    return found


def _default(campaign: Campaign) -> SocialPost:
    meta = campaign.meta
    lines = [meta.subject, meta.preheader, "{{ link }}"]
    return SocialPost(text="\n\n".join(line for line in lines if line))


def _parts(workspace: Workspace, campaign: Campaign, variant: SocialPost) -> list[Part]:
    texts = variant.text if isinstance(variant.text, list) else [variant.text]
    context = {
        "link": f"{workspace.config.web.base_url.rstrip('/')}/archive/{campaign.slug}",
        "subject": campaign.meta.subject,
        "preheader": campaign.meta.preheader,
        "slug": campaign.slug,
    }
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    parts = []
    for index, text in enumerate(texts):
        try:
            rendered = env.from_string(text).render(context).strip()
        except jinja2.TemplateError as exc:
            raise PostError(
                f"{campaign.slug}: the social text {index + 1} has a mistake: {exc}"
            ) from None
        images = (
            [Image(workspace.root / i.path, i.alt.strip()) for i in variant.images]
            if index == 0
            else []
        )
        parts.append(Part(index, rendered, images))
    return parts


def _check(plan: Plan) -> None:
    chan, limits = plan.channel, plan.channel.limits()
    for part in plan.parts:
        where = f"{chan.name}, post {part.index + 1}"
        length = chan.measure(part.text)
        if not part.text:
            plan.errors.append(f"{where}: the text is empty.")
        elif length > limits.max_length:
            plan.errors.append(
                f"{where}: {length} {limits.unit}; {chan.network} allows {limits.max_length}. "
                "Make it shorter, or split it into a thread (a list of texts)."
            )
        if len(part.images) > limits.max_images:
            plan.errors.append(f"{where}: {len(part.images)} images; at most {limits.max_images}.")
        for image in part.images:
            if not image.alt:
                plan.errors.append(
                    f"{where}: the image {image.path.name} has no alt text. "
                    'Add alt = "what the picture shows".'
                )
            if not image.path.is_file():
                plan.errors.append(f"{where}: the image {image.path} is not there.")
        plan.warnings += [f"{where}: {w}" for w in counting.hashtag_warnings(part.text)]
        for letter in counting.fancy_letters(part.text):
            plan.warnings.append(
                f"{where}: '{letter}' is a fancy letter screen readers cannot read."
            )


def require_valid(found: list[Plan]) -> None:
    errors = [e for plan in found for e in plan.errors]
    if errors:
        raise PostError(
            "Nothing was posted. Fix these first:\n" + "\n".join(f"  {e}" for e in errors)
        )


def post(store: Store, campaign: Campaign, plan: Plan) -> Outcome:
    """Post the parts of one channel's plan that are not posted yet, in order."""
    outcome = Outcome(plan.channel.name)
    owner = owner_name()
    thread: list[Posted] = []
    try:
        plan.channel.check()
    except EngageError as exc:
        outcome.problems.append(f"{plan.channel.name}: {exc}")
        return outcome
    for part in plan.parts:
        row = _row(store, campaign.slug, plan.channel.name, part)
        if row.status == "posted":
            thread.append(Posted(row.remote_id or "", row.url or ""))
            outcome.already += 1
            continue
        if row.status != "pending" or not _take(store, row.id, owner):
            outcome.problems.append(_unclear(store, row, plan.channel.name, part))
            return outcome
        key = f"engage-{campaign.slug}-{plan.channel.name}-{part.index}"
        try:
            done = plan.channel.publish(part, thread, key)
        except (RateLimited, ChannelAuthFailed) as exc:
            _set(store, row.id, status="pending", owner=None, error=str(exc))
            outcome.problems.append(f"{plan.channel.name}: {exc}; left for the next run")
            return outcome
        except Rejected as exc:
            _set(store, row.id, status="failed", error=str(exc))
            outcome.problems.append(f"{plan.channel.name} refused post {part.index + 1}: {exc}")
            return outcome
        except ChannelError as exc:
            _set(store, row.id, status="unknown", error=str(exc))
            outcome.problems.append(
                f"{plan.channel.name}: post {part.index + 1} may or may not "
                f"have gone ({exc}); check the account, engage will not repeat it"
            )
            return outcome
        _set(store, row.id, status="posted", remote_id=done.remote_id, url=done.url, error=None)
        thread.append(done)
        outcome.posted.append(done)
    if thread and len(thread) == len(plan.parts):
        story_usage.record_posted(
            store, campaign, plan.channel.name, thread[0].url, plan.channel.network
        )
    return outcome


def _row(store: Store, slug: str, channel: str, part: Part) -> sa.Row:
    where = (posts.c.campaign == slug, posts.c.channel == channel, posts.c.part == part.index)
    with store.begin() as connection:
        row = connection.execute(sa.select(posts).where(*where)).first()
        if row is None:
            connection.execute(
                posts.insert().values(
                    campaign=slug,
                    channel=channel,
                    part=part.index,
                    status="pending",
                    text=part.text,
                    updated_at=core.now(),
                )
            )
            row = connection.execute(sa.select(posts).where(*where)).first()
    return row


def _take(store: Store, row_id: int, owner: str) -> bool:
    with store.begin() as connection:
        taken = connection.execute(
            posts.update()
            .where(posts.c.id == row_id, posts.c.status == "pending")
            .values(status="in_flight", owner=owner, updated_at=core.now())
        )
    return taken.rowcount == 1


def _unclear(store: Store, row: sa.Row, channel: str, part: Part) -> str:
    if row.status == "in_flight" and not _alive(row.owner):
        _set(store, row.id, status="unknown", error="engage stopped while posting this")
        return (
            f"{channel}: post {part.index + 1} may or may not have gone (engage stopped while "
            "posting it); check the account, engage will not repeat it"
        )
    if row.status == "in_flight":
        return f"{channel}: another run is posting post {part.index + 1} right now"
    return f"{channel}: post {part.index + 1} is {row.status}: {row.error or 'see the account'}"


def _set(store: Store, row_id: int, **values: object) -> None:
    with store.begin() as connection:
        connection.execute(
            posts.update().where(posts.c.id == row_id).values(updated_at=core.now(), **values)
        )
