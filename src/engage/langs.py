"""Languages: BCP 47 tags (cy, en-GB, pt-BR), which of several a person's choice matches, and
each language's name in its own words ("Cymraeg").

A contact's language is one tag, or two joined by a space for someone who asked for both (the
organisation may send them one email in both languages: [languages] bilingual). Empty means
the organisation's own language ([organisation] lang).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from babel import Locale, UnknownLocaleError

SHAPE = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")


class BadLanguage(ValueError):
    """Not a language tag engage knows."""


@functools.lru_cache(maxsize=256)
def _locale(tag: str) -> Locale | None:
    if not SHAPE.match(tag):
        return None
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return None


def is_tag(text: str) -> bool:
    """Whether `text` is a language tag, like cy, en-GB or pt-BR (not any three letters)."""
    return _locale(text) is not None


def tidy(text: str) -> str:
    """A tag as BCP 47 writes it: the language in lower case, a region in upper case
    (en-gb → en-GB). Raises BadLanguage, with a fix, for anything else."""
    text = text.strip().replace("_", "-")
    if not is_tag(text):
        raise BadLanguage(
            f"'{text}' is not a language tag engage knows; use a BCP 47 tag like en-GB, cy or pl"
        )
    parts = text.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part)
    return "-".join(out)


def choice(text: str) -> str:
    """A person's choice as it is stored: one tag, or two for both ("cy en-GB"). "" stays ""
    (the organisation's language). Raises BadLanguage."""
    tags = [tidy(part) for part in re.split(r"[\s,+]+", text.strip()) if part]
    if len(tags) > 2:
        raise BadLanguage(f"'{text}' names more than two languages; choose one, or two for both")
    if len(tags) == 2 and same(tags[0], tags[1]):
        tags = tags[:1]
    return " ".join(tags)


def wanted(stored: str | None, default: str) -> list[str]:
    """The languages a person asked for, in their order: the stored choice, else `default`."""
    return (stored or "").split() or [default]


def primary(tag: str) -> str:
    return tag.split("-")[0].lower()


def same(one: str, other: str) -> bool:
    """Whether two tags are one language for choosing a version (cy-GB and cy are; en-GB
    and en are)."""
    return primary(one) == primary(other)


def best(tag: str, available: Iterable[str]) -> str | None:
    """Which of `available` serves someone who reads `tag`: the exact tag first, then the
    same language (cy-GB for cy). None when none does."""
    options = list(available)
    for option in options:
        if option.lower() == tag.lower():
            return option
    for option in options:
        if same(option, tag):
            return option
    return None


def name(tag: str) -> str:
    """The language's name in its own words: Cymraeg, English, polski."""
    found = _locale(tag)
    if found is None:
        return tag
    words = found.language_name or found.display_name or tag
    return words[:1].upper() + words[1:]


def english_name(tag: str) -> str:
    """The language's name in English: Welsh, English, Polish."""
    found = _locale(tag)
    return (found.get_language_name("en") or tag) if found is not None else tag
