"""The plain-text part of an email, rendered from the parsed Markdown (never from the HTML).

Links keep their URL written out, pictures become ``[Picture: alt]``, tables are read out
row by row as ``header: value`` lines, and raw HTML contributes its text only.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from html.parser import HTMLParser
from itertools import zip_longest
from urllib.parse import unquote

from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

from engage.render.markdown import URL_SCHEMES

BR = "\x00"  # a hard line break; markdown-it turns NUL in the source into U+FFFD
PARA = "\x01"  # a paragraph break inside raw HTML
MIN_WIDTH = 20  # nested blocks never wrap narrower than this
RULE = "* * *"
# Elements whose content the sanitiser drops from the HTML part, so the text drops it too.
SKIP_TAGS = {"script", "style", "iframe", "object", "embed", "template"}
# fmt: off
BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tr", "ul",
}
# fmt: on
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_SPACE = re.compile(r"[ \t\n\r\f\v]+")  # not NBSP: an author's no-break space stays


def render_text(tokens: list[Token], width: int = 72) -> str:
    """The plain-text twin of a parsed Markdown body."""
    if not tokens:
        return ""
    text = "\n\n".join(_blocks(SyntaxTreeNode(tokens).children, width))
    return text + "\n" if text else ""


# Blocks ---------------------------------------------------------------------------------


def _blocks(nodes: list[SyntaxTreeNode], width: int) -> list[str]:
    """Each node rendered, without trailing spaces or blank edges; empty blocks dropped."""
    blocks = []
    for node in nodes:
        lines = [line.rstrip() for line in _block(node, width).split("\n")]
        text = "\n".join(lines).strip("\n")
        if text:
            blocks.append(text)
    return blocks


def _block(node: SyntaxTreeNode, width: int) -> str:
    render = _RENDERERS.get(node.type)
    if render is not None:
        return render(node, width)
    return "\n\n".join(_blocks(node.children, width))


def _heading(node: SyntaxTreeNode, width: int) -> str:
    return heading_text(_flat(_inline_of(node)), int(node.tag[1:]))


def heading_text(text: str, level: int) -> str:
    """A heading: level 1 underlined with =, level 2 with -, the others as they are."""
    underline = {1: "=", 2: "-"}.get(level)
    if not text or underline is None:
        return text
    return f"{text}\n{underline * len(text)}"


def _paragraph(node: SyntaxTreeNode, width: int) -> str:
    return _fill(_inline_of(node), width)


def _code(node: SyntaxTreeNode, width: int) -> str:
    return "\n".join("    " + line for line in node.content.split("\n"))


def _quote(node: SyntaxTreeNode, width: int) -> str:
    inner = "\n\n".join(_blocks(node.children, _narrow(width, 2)))
    return "\n".join("> " + line for line in inner.split("\n")) if inner else ""


def _list(node: SyntaxTreeNode, width: int) -> str:
    items = [child for child in node.children if child.type == "list_item"]
    if not items:
        return ""
    if node.type == "ordered_list":
        start = int(node.attrs.get("start", 1))
        markers = [f"{start + i}." for i in range(len(items))]
    else:
        markers = ["-"] * len(items)
    pad = max(len(marker) for marker in markers) + 1
    sep = "\n" if _is_tight(node) else "\n\n"
    rendered = []
    for marker, item in zip(markers, items, strict=True):
        body = sep.join(_blocks(item.children, _narrow(width, pad)))
        rendered.append(_hang(marker.ljust(pad), body))
    return sep.join(rendered)


def _is_tight(node: SyntaxTreeNode) -> bool:
    """markdown-it hides the paragraphs of a tight list."""
    return all(p.hidden for item in node.children for p in item.children if p.type == "paragraph")


def _hang(prefix: str, body: str) -> str:
    """``prefix`` before the first line, the other lines indented to match."""
    first, *rest = body.split("\n")
    indent = " " * len(prefix)
    return "\n".join([prefix + first, *(indent + line if line else "" for line in rest)])


def _table(node: SyntaxTreeNode, width: int) -> str:
    sections = {child.type: child for child in node.children}
    head = sections.get("thead")
    headers = _cells(head.children[0]) if head and head.children else []
    rows = [_cells(tr) for tr in sections["tbody"].children] if "tbody" in sections else []
    if not rows:
        return "\n".join(header for header in headers if header)
    groups = []
    for row in rows:
        pairs = zip_longest(headers, row, fillvalue="")
        fields = (_field(header, value, width) for header, value in pairs)
        groups.append("\n".join(field for field in fields if field))
    return "\n\n".join(groups)


def _cells(tr: SyntaxTreeNode) -> list[str]:
    return [_flat(_inline_of(cell)) for cell in tr.children]


def _field(header: str, value: str, width: int) -> str:
    line = f"{header}: {value}" if header else value
    return _wrap(line.strip(), width, indent="  ") or header


def _html_block(node: SyntaxTreeNode, width: int) -> str:
    line = _Line()
    parser = _HTMLText(line, block=True)
    parser.feed(node.content.replace(PARA, ""))
    parser.close()
    parts = (_fill(part, width) for part in line.text().split(PARA))
    return "\n\n".join(part for part in parts if part)


_RENDERERS: dict[str, Callable[[SyntaxTreeNode, int], str]] = {
    "heading": _heading,
    "paragraph": _paragraph,
    "code_block": _code,
    "fence": _code,
    "hr": lambda node, width: RULE,
    "blockquote": _quote,
    "bullet_list": _list,
    "ordered_list": _list,
    "table": _table,
    "html_block": _html_block,
}


# Text helpers ---------------------------------------------------------------------------


def _narrow(width: int, by: int) -> int:
    return max(width - by, MIN_WIDTH)


def _wrap(text: str, width: int, indent: str = "") -> str:
    # Only ever break at spaces, so URLs and hyphenated words stay whole.
    lines = textwrap.wrap(
        text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )
    return "\n".join(lines)


def _fill(text: str, width: int) -> str:
    """Whitespace collapsed, each hard-broken line wrapped on its own."""
    segments = _SPACE.sub(" ", text).split(BR)
    return "\n".join(_wrap(segment.strip(), width) for segment in segments).strip("\n")


def _flat(text: str) -> str:
    """One line: breaks and runs of whitespace become single spaces."""
    return _SPACE.sub(" ", text.replace(BR, " ")).strip()


# Inline ---------------------------------------------------------------------------------


def _inline_of(node: SyntaxTreeNode) -> str:
    for child in node.children:
        if child.type == "inline" and child.token is not None:
            return _inline(child.token.children or [])
    return ""


def _inline(tokens: list[Token]) -> str:
    line = _Line()
    html = _HTMLText(line)
    for token in tokens:
        if token.type == "html_inline":
            html.feed(token.content)
        elif html.skip:
            continue
        elif token.type in ("text", "code_inline"):
            line.add(token.content)
        elif token.type == "softbreak":
            line.add(" ")
        elif token.type == "hardbreak":
            line.add(BR)
        elif token.type == "image":
            line.add(picture_text(_inline(token.children or [])))
        elif token.type == "link_open":
            line.open_link(str(token.attrs.get("href", "")))
        elif token.type == "link_close":
            line.close_link()
    html.close()
    return line.text()


def inline_text(tokens: list[Token]) -> str:
    """Inline Markdown (markdown-it's inline tokens) as one line of plain text: links with
    their address written out, pictures as [Picture: alt]."""
    return _flat(_inline(tokens))


def picture_text(alt: str) -> str:
    """A picture in the plain text: [Picture: its alt text]."""
    alt = _flat(alt)
    return f"[Picture: {alt}]" if alt else "[Picture]"


def _link(text: str, href: str) -> str:
    text = _flat(text)
    if not href:
        return text
    shown = href[len("mailto:") :] if href.lower().startswith("mailto:") else href
    if not text or text in {href, shown, unquote(href), unquote(shown)}:
        return shown
    return f"{text} ({shown})"


class _Line:
    """Inline text being built; link text is collected apart until the link closes."""

    def __init__(self) -> None:
        self._parts: list[list[str]] = [[]]
        self._hrefs: list[str] = []

    def add(self, text: str) -> None:
        self._parts[-1].append(text)

    def open_link(self, href: str) -> None:
        self._hrefs.append(href)
        self._parts.append([])

    def close_link(self) -> None:
        if self._hrefs:
            text = "".join(self._parts.pop())
            self.add(_link(text, self._hrefs.pop()))

    def text(self) -> str:
        while self._hrefs:
            self.close_link()
        return "".join(self._parts[0])


class _HTMLText(HTMLParser):
    """Raw HTML read for its text: tags dropped, entities decoded, scripts silent."""

    def __init__(self, line: _Line, block: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.line = line
        self.block = block
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in SKIP_TAGS:
            self.skip += 1
        elif self.skip:
            return
        elif tag == "br":
            self.line.add(BR)
        elif tag == "img":
            self.line.add(picture_text(values.get("alt", "")))
        elif tag == "a":
            self.line.open_link(_safe_href(values.get("href", "")))
        else:
            self._separate(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TAGS:
            self.skip = max(self.skip - 1, 0)
        elif self.skip:
            return
        elif tag == "a":
            self.line.close_link()
        else:
            self._separate(tag)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.line.add(data)

    def _separate(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.line.add(" ")
        elif self.block and tag in BLOCK_TAGS:
            self.line.add(PARA)


def _safe_href(href: str) -> str:
    """The href if the sanitiser would keep it, else nothing."""
    scheme = _SCHEME.match(href.strip())
    return href.strip() if not scheme or scheme.group(1).lower() in URL_SCHEMES else ""
