"""The one text guard: what every value must be before it reaches the store, the same on SQLite
and PostgreSQL.

PostgreSQL refuses a NUL character in text and JSON, and both databases refuse a broken
character (a lone surrogate, left by a mail or a form in a wrong character set); PostgreSQL
refuses a value longer than its column (String(n)), where SQLite would keep it. So a value
for the store has no control characters (NUL, the other C0 and C1 ones, DEL) except tab,
new line and carriage return, no broken characters (each becomes U+FFFD), and is no longer
than its column.

Two ways to use it, one rule:
- Where a person's content is taken (a reply, a CSV row), call `clean` or `problem` to say
  what is wrong: a reply keeps a cleaned copy with a note saying what was cleaned; a CSV row is
  rejected with its line and column.
- Every other write is guarded by the column types below (schema.py uses them for every text,
  string and JSON column): a value that was not checked before is cleaned as it is written,
  so no input can make the database refuse a write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

# C0 controls but tab, LF and CR; DEL; C1 controls; lone surrogates.
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class Cleaned:
    """A value made fit for the store, and what was done to it."""

    text: str
    nul: int = 0  # NUL characters taken out
    controls: int = 0  # other control characters taken out
    broken: int = 0  # broken characters replaced with U+FFFD
    cut: int = 0  # characters cut off the end (longer than the column)
    length: int = 0  # the length it came with, when it was cut

    @property
    def changed(self) -> bool:
        return bool(self.nul or self.controls or self.broken or self.cut)

    def said(self) -> str:
        """What was done, in plain words ("" when nothing was)."""
        done = []
        removed = self.nul + self.controls
        if removed:
            kind = "NUL character" if removed == self.nul else "control character"
            done.append(f"{_count(removed, kind)} taken out")
        if self.broken:
            done.append(f"{_count(self.broken, 'broken character')} replaced with �")
        if self.cut:
            done.append(f"cut from {self.length:,} to {self.length - self.cut:,} characters")
        return ", ".join(done)


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}" if n == 1 else f"{n:,} {what}s"


def clean(value: str, limit: int | None = None) -> Cleaned:
    """`value` fit for the store: control and broken characters out, cut to `limit`."""
    nul = controls = broken = 0
    text = value
    if _BAD.search(text):
        nul = text.count("\x00")
        broken = len(_SURROGATE.findall(text))
        text = _SURROGATE.sub(REPLACEMENT, text)
        before = len(text)
        text = _BAD.sub("", text)
        controls = before - len(text) - nul
    cut = 0
    if limit is not None and len(text) > limit:
        cut = len(text) - limit
        length = len(text)
        text = text[:limit]
        return Cleaned(text, nul, controls, broken, cut, length)
    return Cleaned(text, nul, controls, broken)


def fit(value: Any, limit: int | None = None) -> Any:
    """A value fit for the store, said nothing about: strings cleaned, others as they are."""
    if not isinstance(value, str):
        return value
    if (limit is None or len(value) <= limit) and not _BAD.search(value):
        return value  # nearly every value: checked in well under a microsecond
    return clean(value, limit).text


def problem(value: str, limit: int | None = None) -> str:
    """What stops `value` going into the store as it is, in plain words ("" for nothing)."""
    found = _BAD.search(value)
    if found:
        char = found.group()
        if char == "\x00":
            return "it has a NUL character (a zero byte), which cannot be stored"
        if "\ud800" <= char <= "\udfff":
            return "it has a broken character, which cannot be stored"
        return f"it has a control character (U+{ord(char):04X}), which cannot be stored"
    if limit is not None and len(value) > limit:
        return f"it is {len(value):,} characters long; the most that can be stored is {limit:,}"
    return ""


def clean_json(value: Any) -> tuple[Any, int]:
    """A JSON value (dicts, lists, strings...) with every string, keys too, cleaned; and how
    many strings were changed. Works without recursion, however deep the value is."""
    changed = 0

    def one(text: str) -> str:
        nonlocal changed
        if _BAD.search(text):
            changed += 1
            return clean(text).text
        return text

    if isinstance(value, str):
        return one(value), changed
    if not isinstance(value, dict | list | tuple) or not _needs_cleaning(value):
        return value, 0
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (source, parent, key in parent)
    while stack:
        source, parent, key = stack.pop()
        if isinstance(source, dict):
            copy: Any = {}
            for k, v in source.items():
                k = one(k) if isinstance(k, str) else k
                copy[k] = None
                stack.append((v, copy, k))
        elif isinstance(source, list | tuple):
            copy = [None] * len(source)
            stack.extend((v, copy, i) for i, v in enumerate(source))
        else:
            copy = one(source) if isinstance(source, str) else source
        parent[key] = copy
    return root[0], changed


def _needs_cleaning(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _BAD.search(item):
                return True
        elif isinstance(item, dict):
            if any(isinstance(k, str) and _BAD.search(k) for k in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def limit_of(column: sa.Column) -> int | None:
    """The most characters `column` holds (String(n)), or None for no limit."""
    return getattr(column.type, "length", None)


class GuardedString(TypeDecorator):
    """String(n) and Text for the store: each value written is fit (see `fit`)."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if not isinstance(value, str):
            return value
        limit: int | None = getattr(self.impl_instance, "length", None)
        if (limit is None or len(value) <= limit) and not _BAD.search(value):
            return value  # the fast path, as in fit(), for the bulk of every import
        return clean(value, limit).text

    @property
    def python_type(self) -> type:
        return str


class GuardedText(GuardedString):
    impl = sa.Text
    cache_ok = True


class GuardedJSON(TypeDecorator):
    """JSON for the store: every string in the value written, keys too, is cleaned."""

    impl = sa.JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return clean_json(value)[0]
