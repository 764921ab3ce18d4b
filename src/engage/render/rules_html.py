"""Lint rules that read the finished email: the HTML of each variant, and the plain text.

Findings point at the template line that caused them where the offending value can be found
in the template sources, else at the variant's main template file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..config import Organisation
from . import colour
from .findings import Finding
from .htmlscan import Scan, Text
from .personal import Recipient

MAX_HTML_BYTES = 100 * 1024
MIN_LINE_HEIGHT = 1.5
_BAD_LANG = re.compile(r"^(und|x-.*|i-.*)$", re.I)
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", re.I)


@dataclass(frozen=True)
class Variant:
    name: str  # "standard" | "large-print"
    html: str
    scan: Scan
    min_font: float
    templates: list[Path]
    shown: dict[Path, str]  # template path → as shown to the person

    def locate(self, *needles: str) -> str:
        for path in self.templates:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if any(n and n in line for n in needles):
                    return f"{self.shown[path]}:{number}"
        return self.shown[self.templates[0]]

    @property
    def label(self) -> str:
        return "" if self.name == "standard" else f" (in the {self.name} version)"


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def document(v: Variant, subject: str) -> Iterator[Finding]:
    lang = (v.scan.lang or "").strip()
    if not lang or _BAD_LANG.match(lang) or not _LANG.match(lang):
        shown = f'lang="{lang}"' if v.scan.lang is not None else "no lang"
        yield Finding(
            "html-lang",
            v.locate("<mjml"),
            f"The email has {shown}{v.label}.",
            'Set lang in [organisation] of engage.toml (like "en-GB") '
            'and use <mjml lang="{{ lang }}">.',
        )
    if not v.scan.title:
        yield Finding(
            "html-title",
            v.locate("<mj-head"),
            f"The email has no <title>{v.label}.",
            "Add <mj-title>{{ campaign.subject }}</mj-title> inside <mj-head>.",
        )
    elif _lines(v.scan.title) != _lines(subject):  # HTML reads CR LF as LF
        yield Finding(
            "html-title",
            v.locate("<mj-title"),
            f'The title "{v.scan.title}" is not the subject{v.label}.',
            "Use <mj-title>{{ campaign.subject }}</mj-title>.",
        )
    if not v.scan.has_charset:
        yield Finding(
            "html-charset",
            v.locate("<mj-head"),
            f"The email does not declare its character set{v.label}.",
            'Add <meta charset="utf-8">.',
        )
    size = len(v.html.encode("utf-8"))
    if size > MAX_HTML_BYTES:
        yield Finding(
            "html-size",
            v.locate("<mjml"),
            f"The email is {size / 1024:.0f} KB{v.label}. "
            "Gmail cuts off emails over about 102 KB, hiding the footer and unsubscribe link.",
            "Make it shorter, or link to the rest on the website.",
        )


def typography(v: Variant) -> Iterator[Finding]:
    """One finding per problem and style, naming the first text it affects and how many more."""
    grouped: dict[tuple[str, str, str], list[Text]] = {}
    for text in v.scan.texts:
        for key in _text_problems(v, text):
            grouped.setdefault(key, []).append(text)
    for (rule, where, detail), texts in grouped.items():
        more = len(texts) - 1
        others = f" (and {more} more piece{'s' if more != 1 else ''} of text)" if more else ""
        message, fix = _TYPOGRAPHY[rule]
        said = message.format(snippet=_snippet(texts[0].text), detail=detail)
        yield Finding(rule, where, f"{said}{others}{v.label}.", fix.format(min_font=v.min_font))


_TYPOGRAPHY = {
    "contrast": (
        "Text {snippet} has {detail}",
        "Use a darker text colour or a lighter background.",
    ),
    "font-size": ("Text {snippet} is {detail}", "Set the font size to {min_font:g}px or more."),
    "line-height": (
        "Text {snippet} has line height {detail}; it needs 1.5 or more",
        "Set line-height to 1.5 or more for body text.",
    ),
    "text-justified": (
        "Text {snippet} is justified",
        "Align body text to the left: justified text leaves uneven gaps.",
    ),
    "text-uppercase": (
        "Text {snippet} is shown in capitals",
        "Remove text-transform: uppercase; capitals are harder to read.",
    ),
}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


def _text_problems(v: Variant, text: Text) -> Iterator[tuple[str, str, str]]:
    """(rule, where, detail) for each problem with one piece of visible text."""
    style = text.style
    fg, bg = colour.parse(style.color), colour.parse(style.background)
    if fg and bg:
        ratio = colour.contrast(fg, bg)
        large = style.font_size >= 24 or (style.bold and style.font_size >= 18.66)
        needed = 3.0 if large else 4.5
        if ratio < needed:
            detail = (
                f"{style.color} on {style.background}: contrast {ratio:.1f}:1, needs {needed:g}:1"
            )
            yield "contrast", v.locate(style.color, style.background), detail
    if style.font_size < v.min_font:
        size = f"{style.font_size:g}px"
        yield "font-size", v.locate(size), f"{size}; the smallest allowed is {v.min_font:g}px"
    if style.line_ratio < MIN_LINE_HEIGHT - 1e-9 and not HEADINGS.intersection(text.tags):
        yield "line-height", v.locate("line-height"), f"{style.line_ratio:.2f}"
    if style.text_align == "justify":
        yield "text-justified", v.locate("justify"), ""
    if style.text_transform == "uppercase":
        yield "text-uppercase", v.locate("uppercase"), ""


def _snippet(text: str) -> str:
    return f'"{text[:30]}…"' if len(text) > 30 else f'"{text}"'


def tables(v: Variant) -> Iterator[Finding]:
    for index, attrs in enumerate(v.scan.tables):
        if index in v.scan.tables_with_th:
            continue  # a data table, which needs its headers, not role="presentation"
        if (attrs.get("role") or "") != "presentation":
            yield Finding(
                "layout-table-role",
                v.locate("<mj-table", "<table"),
                'A layout table has no role="presentation"; screen readers will '
                f"read out its rows and columns{v.label}.",
                'Add role="presentation" to the table.',
            )


def footer(v: Variant, sample: Recipient, org: Organisation) -> Iterator[Finding]:
    hrefs = {link.href for link in v.scan.links}
    where = v.shown[v.templates[0]]
    if sample.unsubscribe_url not in hrefs:
        yield Finding(
            "footer-unsubscribe",
            where,
            f"The email has no unsubscribe link{v.label}.",
            'Add <a href="{{ recipient.unsubscribe_url }}">Unsubscribe from our emails</a>.',
        )
    if sample.preferences_url not in hrefs:
        yield Finding(
            "footer-preferences",
            where,
            f"The email has no link to change preferences{v.label}.",
            'Add <a href="{{ recipient.preferences_url }}">Choose how you get our emails</a>.',
        )
    visible = " ".join(" ".join(t.text for t in v.scan.texts).split())
    for part, what, key in ((org.name, "name", "name"), (org.address, "postal address", "address")):
        if " ".join(part.split()) not in visible:
            yield Finding(
                "footer-identity",
                where,
                f"The email does not show the organisation's {what}{v.label}.",
                f"Add {{{{ organisation.{key} }}}} to the footer.",
            )


def text_links(v: Variant, text: str, text_template: str) -> Iterator[Finding]:
    missing = []
    for link in v.scan.links:
        written = link.href.removeprefix("mailto:")
        if written and written not in text and written not in missing:
            missing.append(written)
    for href in missing:
        yield Finding(
            "text-links",
            text_template,
            f"The plain-text version does not include {href}{v.label}.",
            "Write every link out in the text template.",
        )
