"""Campaign files: TOML front matter between +++ lines, then a CommonMark body."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from . import langs
from .config import Workspace, read_text, read_toml, schema_error
from .errors import CampaignError
from .tomlcheck import SchemaError, build

FENCE = "+++"
EASY_READ = "easy-read"
# What a version of a campaign takes from its own front matter; the rest (audience, kind,
# send_at, template, reading level, stories) is the original's, so every version goes together.
OWN_KEYS = ("subject", "preheader", "social")
Kind = Literal["newsletter", "call-for-stories"]
ReadingLevel = Literal["beginner", "intermediate", "general"]


@dataclass(frozen=True)
class SocialImage:
    path: str  # a file in the workspace, like images/walking.jpg
    alt: str = ""  # required: lint and `engage post` refuse an image without it


@dataclass(frozen=True)
class SocialPost:
    """[social.CHANNEL] in a campaign: what to post there. A list of texts is a thread."""

    text: str | list[str] = ""
    images: list[SocialImage] = field(default_factory=list)
    post_at: dt.datetime | None = None


@dataclass(frozen=True)
class FrontMatter:
    subject: str = ""
    preheader: str = ""
    audience: str = ""
    kind: Kind = "newsletter"
    send_at: dt.datetime | None = None
    template: str = "newsletter"
    reading_level: ReadingLevel = "beginner"
    social: dict[str, SocialPost] = field(default_factory=dict)
    stories: list[int] = field(default_factory=list)  # contributors' stories it uses, by id


@dataclass(frozen=True)
class Campaign:
    slug: str
    path: Path
    meta: FrontMatter
    body: str
    body_line: int  # the file line (1-based) where the body starts
    # A version of a campaign lives beside it: <slug>.cy.md (a translation, any BCP 47 tag),
    # <slug>.easy-read.md (its Easy Read version) or <slug>.cy.easy-read.md (both). Its slug is
    # the original's, so the versions are one send; `lang` and `form` say which version it is.
    lang: str = ""  # "" for a campaign in [organisation] lang
    form: str = ""  # "easy-read" or ""
    own_keys: tuple[str, ...] = ()  # a version: the front matter keys it set itself

    @property
    def name(self) -> str:
        """The file's name without .md: the slug, or the slug and the version (slug.cy)."""
        return self.path.stem if self.is_version else self.slug

    @property
    def is_version(self) -> bool:
        return bool(self.lang or self.form)

    def file_line(self, body_line: int) -> int:
        """The file line of a 0-based body line, as markdown-it counts them."""
        return self.body_line + body_line


def is_due(meta: FrontMatter, now: dt.datetime) -> bool:
    """Whether a campaign's send_at has come (`engage run` sends it then)."""
    return meta.send_at is not None and meta.send_at <= now


def early(meta: FrontMatter, now: dt.datetime) -> bool:
    """Whether sending now would be before the campaign's send_at."""
    return meta.send_at is not None and meta.send_at > now


def when_text(value: dt.datetime) -> str:
    """A time as people read it, in the time zone it was written with:
    "10 December 2026 at 10:00 UTC", "10 December 2026 at 10:00 (UTC+01:00)"."""
    offset = value.utcoffset()
    zone = "UTC" if not offset else f"(UTC{value.strftime('%z')[:3]}:{value.strftime('%z')[3:]})"
    return f"{value.day} {value:%B %Y} at {value:%H:%M} {zone}"


def front_matter_line(campaign: Campaign, key: str) -> int:
    """The file line of a top-level key in the front matter (1 when it is not there)."""
    try:
        lines = campaign.path.read_text(encoding="utf-8-sig").splitlines()
    except OSError:
        return 1
    pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
    for number, line in enumerate(lines[1 : campaign.body_line - 2], start=2):
        if line.lstrip().startswith("["):
            break  # a table: keys after it are not top-level
        if pattern.match(line):
            return number
    return 1


def resolve(workspace: Workspace, ref: str) -> Path:
    """A campaign given as a slug (`spring-news`) or a path (`campaigns/spring-news.md`)."""
    as_path = Path(ref)
    if as_path.suffix == ".md" or "/" in ref or as_path.is_file():
        if as_path.is_file():
            return as_path.resolve()
        raise CampaignError(f"No campaign file at {ref}. Check the path, or give the slug.")
    found = workspace.named_file("campaigns", ref, ".md")
    if found is None:
        raise CampaignError(workspace.not_found("campaigns", ref, ".md", "campaign"))
    return found


