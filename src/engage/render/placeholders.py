"""A placeholder that does not exist: which one, in which file and line, and the ones that do.

Every template engage renders uses StrictUndefined, so `{{ campaign.titel }}` stops the build
instead of leaving a gap in an email. Jinja's own words for that ("'dict object' has no
attribute 'titel'") are for developers; this module turns them into a sentence a media team
can act on. The campaign layouts (render/layout.py) and the story emails
(own_emails.py) both call it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes

_TOP = re.compile(r"'([^']+)' is undefined")
_MEMBER = re.compile(r"has no (?:attribute|element) '([^']+)'")
_LOOP = re.compile(r"\{%-?\s*for\s+(\w+)\s+in\s+([\w.]+)")


def frame(exc: BaseException, folder: Path) -> tuple[Path, int] | None:
    """The template file under `folder`, and the line, where rendering stopped."""
    roots = (os.path.abspath(folder), str(folder.resolve()))  # the folder may be a link
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(roots)]
    if not frames:
        return None
    return Path(frames[-1].filename), frames[-1].lineno or 0


def missing(
    exc: jinja2.UndefinedError, context: Mapping[str, Any], source: str = "", line: int = 0
) -> str:
    """ "there is no placeholder {{ X }}. The placeholders ... are: ...", for `exc`.

    `source` is the template's text and `line` the line where rendering stopped: they show the
    whole name (campaign.titel), where Jinja only says which part was missing (titel)."""
    text = exc.message or str(exc)
    top = _TOP.search(text)
    if top:
        return f"there is no placeholder {_braces(top.group(1))}. " + _listing("", context)
    member = _MEMBER.search(text)
    if not member:
        return f"a placeholder does not exist ({text}). " + _listing("", context)
    name = member.group(1)
    lines = source.splitlines()
    owner = _owner(lines[line - 1] if 0 < line <= len(lines) else "", name)
    found = _resolve(context, owner, source) if owner else None
    if owner is None or found is None:
        return f"there is no placeholder called '{name}'. " + _listing("", context)
    return f"there is no placeholder {_braces(f'{owner}.{name}')}. " + _listing(owner, found)


def unknown_name(name: str, context: Mapping[str, Any]) -> str:
    """The same words for a top-level name found before rendering (in a parsed template)."""
    return f"there is no placeholder {_braces(name)}. " + _listing("", context)


def first_use(
    environment: jinja2.Environment, templates: list[str], name: str
) -> tuple[Path, int] | None:
    """The file and line where `templates` (or a layout they use) first use the top-level
    name `name`."""
    waiting, seen = list(templates), set()
    while waiting:
        template = waiting.pop(0)
        if template in seen:
            continue
        seen.add(template)
        try:
            source, filename, _ = environment.loader.get_source(environment, template)  # type: ignore[union-attr]
            tree = environment.parse(source)
        except jinja2.TemplateError:
            continue
        for node in tree.find_all(nodes.Name):
            if node.name == name and node.ctx == "load":
                return Path(filename or template), node.lineno
        waiting += [ref for ref in jinja2.meta.find_referenced_templates(tree) if ref]
    return None


def names(value: Any) -> list[str]:
    """The names under a placeholder: a table's keys, or a settings object's fields."""
    if isinstance(value, Mapping):
        return sorted(str(key) for key in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sorted(f.name for f in dataclasses.fields(value))
    return []


def _listing(owner: str, value: Any) -> str:
    found = names(value)
    if not found:
        return f"{_braces(owner)} has no parts."
    shown = ", ".join(f"{owner}.{n}" if owner else n for n in found)
    where = f"under {owner} are" if owner else "you can use here are"
    return f"The placeholders {where}: {shown}."


def _braces(name: str) -> str:
    return "{{ " + name + " }}"


def _owner(line: str, name: str) -> str | None:
    """The dotted name before `.name` (or `["name"]`) on the template line."""
    escaped = re.escape(name)
    found = re.search(rf"([A-Za-z_][\w.]*)\s*(?:\.{escaped}\b|\[\s*['\"]{escaped}['\"]\s*\])", line)
    return found.group(1) if found else None


def _resolve(context: Mapping[str, Any], dotted: str, line: str) -> Any:
    """The value of `dotted` in `context`; a loop variable stands for its list's first item."""
    first, *rest = dotted.split(".")
    if first in context:
        value: Any = context[first]
    else:
        value = _loop_item(context, first, line)
    for part in rest:
        value = _member(value, part)
    return value


def _loop_item(context: Mapping[str, Any], name: str, source: str) -> Any:
    for variable, listed in _LOOP.findall(source):
        if variable == name:
            items = _resolve(context, listed, "")
            if isinstance(items, list | tuple) and items:
                return items[0]
    return None


def _member(value: Any, part: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(part)
    return getattr(value, part, None)


_UNKNOWN_TAG = re.compile(r"Encountered unknown tag '(\w+)'")
_JINJA_TAGS = {"else", "elif", *(f"end{t}" for t in ("if", "for", "block", "macro", "filter",
               "set", "with", "call", "raw", "trans", "autoescape"))}  # fmt: skip
_NEEDS_CLOSING = re.compile(r"The innermost block that needs to be closed is '(\w+)'")


def syntax(message: str) -> str:
    """A Jinja syntax error in plain words: what is not written right, and how to write it."""
    closing = _NEEDS_CLOSING.search(message)
    opener = closing.group(1) if closing else ""
    block = f"{{% end{opener} %}}" if closing else ""
    unknown = _UNKNOWN_TAG.search(message)
    if unknown:
        tag, opened = f"{{% {unknown.group(1)} %}}", closing and f"{{% {closing.group(1)} %}}"
        if not block:
            return f"there is no {tag}: check the spelling"
        if unknown.group(1) in _JINJA_TAGS:
            return f"{tag} does not belong here: the {opened} above needs {block}"
        return f"there is no {tag}: check the spelling (the {opened} above ends with {block})"
    if message.startswith("Unexpected end of template") and block:
        return f"the template ends before {block}: every {{% {opener} %}} needs one"
    # a {{ left open runs on into the next {{, which reads as the start of a {dict}
    runs_on = message.startswith("expected token ':'") and "got '}'" in message
    if ("end of print statement" in message and "token 'name'" not in message) or (
        message.startswith("unexpected '}'") or runs_on
    ):
        return (
            "a placeholder is not written right: it needs {{ at the start and }} at the end, "
            "like {{ organisation.name }}"
        )
    return (
        f"a {{{{ }}}} or {{% %}} is not written the way templates need it ({message.rstrip('.')})"
    )
