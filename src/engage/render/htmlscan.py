"""Read finished email HTML the way lint needs it: each piece of visible text with the style it
ends up with, and the links, headings, images and tables, in document order.

Only inline styles and presentational attributes count, as in mail apps that drop <style>.
Conditional comments for Outlook are skipped; so is anything hidden with display:none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
HIDDEN_TAGS = {"head", "style", "script", "template", "noscript"}
BOLD_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "b", "strong", "th"}


@dataclass(frozen=True)
class Style:
    color: str = "#000000"
    background: str = "#ffffff"
    font_size: float = 16.0  # px
    line_height: tuple[float, str] = (1.2, "ratio")  # (value, "ratio" | "px")
    bold: bool = False
    text_align: str = "left"
    text_transform: str = "none"
    hidden: bool = False

    @property
    def line_ratio(self) -> float:
        value, unit = self.line_height
        return value / self.font_size if unit == "px" and self.font_size else value


@dataclass(frozen=True)
class Text:
    text: str
    style: Style
    tags: tuple[str, ...]  # open elements, outermost first


@dataclass
class Link:
    href: str
    text: str = ""


@dataclass
class Scan:
    lang: str | None = None
    title: str | None = None
    texts: list[Text] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    headings: list[tuple[int, str]] = field(default_factory=list)
    images: list[dict[str, str | None]] = field(default_factory=list)
    tables: list[dict[str, str | None]] = field(default_factory=list)
    tables_with_th: set[int] = field(default_factory=set)
    has_charset: bool = False


def scan(html: str) -> Scan:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.result


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.result = Scan()
        self.stack: list[tuple[str, Style]] = []
        self.link: Link | None = None
        self.heading: tuple[int, list[str]] | None = None
        self.table_stack: list[int] = []
        self.in_title = False
        self.title_parts: list[str] = []

    @property
    def style(self) -> Style:
        return self.stack[-1][1] if self.stack else Style()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        self._record(tag, attr)
        if tag in VOID:
            return
        style = computed(self.style, tag, attr)
        if tag in HIDDEN_TAGS:
            style = replace(style, hidden=True)
        self.stack.append((tag, style))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, dict(attrs))

    def _record(self, tag: str, attr: dict[str, str | None]) -> None:
        result = self.result
        if tag == "html":
            result.lang = attr.get("lang")
        elif tag == "meta" and (
            "charset" in attr or (attr.get("content") or "").lower().find("charset") >= 0
        ):
            result.has_charset = True
        elif tag == "title":
            self.in_title = True
        elif tag == "a" and attr.get("href") is not None:
            self.link = Link(href=attr["href"] or "")
            result.links.append(self.link)
        elif tag == "img":
            result.images.append(attr)
            if self.link is not None and attr.get("alt"):
                self.link.text += " " + (attr.get("alt") or "")
        elif tag == "table":
            result.tables.append(attr)
            self.table_stack.append(len(result.tables) - 1)
        elif tag == "th" and self.table_stack:
            result.tables_with_th.add(self.table_stack[-1])
        elif re.fullmatch(r"h[1-6]", tag):
            self.heading = (int(tag[1]), [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
            self.result.title = "".join(self.title_parts).strip()
        elif tag == "a":
            self.link = None
        elif tag == "table" and self.table_stack:
            self.table_stack.pop()
        elif self.heading and tag == f"h{self.heading[0]}":
            level, parts = self.heading
            self.result.headings.append((level, " ".join("".join(parts).split())))
            self.heading = None
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
            return
        if self.link is not None:
            self.link.text += data
        if self.heading is not None:
            self.heading[1].append(data)
        if data.strip() and not self.style.hidden:
            tags = tuple(tag for tag, _ in self.stack)
            self.result.texts.append(Text(" ".join(data.split()), self.style, tags))


def declarations(style: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in style.split(";"):
        name, sep, value = part.partition(":")
        if sep:
            found[name.strip().lower()] = value.strip().lower().replace("!important", "").strip()
    return found


def computed(parent: Style, tag: str, attr: dict[str, str | None]) -> Style:
    """The style an element ends up with: inherited from `parent`, then its own."""
    css = declarations(attr.get("style") or "")
    style = replace(parent, bold=parent.bold or tag in BOLD_TAGS)
    if attr.get("bgcolor"):
        style = replace(style, background=attr["bgcolor"] or style.background)
    if tag == "font" and attr.get("color"):
        style = replace(style, color=attr["color"] or style.color)
    changes: dict[str, object] = {}
    for name, value in css.items():
        if name == "color":
            changes["color"] = value
        elif name in ("background-color", "background"):
            colour = _first_colour(value)
            if colour:
                changes["background"] = colour
        elif name == "font-size":
            size = length(value, parent.font_size)
            if size is not None:
                changes["font_size"] = size
        elif name == "line-height":
            changes["line_height"] = _line_height(value, css, parent)
        elif name == "font-weight":
            changes["bold"] = value in ("bold", "bolder") or (value.isdigit() and int(value) >= 600)
        elif name == "text-align":
            changes["text_align"] = value
        elif name == "text-transform":
            changes["text_transform"] = value
        elif (name == "display" and value == "none") or (name == "mso-hide" and value == "all"):
            changes["hidden"] = True
    return replace(style, **changes)  # type: ignore[arg-type]


def _first_colour(value: str) -> str | None:
    found = re.search(r"#[0-9a-f]{3,8}\b|rgba?\([^)]*\)|\b[a-z]+\b", value)
    return (
        found.group(0) if found and found.group(0) not in ("none", "url", "transparent") else None
    )


def _line_height(value: str, css: dict[str, str], parent: Style) -> tuple[float, str]:
    if value == "normal":
        return (1.2, "ratio")
    try:
        return (float(value), "ratio")
    except ValueError:
        pass
    own_size = length(css.get("font-size", ""), parent.font_size) or parent.font_size
    size = length(value, own_size)
    return (size, "px") if size is not None else parent.line_height


def length(value: str, relative_to: float) -> float | None:
    """A CSS length in px; em and % are relative to `relative_to`."""
    found = re.fullmatch(r"(-?[\d.]+)\s*(px|pt|em|rem|%)?", value.strip())
    if not found:
        return None
    number, unit = float(found.group(1)), found.group(2) or "px"
    return {
        "px": number,
        "pt": number * 4 / 3,
        "em": number * relative_to,
        "rem": number * 16,
        "%": number * relative_to / 100,
    }[unit]
