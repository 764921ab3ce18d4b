"""`engage post`: a campaign's social posts, checked first, then posted exactly once.

A campaign's translations (and other versions) with [social.*] tables of their own post too,
each its own thread in its own language. Each part of each channel's post has a row in `posts`,
keyed by the file it is written in (`Campaign.name`: spring-news, spring-news.cy), moved
pending → in_flight → posted (or failed), each step committed. Taking a row is one UPDATE
that only succeeds on a pending row, so two runs never post the same part. A row left
in_flight by a run that stopped is unknown: reported, never posted again by engage. Owners
and claims are engage/journal.py's, shared with the deliveries and the locks.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from .. import archive, langs
from .. import campaigns as campaign_files
from ..campaigns import Campaign, SocialPost
from ..config import Workspace
from ..contacts import core
from ..errors import AuthFailed, CampaignError, EngageError, ProviderError, Rejected, TryLater
from ..journal import alive, claim, owner_name
from ..store import Store
from ..store.schema import posts
from . import channels, readaloud
from .base import Channel, Image, Part, Posted
from .channels import channel as make_channel
from .channels import configured


class PostError(EngageError):
    """The posts cannot go as written: the message lists every problem."""


@dataclass
class Plan:
    channel: Channel
    parts: list[Part]
    campaign: Campaign  # the file the posts are written in: the campaign, or a version of it
    post_at: dt.datetime | None = None
    where: str = ""  # its table's file:line; "" for the post made from subject and preheader
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def language(self) -> str:
        """The language of the posts in words, for people: "English", "Cymraeg (Welsh)"."""
        return language_words(self.parts[0].lang if self.parts else "")

    @property
    def name(self) -> str:
        """The plan in messages: the channel, and for a version its language too
        ("mastodon in Cymraeg (Welsh)")."""
        if not self.campaign.is_version:
            return self.channel.name
        return f"{self.channel.name} in {self.language}"


@dataclass
class Outcome:
    channel: str
    name: str = ""  # Plan.name: the channel, and for a version its language
    posted: list[Posted] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    already: int = 0
    complete: bool = False  # every part is up, posted now or on an earlier run
    link: str = ""  # then: the address of its first post


def language_words(tag: str) -> str:
    """A language as the team reads it: its own name, then in English when that differs
    ("Cymraeg (Welsh)", "English")."""
    own, english = langs.name(tag), langs.english_name(tag)
    return own if own == english else f"{own} ({english})"


def plans(
    workspace: Workspace,
    campaign: Campaign,
    names: list[str] | None = None,
    *,
    versions: bool = False,
) -> list[Plan]:
    """What each channel would post, with every problem found, before anything is posted:
    the campaign's posts and (`versions`, for the original) those of each version with
    [social.*] tables of its own. Given a version itself, its own posts only.
    A [social.KEY] table that names no channel stops it all (see channels.unknown_tables)."""
    files = writing(workspace, campaign) if versions else [campaign]
    if campaign.is_version and not channels.own_tables(campaign):
        raise PostError(
            f"Nothing was posted: {workspace.relative(campaign.path)} has no [social.*] tables "
            f"of its own, so it has nothing to post. Add one (like [social.mastodon] with a "
            f"text), or post the campaign itself: engage post {campaign.slug}"
        )
    _refuse(
        [
            str(problem)
            for file in files
            for check in (channels.unknown_tables, channels.misplaced_tables)
            for problem in check(workspace, file)
        ]
    )
    chosen = names or sorted(configured(workspace))
    made = {name: make_channel(workspace, name) for name in chosen}  # one session each
    found = []
    for file in files:
        for name, chan in made.items():
            variant = channels.variant_for(file, name, chan.network)
            if variant is None and file.is_version:
                continue  # a version posts only where its own tables say
            where = ""
            if variant is not None:
                key = name if name in channels.own_tables(file) else chan.network
                where = f"{workspace.relative(file.path)}:{channels.table_line(file, key)}"
            variant = variant or _default(file)
            parts = _parts(workspace, file, variant)
            plan = Plan(chan, parts, file, variant.post_at, where)
            _check(plan)
            found.append(plan)
    return found


def writing(workspace: Workspace, campaign: Campaign) -> list[Campaign]:
    """The files whose posts `engage post` makes for a campaign: the campaign, then each of
    its versions with [social.*] tables of its own (a version given alone: just that one).
    Only translations may have them: `plans` refuses an Easy Read version's."""
    if campaign.is_version:
        return [campaign]
    found = campaign_files.versions(workspace, campaign)
    return [campaign, *(version for version in found if channels.own_tables(version))]


