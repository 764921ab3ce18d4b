"""`<mj-style inline="inline">`: CSS written into each element's style attribute.

MJML's own tool inlines these rules (with juice); the Rust port we use (mjml-python) leaves them
in the head, where some mail apps drop them. So we take them out of the MJML before conversion
and write them into the finished HTML with css-inline, which follows the cascade as a browser
does: the more specific selector wins (`p.note` beats `p`), then the later rule; `!important`
beats a normal rule; an element's own style attribute beats every normal rule.

A rule that only works in a style sheet (`@media`, `:hover`, `::before`) cannot be written into
an element, so it is refused here with a clear message: put it in a plain `<mj-style>` (without
`inline`), which stays in the head. Every other style block in the HTML is left as it is.
"""

from __future__ import annotations

import re

import css_inline

from ..errors import EngageError

_INLINE_STYLE = re.compile(
    r"<mj-style\b[^>]*\binline\s*=\s*[\"']inline[\"'][^>]*>(.*?)</mj-style>", re.S | re.I
)
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_AT_RULE = re.compile(r"@[a-zA-Z-]+")
_ATTRIBUTE_SELECTOR = re.compile(r"\[[^\]]*\]")


class CSSError(EngageError, ValueError):
    """A rule we cannot inline; the message says which and why."""


def extract(mjml: str) -> tuple[str, str]:
    """The MJML without its inline style blocks, and the CSS they held (checked)."""
    css = "\n".join(block.strip() for block in _INLINE_STYLE.findall(mjml))
    check(css)
    return _INLINE_STYLE.sub("", mjml), css


def check(css: str) -> None:
    """Raise CSSError for CSS that cannot be read, or that cannot be written into an element."""
    css = _COMMENT.sub("", css)
    at_rule = _AT_RULE.search(css)
    if at_rule:
        raise CSSError(
            f"'{at_rule.group(0)}' cannot be written into an element's style; put it in an "
            '<mj-style> without inline="inline"'
        )
    consumed = 0
    for match in _RULE.finditer(css):
        _readable(css[consumed : match.start()])
        consumed = match.end()
        for selector in match.group(1).split(","):
            _inlinable(selector.strip())
    _readable(css[consumed:])


def _readable(between: str) -> None:
    if between.strip():
        raise CSSError(f"cannot read the CSS near '{between.strip()[:40]}'")


def _inlinable(selector: str) -> None:
    if not selector:
        raise CSSError("a rule has an empty selector; write one before the '{'")
    if ":" in _ATTRIBUTE_SELECTOR.sub("", selector):
        raise CSSError(
            f"the selector '{selector}' needs a state or a part of an element (:hover, "
            "::before), which cannot be written into an element's style; put it in an "
            '<mj-style> without inline="inline"'
        )


def inline(html: str, css: str) -> str:
    """Write `css` into the style attribute of each element of `html` it matches.

    The HTML's own `<style>` and `<link>` elements stay where they are, unread; nothing is
    fetched from the network."""
    if not _COMMENT.sub("", css).strip():
        return html
    inliner = css_inline.CSSInliner(
        inline_style_tags=False,
        keep_style_tags=True,
        keep_link_tags=True,
        load_remote_stylesheets=False,
        extra_css=css,
    )
    return inliner.inline(html)
