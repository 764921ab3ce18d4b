"""The words of engage's own pages and emails in each language: gettext message catalogues,
read with Babel.

engage's words are written in English in the templates and code (the message ids). Each other
language is one catalogue, `locales/<tag>/LC_MESSAGES/messages.po`: engage ships Welsh (cy),
and a workspace may add its own in a `locales/` folder of the same shape, for a language engage
does not have or to change some of engage's words. A workspace's catalogue is read first;
anything it leaves out comes from engage's, then from English.

Catalogues are read as .po files and compiled in memory when first used (Babel's read_po and
write_mo): there is no .mo file to forget to rebuild, and a workspace's catalogue works as soon
as it is saved. A catalogue with a mistake (a line Babel cannot read, or a translation whose
%(placeholders)s are not the English ones) is an error naming the file and line.

docs/languages.md says how a page and an email choose their language, and how to add one.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext as _gettext
import io
import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import jinja2
from babel import UnknownLocaleError
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po

from . import langs
from .errors import ConfigError
from .tomlcheck import line_of

SOURCE = "en"  # the language the message ids are written in
DOMAIN = "messages"
OURS = Path(__file__).parent / "locales"  # engage's own catalogues
FOLDER = "locales"  # a workspace's own catalogues, beside engage.toml


Translations = _gettext.NullTranslations


def english() -> Translations:
    """engage's words as they are written: English."""
    return _gettext.NullTranslations()


def N_(message: str) -> str:  # noqa: N802 (the usual gettext name)
    """Marks `message` for the catalogues without translating it yet: for words kept in a
    table and translated where they are shown."""
    return message


class CatalogueError(ConfigError):
    """A message catalogue cannot be read; the message names the file and line."""


def _po_path(folder: Path, tag: str) -> Path:
    return folder / tag / "LC_MESSAGES" / f"{DOMAIN}.po"


def _folders(root: Path | None) -> list[Path]:
    """Where catalogues are looked for: the workspace's first, then engage's."""
    return ([root / FOLDER] if root is not None else []) + [OURS]


def catalogue_tags(root: Path | None = None) -> list[str]:
    """The languages with a catalogue (the workspace's and engage's), each as its folder is
    named, tidied (cy, pt-BR)."""
    found: dict[str, None] = {}
    for folder in _folders(root):
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if _po_path(folder, child.name).is_file() and langs.is_tag(child.name):
                found[langs.tidy(child.name)] = None
    return list(found)


def languages(root: Path | None, home: str, offered: Iterable[str] = ()) -> list[str]:
    """The languages a page may be shown in: `home` (the organisation's, [organisation] lang),
    then each other language with a catalogue, in the order of `offered` ([languages] offered)
    and then by tag. A language is named as `offered` or `home` names it (en-GB, not en)."""
    named = [home, *offered]
    out = [home]
    have = [SOURCE, *catalogue_tags(root)]
    for tag in have:
        if any(langs.same(tag, known) for known in out):
            continue
        out.append(langs.best(tag, named) or tag)
    rank = {langs.primary(tag): i for i, tag in enumerate(named)}
    return [home] + sorted(out[1:], key=lambda t: (rank.get(langs.primary(t), len(named)), t))


def translations(tag: str, root: Path | None = None) -> _gettext.NullTranslations:
    """engage's words in language `tag`: its catalogue (the workspace's before engage's), then
    the catalogue of the language without its region (cy-GB, then cy), then English."""
    tags = [tag, langs.primary(tag)] if "-" in tag else [tag]
    files = [
        path
        for candidate in dict.fromkeys(tags)
        for folder in _folders(root)
        for path in [_po_path(folder, candidate)]
        if path.is_file()
    ]
    return _chain(tuple((path, path.stat().st_mtime_ns) for path in files))


@functools.lru_cache(maxsize=64)
def _chain(files: tuple[tuple[Path, int], ...]) -> _gettext.NullTranslations:
    """The catalogues `files` (with the times they were saved), each falling back on the next,
    then on English: made once for each request's language, not on every request."""
    chain: _gettext.NullTranslations = _gettext.NullTranslations()
    for path, saved in reversed(files):
        copy = _gettext.GNUTranslations(io.BytesIO(_compiled(path, saved)))
        copy.add_fallback(chain)
        chain = copy
    return chain


@functools.lru_cache(maxsize=64)
def _compiled(path: Path, _mtime: int) -> bytes:
    """The .po file at `path` compiled to .mo bytes (cached until the file changes). Fuzzy
    and empty translations are left out, so their English shows instead."""
    shown = _shown(path)
    try:
        with path.open("rb") as file:
            catalog = read_po(file, abort_invalid=True)
    except PoFileError as exc:  # its lineno counts from 0
        reason = re.sub(r" on \d+$", "", str(exc.args[0] if exc.args else exc))
        said = f"{reason}: {exc.line.strip()!r}" if exc.line.strip() else reason
        raise CatalogueError(f"{shown}:{exc.lineno + 1}: {said}. {_FIX}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CatalogueError(f"Cannot read {shown}: {exc}. {_FIX}") from None
    for message, errors in catalog.check():
        if errors and not message.fuzzy:
            line = message.lineno or 0
            raise CatalogueError(
                f"{shown}:{line}: the translation of {message.id!r} does not fit it: "
                f"{errors[0]}. Use the same %(name)s placeholders as the English."
            )
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


_FIX = "Fix the line, or check it with: pybabel compile --statistics -i FILE -o /dev/null"


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def install(environment: jinja2.Environment, words: _gettext.NullTranslations) -> None:
    """Give a Jinja environment `_`, `gettext` and `ngettext` (new style: `_("Hello
    %(name)s", name=name)`, escaped like any other value) in one language."""
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_translations(words, newstyle=True)  # type: ignore[attr-defined]


def choose(available: list[str], wishes: Iterable[str | None]) -> str:
    """The first of `wishes` that one of `available` serves (langs.best: cy-GB is served by
    cy), as `available` names it; else the first of `available` (the organisation's)."""
    for wish in wishes:
        if wish and langs.is_tag(wish):
            found = langs.best(wish, available)
            if found is not None:
                return found
    return available[0]


def day(when: dt.date, tag: str) -> str:
    """A day as an email says it, in language `tag`: "Monday 14 December" in English (as
    strftime's "%A %-d %B"), "Dydd Llun 14 Rhagfyr" in Welsh. For a story email's dates."""
    try:
        return format_date(when, "EEEE d MMMM", locale=tag.replace("-", "_"))
    except (ValueError, LookupError, UnknownLocaleError):
        return format_date(when, "EEEE d MMMM", locale="en_GB")


def html_tag(chosen: str, home: str) -> str:
    """The tag to write in `lang` for a page or email in language `chosen`: the organisation's
    own spelling when it is the same language (en-GB), else `chosen`."""
    return home if langs.same(chosen, home) else chosen


def extract_subjects(
    fileobj: BinaryIO, keywords: object, comment_tags: object, options: object
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """A Babel extractor (babel.cfg) for templates/emails/subjects.toml: each subject line of
    an email to a contributor is one message, its Jinja placeholders ({{ day }}) kept as they
    are. The team's (team-*) stay English."""
    text = fileobj.read().decode("utf-8-sig")
    for key, value in tomllib.loads(text).items():
        if isinstance(value, str) and not key.startswith("team-"):
            yield line_of(text, key) or 1, None, value, [f"The subject line of the {key} email."]
