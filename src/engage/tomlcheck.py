"""Check parsed TOML against a dataclass: unknown keys and wrong types, named by key.

engage.toml and campaign front matter are both described by frozen dataclasses. This module
turns a dict from `tomllib` into those dataclasses, or raises with the dotted key that is wrong,
so a person reads "email.rate_per_second must be a number" rather than a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
import tomllib
import types
import typing
from typing import Any, TypeVar

from .errors import EngageError

T = TypeVar("T")

_TYPE_NAMES = {
    str: "text in quotes",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    dt.datetime: "a date and time",
}


class SchemaError(EngageError, ValueError):
    """Raised with a message that already names the key; callers add the file and line.

    `key` is the dotted key the message is about (email.rate_per_second); when not given, it
    is the first word of the message."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key if key is not None else message.split(" ")[0].rstrip(":;")


def build(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Make a `cls` from `data`, checking every key and value."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    names = {_toml_name(f): f.name for f in fields.values()}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise SchemaError(_unknown(key, prefix, sorted(names), cls), prefix + key)
        values[names[key]] = convert(hints[names[key]], value, prefix + key)
    missing = [
        _toml_name(f)
        for f in fields.values()
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        where = f"under [{prefix.rstrip('.')}]" if prefix else "at the top"
        raise SchemaError(f"{prefix}{missing[0]} is missing: add it {where}", prefix.rstrip("."))
    return cls(**values)


def _toml_name(field: dataclasses.Field) -> str:
    return field.metadata.get("toml", field.name)


def _unknown(key: str, prefix: str, known: list[str], cls: type) -> str:
    where = f"[{prefix.rstrip('.')}]" if prefix else "the top level"
    message = f"unknown key '{prefix}{key}'; the keys allowed in {where} are: {', '.join(known)}"
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        message += f". Did you mean {close[0]}?"
    hint = getattr(cls, "__unknown_key_hint__", None)
    if hint and (key.endswith(("key", "token", "password", "secret"))):
        message += f"{'' if close else '.'} {hint}"
    return message


def convert(hint: Any, value: Any, key: str) -> Any:
    """Check one value against its type hint; nested tables become dataclasses."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        if typing.get_origin(options[0]) is typing.Literal or len(options) == 1:
            return convert(options[0], value, key)
        problems = []
        for option in options:  # the first type that fits, like str | list[str]
            try:
                return convert(option, value, key)
            except SchemaError as exc:
                problems.append(str(exc))
        raise SchemaError(" or ".join(dict.fromkeys(problems)))
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            shown = " or ".join(f'"{a}"' for a in allowed)
            raise SchemaError(f'{key} must be {shown}, not "{value}"')
        return value
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise SchemaError(f"{key} must be a list")
        return [convert(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(hint)
        if not isinstance(value, dict):
            raise SchemaError(f"{key} must be a table")
        return {k: convert(item, v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise SchemaError(f"{key} must be a table, like [{key}]")
        return build(hint, value, key + ".")
    return _scalar(hint, value, key)


def _scalar(hint: type, value: Any, key: str) -> Any:
    ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        expected = _TYPE_NAMES.get(hint, hint.__name__)
        raise SchemaError(f"{key} must be {expected}, not {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, str):
        return f'the text "{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.datetime):
        return "a date and time"
    if isinstance(value, dt.date):
        return "a date without a time"
    if isinstance(value, dt.time):
        return "a time without a date"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"{type(value).__name__} {value!r}"


# --- Where a key is written, and TOML's own errors in plain words ----------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")
_INDEX = re.compile(r"\[\d+\]")


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in dotted.split(".") if p.strip()]


def line_of(text: str, key: str) -> int | None:
    """The line (1-based) where the dotted `key` is set, or its nearest table that is."""
    wanted = _parts(_INDEX.sub("", key))
    while wanted:
        table: list[str] = []
        for number, line in enumerate(text.splitlines(), 1):
            header = _HEADER.match(line)
            if header:
                table = _parts(header.group(1))
                if table == wanted:
                    return number
                continue
            setting = _KEY_LINE.match(line)
            if setting and table + _parts(setting.group(1)) == wanted:
                return number
        wanted = wanted[:-1]
    return None


_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")
_DATE_LIKE = re.compile(r"^\d+[-/:.]\d")
_QUOTES = "\"'“”‘’"


def explain(exc: tomllib.TOMLDecodeError, text: str) -> tuple[int, str]:
    """The line (1-based) of a TOML syntax error, and what is wrong and how to fix it."""
    message = str(exc)
    found = _AT.search(message)
    reason = message[: found.start()] if found else message
    lines = text.splitlines()
    if found and found.group(1):
        number = int(found.group(1))
    else:  # "at end of document": the last line with something on it
        number = max((i for i, line in enumerate(lines, 1) if line.strip()), default=1)
    line = lines[number - 1] if 0 < number <= len(lines) else ""
    column = int(found.group(2)) if found and found.group(2) else 0
    return number, _plain(reason, line, column)


def _plain(reason: str, line: str, column: int) -> str:
    key, _, value = line.partition("=")
    key, value = key.strip(), value.split(" #")[0].strip()
    if reason == "Invalid value":
        token = _token(line, column)
        if token and token != value:  # one item in a list or table
            return _invalid_value("", token)
        return _invalid_value(key, value)
    if reason.startswith("Expected newline"):
        return _extra_on_line(value)
    for start, said in _REASONS.items():
        if reason.startswith(start):
            return said
    return (
        f"TOML cannot read this line ({reason}). Compare it with the examples in "
        "docs/configuration.md"
    )


def _token(line: str, column: int) -> str:
    """The value that starts at `column` (1-based), up to the next , ] } or the end."""
    if column < 1:
        return ""
    return re.split(r"\s*[,\]}]|\s+#", line[column - 1 :], maxsplit=1)[0].strip()


def _invalid_value(key: str, value: str) -> str:
    written = f"{key} = " if key else ""
    if not value:
        return f'there is no value after the =. Give one, like {key or "subject"} = "Our news"'
    if value[0] in "“”‘’":
        inner = value.strip(_QUOTES)
        return f'the text is in curly quotes; TOML needs straight ones. Write {written}"{inner}"'
    if value.lower() in ("true", "false", "yes", "no"):
        return "write true or false in small letters"
    if _DATE_LIKE.match(value):
        return _DATE_ADVICE
    if value[0] in ".+-" or value[0].isdigit():
        return "a number is written with digits, like 30 or 0.5"
    return f'text must be in double quotes. Write {written}"{value.strip(_QUOTES)}"'


def _extra_on_line(value: str) -> str:
    if _DATE_LIKE.match(value):
        return _DATE_ADVICE
    if value.startswith("'"):
        return (
            "there is more on the line after the closing quote. Text in single quotes cannot "
            'hold an apostrophe: put double quotes around it, like "it\'s"'
        )
    if value.startswith('"'):
        return (
            "there is more on the line after the closing quote. To put a double quote inside "
            'text, write \\" (like "Our \\"big\\" day"), or put single quotes around the text'
        )
    if value[:1].isdigit():
        return "a number is written with digits only, like 1000 (not 1,000 or 50%)"
    return (
        "there is more on the line after the value. Put one setting on each line, and "
        "start a comment with #"
    )


_DATE_ADVICE = (
    "this date and time is not written the way TOML needs it. Write it like "
    "2026-12-10T10:00:00Z (Z means UTC, the same as UK winter time), or with the offset "
    "from UTC, like 2026-06-10T10:00:00+01:00"
)
_UNCLOSED_TEXT = (
    "the text has no closing quote. End it on the same line, or use "
    'three quotes (""") around text that runs over several lines'
)
_TWICE = "this setting or [section] is already given earlier in the file. Keep only one"
_REASONS = {
    "Expected '=' after a key": (
        'a setting needs = between its name and its value, like subject = "Our news". '
        "Names have no spaces: use _ instead, like reading_level"
    ),
    "Invalid statement": (
        "this line is not a setting. Each line is a setting (name = value), a [section] "
        "heading, or a comment that starts with #"
    ),
    "Unterminated string": _UNCLOSED_TEXT,
    "Illegal character '\\n'": _UNCLOSED_TEXT,
    'Expected \'"""\'': _UNCLOSED_TEXT,
    "Expected \"'''\"": _UNCLOSED_TEXT,
    "Illegal character": (
        "the line has a character TOML does not allow, such as a tab or a control character "
        "inside text. Delete it, or write \\t for a tab"
    ),
    "Found invalid character": (
        "the line has a character TOML does not allow, such as a control character. Delete it"
    ),
    "Unclosed array": (
        "a list is not closed, or a comma is missing between its items. Write lists like "
        'tags = ["news", "events"]'
    ),
    "Unclosed inline table": "a { } table is not closed. End it with } on the same line",
    "Expected ']' at the end of a table": (
        "a [section] heading has no closing ]. Write it like [email]"
    ),
    "Expected ']]' at the end of an array": (
        "a [[section]] heading has no closing ]]. Write it like [[topics]]"
    ),
    "Cannot overwrite a value": _TWICE,
    "Cannot declare": _TWICE,
    "Duplicate inline table key": _TWICE,
    "Cannot mutate immutable namespace": _TWICE,
    "Cannot redefine namespace": _TWICE,
    "Unescaped '\\'": (
        "a \\ in text starts a special code. Write \\\\ for one \\, or put single quotes "
        "around the text, like 'C:\\files'"
    ),
    "Invalid hex value": "a \\u code in the text is not a real character. Type the character",
    "Escaped character is not a Unicode": (
        "a \\u code in the text is not a real character. Type the character"
    ),
    "Invalid date or datetime": (
        "this date or time does not exist. Check the month (1 to 12), the day, and the hour "
        "(0 to 23), like 2026-12-10T10:00:00Z"
    ),
    "Invalid initial character for a key": (
        "a setting name starts with a character it cannot have. Names use letters, digits, _ and -"
    ),
}