def load(workspace: Workspace, ref: str) -> Campaign:
    path = resolve(workspace, ref)
    return parse(path, workspace.relative(path))


def version_parts(path: Path) -> tuple[str, str, str] | None:
    """(slug, lang, form) when `path` is a version of a campaign beside it (the original's
    file exists), else None: slug.cy.md, slug.easy-read.md, slug.cy.easy-read.md."""
    parts = path.stem.split(".")
    if len(parts) < 2:
        return None
    form = ""
    if parts[-1].lower() == EASY_READ:
        form = EASY_READ
        parts = parts[:-1]
    lang = ""
    if len(parts) >= 2 and langs.is_tag(parts[-1]):
        lang = parts[-1]
        parts = parts[:-1]
    if not (form or lang) or len(parts) != 1:
        return None
    if not path.with_name(f"{parts[0]}.md").is_file():
        return None
    return parts[0], lang, form


def slug_of(name: str) -> str:
    """The campaign a file name belongs to: share-your-story for share-your-story.cy (the key
    of a translation's social posts) and for share-your-story itself."""
    base, _, tag = name.rpartition(".")
    return base if base and (tag.lower() == EASY_READ or langs.is_tag(tag)) else name


def versions(workspace: Workspace, campaign: Campaign) -> list[Campaign]:
    """The campaign's translations and Easy Read versions beside it, in file name order. A
    version that cannot be read is raised as its CampaignError."""
    found = []
    escaped = re.sub(r"([*?\[])", r"[\1]", campaign.slug)
    for path in sorted(campaign.path.parent.glob(f"{escaped}.*.md")):
        if version_parts(path) is not None:
            found.append(parse(path, workspace.relative(path)))
    return found


def parse(path: Path, shown: str | None = None) -> Campaign:
    shown = shown or str(path)
    campaign = _parse(path, shown)
    parts = version_parts(path)
    if parts is None:
        return campaign
    slug, lang, form = parts
    original = _parse(path.with_name(f"{slug}.md"), str(Path(shown).with_name(f"{slug}.md")))
    # its own subject, preheader and posts, even when it leaves them out (lint then says so):
    # a Welsh email never shows the English preheader
    meta = replace(original.meta, **{key: getattr(campaign.meta, key) for key in OWN_KEYS})
    return replace(campaign, slug=slug, meta=meta, lang=lang, form=form)


def _parse(path: Path, shown: str) -> Campaign:
    text = read_text(path, shown, CampaignError)
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != FENCE:
        raise CampaignError(
            f"{shown}:1: a campaign starts with front matter between {FENCE} lines, "
            f'for example:\n{FENCE}\nsubject = "Our spring news"\n{FENCE}'
        )
    close = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == FENCE), None)
    if close is None:
        raise CampaignError(
            f"{shown}:1: the front matter is never closed: add a {FENCE} line after it."
        )
    front = "".join(lines[1:close])
    data = read_toml(Path(shown), front, 2, "the front matter", error=CampaignError)
    try:
        meta = build(FrontMatter, data)
    except SchemaError as exc:
        raise schema_error(exc, shown, front, 2, CampaignError, "front matter: ") from None
    if meta.send_at is not None and meta.send_at.utcoffset() is None:
        written = meta.send_at.strftime("%Y-%m-%dT%H:%M:%S")
        said = (
            f"send_at needs a time zone: write {written}Z for UTC (UK winter time), or "
            f"{written}+01:00 for UK summer time"
        )
        raise schema_error(SchemaError(said), shown, front, 2, CampaignError, "front matter: ")
    body = "".join(lines[close + 1 :])
    return Campaign(
        slug=path.stem,
        path=path,
        meta=meta,
        body=body,
        body_line=close + 2,
        own_keys=tuple(key for key in data if hasattr(meta, key)),
    )


def all_campaigns(workspace: Workspace) -> list[Campaign | CampaignError]:
    """Every campaign in the workspace, or the error that stops one being read. Versions of a
    campaign (translations, Easy Read) are not campaigns of their own: see `versions`."""
    found: list[Campaign | CampaignError] = []
    for path in sorted(workspace.campaigns_dir.glob("*.md")):
        if version_parts(path) is not None:
            continue
        try:
            found.append(parse(path, workspace.relative(path)))
        except CampaignError as exc:
            found.append(exc)
    return found
