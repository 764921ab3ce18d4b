"""`<mj-style inline="inline">`: CSS written into each element's style attribute.

MJML's own tool inlines these rules; the Rust port we use (mjml-python) leaves them in the
head, where some mail apps drop them. So we take them out of the MJML before conversion and
write them into the finished HTML ourselves. Only simple selectors are allowed: a tag (`a`),
a class (`.footer`) or both (`p.note`), comma-separated. An element's own style attribute
still wins, as it would in a browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_INLINE_STYLE = re.compile(
    r"<mj-style\b[^>]*\binline\s*=\s*[\"']inline[\"'][^>]*>(.*?)</mj-style>", re.S | re.I
)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_SELECTOR = re.compile(r"^(?P<tag>[a-z][a-z0-9]*)?(?:\.(?P<cls>[A-Za-z_][\w-]*))?$")
_TAG = re.compile(r"<(?P<tag>[a-zA-Z][a-zA-Z0-9]*)(?P<attrs>(?:\s[^<>]*?)?)(?P<end>/?)>")
_ATTR = re.compile(r"""\s(class|style)\s*=\s*("([^"]*)"|'([^']*)')""", re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)


class CSSError(ValueError):
    """A rule we cannot inline; the message says which and why."""


@dataclass(frozen=True)
class Rule:
    tag: str | None
    cls: str | None
    declarations: str

    def matches(self, tag: str, classes: list[str]) -> bool:
        return (self.tag is None or self.tag == tag) and (self.cls is None or self.cls in classes)


def extract(mjml: str) -> tuple[str, list[Rule]]:
    """The MJML without its inline style blocks, and the rules they held."""
    rules: list[Rule] = []
    for block in _INLINE_STYLE.findall(mjml):
        rules.extend(parse_rules(block))
    return _INLINE_STYLE.sub("", mjml), rules


def parse_rules(css: str) -> list[Rule]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules: list[Rule] = []
    consumed = 0
    for match in _RULE.finditer(css):
        if css[consumed : match.start()].strip():
            raise CSSError(
                f"cannot read the CSS near '{css[consumed : match.start()].strip()[:40]}'"
            )
        consumed = match.end()
        declarations = " ".join(match.group(2).split()).strip().rstrip(";").replace('"', "'")
        for selector in match.group(1).split(","):
            rules.append(_rule(selector.strip(), declarations))
    if css[consumed:].strip():
        raise CSSError(f"cannot read the CSS near '{css[consumed:].strip()[:40]}'")
    return rules


def _rule(selector: str, declarations: str) -> Rule:
    found = _SELECTOR.match(selector)
    if not selector or not found:
        raise CSSError(
            f"the selector '{selector}' is too complex to inline; use a tag (a), "
            "a class (.footer) or both (p.footer)"
        )
    return Rule(found.group("tag"), found.group("cls"), declarations)


def apply(html: str, rules: list[Rule]) -> str:
    """Write matching rules into each start tag's style attribute, outside comments."""
    if not rules:
        return html
    out: list[str] = []
    position = 0
    for comment in _COMMENT.finditer(html):
        out.append(_apply_to_tags(html[position : comment.start()], rules))
        out.append(comment.group(0))
        position = comment.end()
    out.append(_apply_to_tags(html[position:], rules))
    return "".join(out)


def _apply_to_tags(html: str, rules: list[Rule]) -> str:
    def rewrite(match: re.Match[str]) -> str:
        tag = match.group("tag").lower()
        attrs = match.group("attrs")
        found = {m.group(1).lower(): m for m in _ATTR.finditer(attrs)}
        classes = _value(found["class"]).split() if "class" in found else []
        added = [r.declarations for r in rules if r.matches(tag, classes) and r.declarations]
        if not added:
            return match.group(0)
        if "style" in found:
            own = _value(found["style"]).strip().rstrip(";")
            style = ";".join([*added, own] if own else added)
            attrs = attrs.replace(found["style"].group(0), f' style="{style}"')
        else:
            attrs = f'{attrs} style="{";".join(added)}"'
        return f"<{match.group('tag')}{attrs}{match.group('end')}>"

    return _TAG.sub(rewrite, html)


def _value(match: re.Match[str]) -> str:
    return match.group(3) if match.group(3) is not None else match.group(4)
