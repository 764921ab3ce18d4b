"""The channels `[social.NAME]` in engage.toml sets up; the outbox when none is set.

A campaign's own `[social.KEY]` table says what to post: KEY is a channel's name, or a network
(then the table is for every channel of that network). A table whose KEY is neither is refused
by lint, `engage post` and `engage run` alike (`unknown_tables`), never quietly skipped.

A translation of a campaign (slug.cy.md) posts only what its own file's tables say
(`own_tables`), in its own language (`language`), linking to its own web version (`link`).
One without tables posts nothing of its own. Posts go one per language, so an Easy Read
version's own tables are refused (`misplaced_tables`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jinja2

from .. import archive, langs
from ..campaigns import Campaign, SocialPost
from ..config import SocialChannel, Workspace
from ..errors import CampaignError, ConfigError
from . import networks
from .base import Channel


def configured(workspace: Workspace) -> dict[str, SocialChannel]:
    return workspace.config.social or {"outbox": SocialChannel(network="outbox")}


def targets(workspace: Workspace, key: str) -> list[str]:
    """The channels a campaign's [social.KEY] table posts to: the channel named KEY, else every
    channel of the network KEY; none when KEY is neither."""
    social = configured(workspace)
    if key in social:
        return [key]
    return sorted(name for name, settings in social.items() if settings.network == key)


def own_tables(campaign: Campaign) -> dict[str, SocialPost]:
    """The [social.KEY] tables written in the campaign's own file. A version without any has
    none: it does not post the original's again."""
    if campaign.is_version and "social" not in campaign.own_keys:
        return {}
    return campaign.meta.social


def variant_for(campaign: Campaign, name: str, network: str) -> SocialPost | None:
    """The campaign's table for one channel: its own name first, then its network's."""
    tables = own_tables(campaign)
    return tables.get(name) or tables.get(network)


def language(workspace: Workspace, campaign: Campaign) -> str:
    """The language a campaign's posts are written in: a translation's own, else
    [organisation] lang, as a BCP 47 tag (cy, en-GB)."""
    tag = campaign.lang or workspace.config.organisation.lang
    try:
        return langs.tidy(tag)
    except langs.BadLanguage:
        return tag  # config.py reports a wrong [organisation] lang


def link(workspace: Workspace, campaign: Campaign) -> str:
    """{{ link }}: the campaign's web version; a translation's is its own page in the archive
    (/archive/slug.cy, as its readers' emails link to)."""
    return archive.address(workspace, archive.page_key(workspace, campaign))


@dataclass(frozen=True)
class Problem:
    """Something wrong with a campaign's social tables: where (file:line), what, how to fix."""

    where: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message} {self.fix}"


def unknown_tables(workspace: Workspace, campaign: Campaign) -> list[Problem]:
    """Each [social.KEY] in the campaign that names no channel in engage.toml (and would
    otherwise be skipped without a word, with a default post made instead)."""
    shown = workspace.relative(campaign.path)
    names = ", ".join(sorted(configured(workspace)))
    settled = "" if workspace.config.social else " (engage.toml sets none, so posts go there)"
    return [
        Problem(
            f"{shown}:{table_line(campaign, key)}",
            f"[social.{key}] is not a channel in engage.toml, so nothing could be posted from it.",
            f"The channels are: {names}{settled}. Change the name to one of those, or add a "
            f"[social.{key}] channel to engage.toml.",
        )
        for key in own_tables(campaign)
        if not targets(workspace, key)
    ]


def misplaced_tables(workspace: Workspace, campaign: Campaign) -> list[Problem]:
    """Each [social.KEY] in an Easy Read version's own file: posts go one per language (from
    the campaign and its translations), so they would post the same language twice."""
    if not campaign.form:
        return []
    shown = workspace.relative(campaign.path)
    home = campaign.slug + (f".{campaign.lang}" if campaign.lang else "")
    return [
        Problem(
            f"{shown}:{table_line(campaign, key)}",
            f"[social.{key}] is in an Easy Read version. Social posts go one for each "
            f"language, so it would post a second one in the same language.",
            f"Put the post in campaigns/{home}.md instead (write it in easy words there), or "
            "take the table out.",
        )
        for key in own_tables(campaign)
    ]


def early_posts(workspace: Workspace, campaign: Campaign) -> list[Problem]:
    """Each table whose post_at comes before the campaign's send_at while its post links to
    the newsletter's web page: that page does not exist until the campaign is sent."""
    send_at, found = campaign.meta.send_at, []
    for key, variant in own_tables(campaign).items():
        if not (send_at and variant.post_at and variant.post_at < send_at):
            continue
        try:
            linked = links_to_page(workspace, campaign, render_texts(workspace, campaign, variant))
        except CampaignError:
            continue  # `engage post` reports the mistake in the text
        if linked:
            found.append(
                Problem(
                    f"{workspace.relative(campaign.path)}:{table_line(campaign, key)}",
                    f"[social.{key}] posts at {variant.post_at:%Y-%m-%d %H:%M %Z}, before the "
                    f"campaign is sent ({send_at:%Y-%m-%d %H:%M %Z}), and links to its web page, "
                    "which is only there once it is sent.",
                    "Set post_at to send_at or later, or take {{ link }} out of the post.",
                )
            )
    return found


def render_texts(workspace: Workspace, campaign: Campaign, variant: SocialPost) -> list[str]:
    """Each part of a post with {{ link }}, {{ subject }}, {{ preheader }} and {{ slug }}
    filled in."""
    texts = variant.text if isinstance(variant.text, list) else [variant.text]
    context = {
        "link": link(workspace, campaign),
        "subject": campaign.meta.subject,
        "preheader": campaign.meta.preheader,
        "slug": campaign.slug,
    }
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    rendered = []
    for index, text in enumerate(texts):
        try:
            rendered.append(env.from_string(text).render(context).strip())
        except jinja2.TemplateError as exc:
            raise CampaignError(
                f"{campaign.name}: the social text {index + 1} has a mistake: {exc}"
            ) from None
    return rendered


def links_to_page(workspace: Workspace, campaign: Campaign, texts: list[str]) -> bool:
    """Whether any of these texts links to the campaign's archive page (any version of it)."""
    link = re.compile(re.escape(archive.address(workspace, campaign.slug)) + r"(?![\w/-])")
    return any(link.search(text) for text in texts)


def table_line(campaign: Campaign, key: str) -> int:
    """The front-matter line where [social.KEY] starts (1 when it cannot be found)."""
    try:
        lines = campaign.path.read_text(encoding="utf-8").splitlines()[: campaign.body_line]
    except OSError:
        return 1
    name = rf"""(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')"""
    table = re.compile(rf"^\s*\[\[?\s*social\s*\.\s*{name}\s*[\].]")
    dotted = re.compile(rf"^\s*social\s*\.\s*{name}\s*[.=]")
    inside = re.compile(rf"^\s*{name}\s*=")
    in_social = False
    for number, line in enumerate(lines, 1):
        if table.match(line) or dotted.match(line) or (in_social and inside.match(line)):
            return number
        if line.lstrip().startswith("["):
            in_social = re.match(r"^\s*\[\s*social\s*\]", line) is not None
    return 1


def channel(workspace: Workspace, name: str) -> Channel:
    """The channel `[social.NAME]` sets up, made by its network's unit (networks.py)."""
    settings = configured(workspace).get(name)
    if settings is None:
        known = ", ".join(sorted(configured(workspace)))
        raise ConfigError(f"No social channel '{name}' in engage.toml. Channels: {known}.")
    return networks.get(settings.network)(name, settings, workspace)
