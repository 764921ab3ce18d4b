"""Check parsed TOML against a dataclass: unknown keys and wrong types, named by key.

engage.toml and campaign front matter are both described by frozen dataclasses. This module
turns a dict from `tomllib` into those dataclasses, or raises with the dotted key that is wrong,
so a person reads "email.rate_per_second must be a number" rather than a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")

_TYPE_NAMES = {
    str: "text in quotes",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    dt.datetime: "a date and time",
}


class SchemaError(ValueError):
    """Raised with a message that already names the key; callers add the file."""


def build(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Make a `cls` from `data`, checking every key and value."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    names = {_toml_name(f): f.name for f in fields.values()}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise SchemaError(_unknown(key, prefix, sorted(names), cls))
        values[names[key]] = convert(hints[names[key]], value, prefix + key)
    missing = [
        _toml_name(f)
        for f in fields.values()
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise SchemaError(f"{prefix}{missing[0]} is required")
    return cls(**values)


def _toml_name(field: dataclasses.Field) -> str:
    return field.metadata.get("toml", field.name)


def _unknown(key: str, prefix: str, known: list[str], cls: type) -> str:
    where = f"[{prefix.rstrip('.')}]" if prefix else "the top level"
    message = f"unknown key '{prefix}{key}'; the keys allowed in {where} are: {', '.join(known)}"
    hint = getattr(cls, "__unknown_key_hint__", None)
    if hint and (key.endswith(("key", "token", "password", "secret"))):
        message += f". {hint}"
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
    if dataclasses.is_dataclass(hint):
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
    return f"{type(value).__name__} {value!r}"