def _default(campaign: Campaign) -> SocialPost:
    meta = campaign.meta
    lines = [meta.subject, meta.preheader, "{{ link }}"]
    return SocialPost(text="\n\n".join(line for line in lines if line))


def _parts(workspace: Workspace, campaign: Campaign, variant: SocialPost) -> list[Part]:
    texts = channels.render_texts(workspace, campaign, variant)
    images = [Image(workspace.root / i.path, i.alt.strip()) for i in variant.images]
    lang = channels.language(workspace, campaign)
    return [
        Part(index, text, images if index == 0 else [], lang) for index, text in enumerate(texts)
    ]


def _check(plan: Plan) -> None:
    chan, limits = plan.channel, plan.channel.limits()
    for part in plan.parts:
        where = f"{plan.where + ': ' if plan.where else ''}{plan.name}, post {part.index + 1}"
        length = chan.measure(part.text)
        if not part.text:
            plan.errors.append(f"{where}: the text is empty.")
        elif length > limits.max_length:
            plan.errors.append(
                f"{where}: {length} {limits.unit}; {chan.network} allows {limits.max_length}. "
                "Make it shorter, or split it into a thread (a list of texts)."
            )
        plan.errors += [f"{where}: {problem}" for problem in chan.problems(part.text)]
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
        plan.warnings += [f"{where}: {w}" for w in readaloud.hashtag_warnings(part.text)]
        for letter in readaloud.fancy_letters(part.text):
            plan.warnings.append(
                f"{where}: '{letter}' is a fancy letter screen readers cannot read."
            )


def require_valid(found: list[Plan]) -> None:
    _refuse([e for plan in found for e in plan.errors])


def _refuse(problems: list[str]) -> None:
    if len(problems) == 1:
        raise PostError(f"Nothing was posted: {problems[0]}")
    if problems:
        raise PostError(
            "Nothing was posted. Fix these first:\n" + "\n".join(f"  {e}" for e in problems)
        )


def page_problem(store: Store, workspace: Workspace, campaign: Campaign, found: list[Plan]) -> str:
    """Why a post that links to the campaign's archive page cannot go yet (the page is not
    public: not sent, reached nobody so far, or taken down), or "" when it can."""
    linking = [
        plan
        for plan in found
        if channels.links_to_page(workspace, plan.campaign, [part.text for part in plan.parts])
    ]
    if not linking:
        return ""
    try:
        state = archive.entry(store, workspace, campaign.slug).state
    except archive.ArchiveError:
        state = "not sent"
    if state == "public":
        return ""
    slug, link = campaign.slug, channels.link(workspace, linking[0].campaign)
    why, fix = {
        "not sent": ("has not been sent yet", f"Send it first (engage send {slug})"),
        "hidden": ("has reached nobody so far", "Post once its send has reached people"),
        "taken down": (
            "was taken down from the archive",
            f"Put it back first (engage archive restore {slug})",
        ),
    }[state]
    return (
        f"{slug} {why}, so the link in the post ({link}) leads to no page. {fix}, or take "
        "{{ link }} out of the post to post without it."
    )


def require_page(store: Store, workspace: Workspace, campaign: Campaign, found: list[Plan]) -> None:
    """Refuse to post a link to an archive page nobody can open yet."""
    problem = page_problem(store, workspace, campaign, found)
    if problem:
        raise PostError(f"Nothing was posted: {problem}")


