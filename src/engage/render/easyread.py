"""Easy Read: a campaign version written as rows, each a picture and one or two short sentences.

The source is plain Markdown (docs/easy-read.md):

    # Our news for December

    ![A group of people walking in a park](https://www.example.org/images/walk.png)
    We go for a walk every Saturday.
    The walk takes 1 hour.

A heading is a section title. A paragraph is a row: its picture first, then its words on the
lines under it. Anything else (a list, a quote, a table, a second picture in a row) stops the
build with the file line and how to fix it. A row without a picture is allowed here, so that
lint can report every such row at once (rules_easyread.py).

Each sentence keeps its file line, for lint. `rows` gives the layout its rows (the template
newsletter-easy-read.mjml.j2 draws them); `text` writes the plain-text twin: each sentence on
a line of its own, each picture as [Picture: its alt text].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markupsafe import Markup

from ..campaigns import Campaign
from ..errors import CampaignError
from .markdown import Body, make_parser, sanitise
from .plaintext import heading_text, inline_text, picture_text

# Where one sentence ends and the next begins inside a line: . ! or ? (and any closing quote or
# bracket), a space, then a capital letter, a digit or an opening quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])([\"”’')]*)\s+(?=[\"“‘(]?[A-Z0-9])")
# What each kind of block is called when it cannot be a row, and how to write it instead.
_NOT_A_ROW = {
    "bullet_list_open": "a list",
    "ordered_list_open": "a numbered list",
    "blockquote_open": "a quote",
    "table_open": "a table",
    "code_block": "a code block",
    "fence": "a code block",
    "hr": "a line across the page",
    "html_block": "HTML",
}
_PARSER = make_parser()  # for its options, when a sentence is rendered to HTML
ROW_EXAMPLE = "![What the picture shows](https://www.example.org/images/walk.png)"


@dataclass(frozen=True)
class Picture:
    src: str
    alt: str
    line: int  # file line

    @property
    def shown_src(self) -> str:
        """The address the email loads, or "" for one a mail program could not load (lint
        reports those: image-data, image-path)."""
        return self.src if urlsplit(self.src).scheme in ("http", "https") else ""


@dataclass(frozen=True)
class Sentence:
    tokens: tuple[Token, ...]  # markdown-it inline tokens
    line: int  # the file line it starts on

    @property
    def text(self) -> str:
        """Its words, as a reader sees them (link text without the address)."""
        words = "".join(
            " " if t.type in ("softbreak", "hardbreak") else t.content
            for t in self.tokens
            if t.type in ("text", "code_inline", "softbreak", "hardbreak")
        )
        return " ".join(words.split())


@dataclass(frozen=True)
class Heading:
    level: int
    line: int
    tokens: tuple[Token, ...]

    @property
    def text(self) -> str:
        return Sentence(self.tokens, self.line).text


@dataclass(frozen=True)
class Row:
    line: int
    picture: Picture | None
    sentences: tuple[Sentence, ...]


Part = Heading | Row


@dataclass(frozen=True)
class Document:
    parts: tuple[Part, ...]

    @property
    def rows(self) -> list[Row]:
        return [part for part in self.parts if isinstance(part, Row)]


def parse(campaign: Campaign, body: Body, shown: str) -> Document:
    """The rows and headings of an Easy Read body. Raises CampaignError at the first block that
    is neither, naming its file line and what to write instead."""
    parts: list[Part] = []
    tokens = body.tokens
    for index, token in enumerate(tokens):
        if token.level != 0 or token.type.endswith("_close") or token.type == "inline":
            continue
        line = campaign.file_line(token.map[0]) if token.map else campaign.body_line
        where = f"{shown}:{line}"
        if token.type == "heading_open":
            children = tuple(tokens[index + 1].children or [])
            _no_picture_in_heading(children, where)
            parts.append(Heading(int(token.tag[1:]), line, children))
        elif token.type == "paragraph_open":
            parts.append(_row(list(tokens[index + 1].children or []), line, shown))
        else:
            what = _NOT_A_ROW.get(token.type, token.type)
            raise CampaignError(
                f"{where}: an Easy Read version is written as rows, and this is {what}. "
                f"Write each point as a row of its own: a picture ({ROW_EXAMPLE}), then one "
                "or two short sentences on the lines under it, then an empty line."
            )
    if not any(isinstance(part, Row) for part in parts):
        raise CampaignError(
            f"{shown}:{campaign.body_line}: this Easy Read version has no rows. Write each "
            f"point as a row: a picture ({ROW_EXAMPLE}), then one or two short sentences on "
            "the lines under it."
        )
    return Document(tuple(parts))


def _no_picture_in_heading(children: tuple[Token, ...], where: str) -> None:
    if any(child.type == "image" for child in children):
        raise CampaignError(
            f"{where}: a heading has a picture in it. Put the picture at the start of the row "
            "under the heading, on a line of its own."
        )


def _row(children: list[Token], line: int, shown: str) -> Row:
    """A paragraph as a row: an optional picture first, then its sentences."""
    picture = None
    if len(children) > 1 and children[0].type == "link_open" and children[1].type == "image":
        raise CampaignError(
            f"{shown}:{line}: the picture is a link. In Easy Read the picture is not a link: "
            "put the link on words in a sentence, like [Read Sam's story](https://...)."
        )
    if children and children[0].type == "image":
        image = children.pop(0)
        picture = Picture(str(image.attrGet("src") or ""), image.content.strip(), line)
        while children and children[0].type in ("softbreak", "hardbreak"):
            children.pop(0)
            line += 1
    sentences = _sentences(children, line)
    for sentence in sentences:
        for token in sentence.tokens:
            if token.type == "image":
                raise CampaignError(
                    f"{shown}:{sentence.line}: a picture in the middle of a row. Each row has "
                    "one picture, at its start: leave an empty line, then start a new row "
                    "with the picture on a line of its own."
                )
    if picture is not None and not sentences:
        raise CampaignError(
            f"{shown}:{line}: the picture has no words beside it. Write one or two short "
            "sentences on the lines under the picture, with no empty line between."
        )
    return Row(picture.line if picture else line, picture, tuple(sentences))


def _sentences(children: list[Token], line: int) -> list[Sentence]:
    """Split a row's words into sentences: at each line break, and after . ! or ? inside a
    line. Only outside links and bold, so each sentence's HTML stays whole."""
    found: list[Sentence] = []
    current: list[Token] = []
    start, depth = line, 0

    def finish(next_line: int) -> None:
        nonlocal current, start
        if Sentence(tuple(current), start).text or any(t.type == "image" for t in current):
            found.append(Sentence(tuple(current), start))
        current, start = [], next_line

    for token in children:
        depth += token.nesting
        if token.type in ("softbreak", "hardbreak") and depth == 0:
            line += 1
            finish(line)
        elif token.type == "text" and depth == 0 and _SENTENCE_END.search(token.content):
            pieces = _split(token.content)
            for piece in pieces[:-1]:
                current.append(_text(piece))
                finish(line)
            current.append(_text(pieces[-1]))
        else:
            line += token.content.count("\n") if token.type == "text" else 0
            current.append(token)
    finish(line)
    return found


