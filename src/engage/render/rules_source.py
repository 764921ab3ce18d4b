"""Lint rules that read what the team wrote: front matter, the Markdown body, the templates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from markdown_it.token import Token

from ..campaigns import Campaign, front_matter_line
from . import readability, rules_links
from .findings import Finding

VAGUE_LINK_TEXT = {
    "click here",
    "here",
    "click",
    "read more",
    "more",
    "learn more",
    "find out more",
    "this link",
    "link",
    "more info",
    "more information",
    "this",
    "this page",
    "go",
    "details",
}
GENERIC_PREHEADERS = {"view in browser", "view this email in your browser", "view online"}
_FILE_NAME = re.compile(r"^[\w\-. ]+\.(jpe?g|png|gif|webp|svg|bmp|tiff?)$", re.I)
_REDUNDANT = re.compile(r"^(an? )?(image|picture|photo|photograph|graphic) (of|showing)\b", re.I)
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z'’]+(?:\s+[A-Z][A-Z'’]+){2,}\b")
_TEMPLATE_IMAGE = re.compile(r"<(mj-image|img)\b([^>]*)>", re.I)


@dataclass(frozen=True)
class InlineLink:
    text: str
    href: str
    line: int  # file line


@dataclass(frozen=True)
class Image:
    alt: str
    src: str
    line: int


def front_matter(campaign: Campaign, shown: str) -> Iterator[Finding]:
    meta = campaign.meta
    subject, preheader = meta.subject.strip(), meta.preheader.strip()
    where = f"{shown}:1"
    if not subject:
        yield Finding(
            "subject-missing",
            where,
            "The campaign has no subject.",
            'Add a subject to the front matter, like subject = "Our winter news".',
        )
    elif broken := subject_line_break(campaign, shown):
        yield broken
    elif len(subject) > 78:
        yield Finding(
            "subject-long",
            where,
            f"The subject is {len(subject)} characters long.",
            "Keep it to 78 characters or fewer, so mail apps show all of it.",
        )
    if not preheader:
        yield Finding(
            "preheader-missing",
            where,
            "The campaign has no preheader.",
            "Add a preheader: one sentence that adds to the subject.",
        )
    elif (
        preheader.lower() == subject.lower() or preheader.lower().rstrip(".") in GENERIC_PREHEADERS
    ):
        yield Finding(
            "preheader-repeats",
            where,
            f'The preheader "{preheader}" adds nothing.',
            "Say something the subject does not, like what is inside.",
        )


# What ends a line in an email header, or in any program that reads one: CR and LF, and the
# other breaks Python's str.splitlines knows; and control characters, which no subject needs.
_BREAK = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


def subject_line_break(campaign: Campaign, shown: str) -> Finding | None:
    """A subject on more than one line: in the Subject header a line break could start headers
    of its own. Lint reports it, and `engage send` (a test copy too, even with --force) refuses
    it, in these words."""
    subject = campaign.meta.subject
    if not _BREAK.search(subject):
        return None
    return Finding(
        "subject-line-break",
        f"{shown}:{front_matter_line(campaign, 'subject')}",
        f"The subject has a line break or control character in it: {subject!r}.",
        "Put the subject on one line, with no \\n or \\r in it.",
    )


def inline_items(campaign: Campaign, tokens: list[Token]) -> tuple[list[InlineLink], list[Image]]:
    """Every link and image in the body, with the file line it is on."""
    links: list[InlineLink] = []
    images: list[Image] = []
    for token in tokens:
        if token.type != "inline" or not token.map:
            continue
        line = campaign.file_line(token.map[0])
        open_link: tuple[str, int, list[str]] | None = None
        for child in token.children or []:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type == "link_open":
                open_link = (str(child.attrGet("href") or ""), line, [])
            elif child.type == "link_close" and open_link:
                href, start, parts = open_link
                links.append(InlineLink(" ".join("".join(parts).split()), href, start))
                open_link = None
            elif child.type == "image":
                images.append(Image(child.content, str(child.attrGet("src") or ""), line))
                if open_link:
                    open_link[2].append(child.content)
            elif open_link and child.type in ("text", "code_inline"):
                open_link[2].append(child.content)
            line += child.content.count("\n") if child.type == "text" else 0
    return links, images


def images(items: list[Image], shown: str) -> Iterator[Finding]:
    for image in items:
        where = f"{shown}:{image.line}"
        name = Path(image.src).name or image.src
        if image.src.startswith("data:"):
            name = "written in as data"
        yield from alt_text(image.alt, name, where)
        yield from rules_links.image_source(image.src, where, name)


def alt_text(alt: str, name: str, where: str) -> Iterator[Finding]:
    alt = alt.strip()
    if not alt:
        yield Finding(
            "image-alt-missing",
            where,
            f"The image {name} has no alt text.",
            "Describe what the picture shows: "
            "![Two people playing boccia](https://www.example.org/boccia.jpg)",
        )
    elif _FILE_NAME.match(alt):
        yield Finding(
            "image-alt-filename",
            where,
            f'The alt text "{alt}" is a file name.',
            "Describe what the picture shows, in words.",
        )
    elif _REDUNDANT.match(alt):
        yield Finding(
            "image-alt-redundant",
            where,
            f'The alt text "{alt[:40]}" starts by saying it is a picture.',
            "Screen readers already say it is an image: start with what it shows.",
        )
    elif len(alt) > 150:
        yield Finding(
            "image-alt-long",
            where,
            f"The alt text is {len(alt)} characters long.",
            "Keep alt text to 150 characters or fewer; put more detail in the body text.",
        )


@dataclass(frozen=True)
class Located:
    """A link found anywhere (body or template), with the place to report it."""

    text: str
    href: str
    where: str


def links(items: list[Located]) -> Iterator[Finding]:
    """Vague link text, and one text for two addresses."""
    first_for_text: dict[str, Located] = {}
    for link in items:
        text = normalise_link_text(link.text)
        if text in VAGUE_LINK_TEXT or not text:
            shown = f'"{link.text}"' if link.text else "empty"
            yield Finding(
                "link-text-vague",
                link.where,
                f"The link text {shown} does not say where it goes ({link.href}).",
                'Use words that name the page, like "Read Sam\'s story".',
            )
            continue
        earlier = first_for_text.setdefault(text, link)
        if earlier.href != link.href:
            yield Finding(
                "link-text-ambiguous",
                link.where,
                f'The link text "{link.text}" goes to {earlier.href} and to {link.href}.',
                "Give each link its own words, so people know which is which.",
            )


def normalise_link_text(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", "", text.lower()).split())


def raw_html(campaign: Campaign, tokens: list[Token], shown: str) -> Iterator[Finding]:
    for token in tokens:
        pieces: list[tuple[str, int]] = []
        if token.type == "html_block" and token.map:
            pieces.append((token.content.strip(), campaign.file_line(token.map[0])))
        elif token.type == "inline" and token.map:
            pieces += [
                (c.content, campaign.file_line(token.map[0]))
                for c in token.children or []
                if c.type == "html_inline"
            ]
        for html, line in pieces:
            yield Finding(
                "raw-html",
                f"{shown}:{line}",
                f"Raw HTML {html[:60]!r} is cleaned before sending.",
                "Write it in Markdown instead; only safe formatting is kept.",
            )


def capitals(campaign: Campaign, tokens: list[Token], shown: str) -> Iterator[Finding]:
    for token in tokens:
        if token.type == "inline" and token.map:
            for match in _CAPS_RUN.finditer(token.content):
                line = campaign.file_line(token.map[0]) + token.content[: match.start()].count("\n")
                yield Finding(
                    "capitals",
                    f"{shown}:{line}",
                    f'"{match.group(0)[:40]}" is in capitals.',
                    "Write it in ordinary letters: capitals are harder to read.",
                )


def blocks(campaign: Campaign, tokens: list[Token]) -> Iterator[tuple[str, int, str]]:
    """(kind, file line, words) for each heading, paragraph and list item, for scoring."""
    kind = "paragraph"
    for token in tokens:
        if token.type == "heading_open":
            kind = "heading"
        elif token.type == "list_item_open":
            kind = "list item"
        elif token.type == "inline" and token.map:
            text = "".join(
                " " if c.type in ("softbreak", "hardbreak") else c.content
                for c in token.children or []
                if c.type in ("text", "code_inline", "softbreak", "hardbreak")
            )
            text = " ".join(text.split())
            if text and not text.endswith((".", "!", "?", "…", ":")):
                text += "."
            yield kind, campaign.file_line(token.map[0]), text
            kind = "paragraph"


def reading(
    campaign: Campaign, tokens: list[Token], shown: str, english: bool = True
) -> Iterator[Finding]:
    """The reading level of each block, and the reading time; in a language other than
    English, the reading time only (the reading level's formula is for English)."""
    level = readability.LEVELS[campaign.meta.reading_level]
    words = 0
    for kind, line, text in blocks(campaign, tokens):
        score = readability.score_text(text)
        words += score.words
        reasons = readability.problems(score, level) if english else []
        if reasons:
            start = " ".join(text.split()[:6])
            yield Finding(
                "reading-level",
                f"{shown}:{line}",
                f'This {kind} ("{start}…") is hard for {level.name} readers: {"; ".join(reasons)}.',
                readability.advice(score, level),
            )
    whole = readability.score_text(" ".join(text for _, _, text in blocks(campaign, tokens)))
    minutes = readability.reading_time_minutes(words)
    level_words = (
        _as_a_whole(whole, level)
        if english
        else "engage measures the reading level of English only: ask a reader of this "
        "language to check it is easy to read."
    )
    yield Finding(
        "reading-time",
        shown,
        f"About {minutes} minute{'s' if minutes != 1 else ''} to read ({words} words). "
        + level_words,
    )


def _as_a_whole(whole: readability.Score, level: readability.Level) -> str:
    readers = f"{level.name} readers"
    if readability.too_hard(whole, level):
        return (
            f"As a whole, it needs a reading age {readability.age_words(whole.grade)} "
            f"({readers}: {readability.reading_age(level.max_grade)} or under)."
        )
    if readability.long_words(whole, level):
        return f"As a whole, it has many long words for {readers}."
    return f"As a whole, it is easy enough for {readers}."


def template_images(paths: list[Path], shown: dict[Path, str]) -> Iterator[Finding]:
    """mj-image and img tags in the templates: MJML turns a missing alt into alt="" silently."""
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for match in _TEMPLATE_IMAGE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            alt = re.search(r"""\balt\s*=\s*("([^"]*)"|'([^']*)')""", match.group(2))
            src = re.search(r"""\bsrc\s*=\s*["']([^"']*)""", match.group(2))
            name = Path(src.group(1)).name if src else match.group(1)
            if src:
                yield from rules_links.image_source(src.group(1), f"{shown[path]}:{line}", name)
            if alt is None:
                yield from alt_text("", name, f"{shown[path]}:{line}")
            elif alt.group(2) or alt.group(3):
                # alt="" written out is a choice: the picture is decoration.
                yield from alt_text(alt.group(2) or alt.group(3), name, f"{shown[path]}:{line}")