def due(
    workspace: Workspace, campaign: Campaign, now: dt.datetime, done: set[tuple[str, str]]
) -> list[tuple[str, str]]:
    """(file, channel) pairs `engage run` should post now: the campaign's own (file: its slug)
    and each version's with [social.*] tables of its own (file: its name, spring-news.cy,
    which campaigns.load takes too; `plans` of a version plans its posts alone). A version
    that cannot be read gives its name and a channel, so the run reports why."""
    pairs = [(campaign.name, name) for name in due_channels(workspace, campaign, now, done)]
    if campaign.is_version:
        return pairs
    escaped = re.sub(r"([*?\[])", r"[\1]", campaign.slug)
    for path in sorted(campaign.path.parent.glob(f"{escaped}.*.md")):
        if campaign_files.version_parts(path) is None:
            continue
        try:
            version = campaign_files.parse(path, workspace.relative(path))
        except CampaignError:
            pairs.append((path.stem, sorted(configured(workspace))[0]))
            continue
        pairs += [(version.name, name) for name in due_channels(workspace, version, now, done)]
    return pairs


def due_channels(
    workspace: Workspace, campaign: Campaign, now: dt.datetime, done: set[tuple[str, str]]
) -> list[str]:
    """The channels `engage run` should post this campaign file to now: each whose table's
    post_at (or the campaign's send_at) has passed and whose post is not made yet ((name,
    channel) in `done`, name as in `posts`: the slug, or a version's spring-news.cy). A due
    table that names no channel gives its name alone, so the run reports it and posts nothing
    of this campaign."""
    social = configured(workspace)
    for key, table in channels.own_tables(campaign).items():
        when = table.post_at or campaign.meta.send_at
        if not channels.targets(workspace, key) and when is not None and when <= now:
            return [key]
    due = []
    for name, settings in sorted(social.items()):
        variant = channels.variant_for(campaign, name, settings.network)
        if variant is None or (campaign.name, name) in done:
            continue
        when = variant.post_at or campaign.meta.send_at
        if when is not None and when <= now:
            due.append(name)
    return due


def post(store: Store, plan: Plan) -> Outcome:
    """Post the parts of one plan (a channel, in one version's language) that are not posted
    yet, in order. Its rows are keyed by the file it is written in (`Campaign.name`)."""
    outcome = Outcome(plan.channel.name, plan.name)
    owner = owner_name()
    thread: list[Posted] = []
    name, file = plan.name, plan.campaign.name
    try:
        plan.channel.check()
    except EngageError as exc:
        outcome.problems.append(f"{name}: {exc}")
        return outcome
    for part in plan.parts:
        row = _row(store, file, plan.channel.name, part)
        if row.status == "posted":
            thread.append(Posted(row.remote_id or "", row.url or ""))
            outcome.already += 1
            continue
        if row.status != "pending" or not _take(store, row.id, owner):
            outcome.problems.append(_unclear(store, row, name, part))
            return outcome
        key = f"engage-{file}-{plan.channel.name}-{part.index}"
        try:
            done = plan.channel.publish(part, thread, key)
        except (TryLater, AuthFailed) as exc:
            _set(store, row.id, status="pending", owner=None, error=str(exc))
            outcome.problems.append(f"{name}: {exc}; left for the next run")
            return outcome
        except Rejected as exc:
            _set(store, row.id, status="failed", error=str(exc))
            outcome.problems.append(f"{name} refused post {part.index + 1}: {exc}")
            return outcome
        except ProviderError as exc:
            _set(store, row.id, status="unknown", error=str(exc))
            outcome.problems.append(
                f"{name}: post {part.index + 1} may or may not "
                f"have gone ({exc}); check the account, engage will not repeat it"
            )
            return outcome
        _set(store, row.id, status="posted", remote_id=done.remote_id, url=done.url, error=None)
        thread.append(done)
        outcome.posted.append(done)
    if thread and len(thread) == len(plan.parts):
        outcome.complete, outcome.link = True, thread[0].url
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
            row = connection.execute(sa.select(posts).where(*where)).one()
    return row


def _take(store: Store, row_id: int, owner: str) -> bool:
    """Take the part's row for this run: only a pending row can be taken, and only once."""
    free = sa.select(posts.c.id).where(posts.c.id == row_id, posts.c.status == "pending")
    with store.begin() as connection:
        taken = claim(
            connection, posts, free, status="in_flight", owner=owner, updated_at=core.now()
        )
    return taken == 1


def _unclear(store: Store, row: sa.Row, channel: str, part: Part) -> str:
    if row.status == "in_flight" and not alive(row.owner):
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