def _split(text: str) -> list[str]:
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        pieces.append(text[start : match.end(1)])
        start = match.end()
    return [*pieces, text[start:]]


def _text(content: str) -> Token:
    return Token("text", "", 0, content=content)


# The email ------------------------------------------------------------------------------


def rows(document: Document) -> list[dict[str, Any]]:
    """The layout's rows: headings and rows of picture and sentences, their words as safe
    HTML (Markdown's bold and links kept, anything unsafe removed)."""
    drawn: list[dict[str, Any]] = []
    for part in document.parts:
        if isinstance(part, Heading):
            drawn.append({"kind": "heading", "level": part.level, "html": _html(part.tokens)})
            continue
        picture = part.picture
        drawn.append(
            {
                "kind": "row",
                "picture": {"src": picture.shown_src, "alt": picture.alt} if picture else None,
                "sentences": [_html(sentence.tokens) for sentence in part.sentences],
            }
        )
    return drawn


def _html(tokens: tuple[Token, ...]) -> Markup:
    rendered = RendererHTML().renderInline(list(tokens), _PARSER.options, {})
    return Markup(sanitise(rendered.strip()))


# The plain-text twin --------------------------------------------------------------------


def text(document: Document) -> str:
    """Each heading, then each row: [Picture: alt] and its sentences, one on each line."""
    blocks = []
    for part in document.parts:
        if isinstance(part, Heading):
            blocks.append(heading_text(inline_text(list(part.tokens)), part.level))
            continue
        lines = [picture_text(part.picture.alt)] if part.picture else []
        lines += [inline_text(list(sentence.tokens)) for sentence in part.sentences]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
