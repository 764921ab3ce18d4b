"""Markdown → a safe HTML fragment, with the parsed tokens kept for lint and plain text."""

from __future__ import annotations

from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

# What a campaign body may contain once rendered. Anything else (script, style, iframe,
# event handlers, javascript: links) is removed, never passed through.
ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    # On any element: `lang` marks a word or passage in another language (WCAG 3.1.2), as in
    # <span lang="cy">Diolch</span>; `dir` sets its direction (dir="rtl" for Urdu or Arabic).
    "*": {"lang", "dir", "title"},
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "th": {"scope", "style"},
    "td": {"style"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}


def make_parser() -> MarkdownIt:
    """CommonMark with tables; raw HTML is parsed so that it can be reported and cleaned."""
    return MarkdownIt("commonmark", {"html": True}).enable("table")


@dataclass(frozen=True)
class Body:
    """A campaign body, parsed once: its tokens (lines relative to the body) and HTML."""

    tokens: list[Token]
    html: str


def _render_th(self, tokens, idx, options, env):  # noqa: ANN001, ANN202 - markdown-it's rule signature
    token = tokens[idx]
    if token.nesting == 1:
        token.attrSet("scope", "col")
    return self.renderToken(tokens, idx, options, env)


def parse_body(source: str) -> Body:
    md = make_parser()
    md.add_render_rule("th_open", _render_th)
    tokens = md.parse(source)
    html = md.renderer.render(tokens, md.options, {})
    return Body(tokens=tokens, html=sanitise(html))


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        clean_content_tags={"script", "style", "iframe", "object", "embed", "template"},
        link_rel=None,
    )
