"""Personal fields a layout cannot change: `{{ recipient.first_name | upper }}` and the like.

A campaign is rendered once, with a stand-in code for each `recipient` field, and each
person's details are put in place of those codes when their email is sent (render/personal.py;
the HTTP providers do the same with their merge tags). So a layout can print a personal field,
join it to other text, or give it to a macro, but a filter (`upper`, `default`, `truncate`...),
a test (`{% if recipient.first_name %}`) or a slice only ever sees the stand-in: the filter
would print a code into the email, and the test comes out the same for everyone.

engage refuses them all, rather than making some filters work: a name is shown the way the
person gave it (upper-casing or title-casing breaks names like "McDonald" and "van der Berg"),
`recipient.greeting` already says "Hello," when there is no name, and the providers that fill
in fields themselves could not change case anyway. `engage lint` reports each one with its
file and line; `engage build` and every send refuse to go on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2 import nodes

from . import layout

ROOT = "recipient"
_NAME_FIELDS = ("first_name", "name", "greeting")
_DEFAULTS = ("default", "d")
_ESCAPES = ("e", "escape", "forceescape", "safe")
# Jinja's node classes cannot be joined with |, so these checks use tuples.
_CONDITIONS = (nodes.Test, nodes.Compare, nodes.Operand, nodes.Not, nodes.And, nodes.Or)


@dataclass(frozen=True)
class Misuse:
    path: Path
    line: int
    message: str
    fix: str


def misuses(env: jinja2.Environment, templates: list[str]) -> list[Misuse]:
    """Every place in `templates` (and the layouts they include) that works on a personal
    field instead of printing it."""
    found: list[Misuse] = []
    seen: set[Path] = set()
    for name in templates:
        for path in layout.sources(env, name):
            if path not in seen:
                seen.add(path)
                found += _in_file(env, path)
    return found


def _in_file(env: jinja2.Environment, path: Path) -> list[Misuse]:
    with layout.template_errors(env):
        tree = env.parse(path.read_text(encoding="utf-8"), path.name, str(path))
    aliases = _aliases(tree)
    return [
        _misuse(path, parent, field, child)
        for parent, child, field in _uses(tree, aliases)
        if _refused(parent, child)
    ]


def _aliases(tree: nodes.Template) -> dict[str, str]:
    """Names set to a personal field ({% set who = recipient.first_name %}), with the field;
    "" for a name set to `recipient` itself."""
    names: dict[str, str] = {}
    for assign in tree.find_all(nodes.Assign):
        field = _field(assign.node, names)
        if isinstance(assign.target, nodes.Name) and field is not None:
            names[assign.target.name] = field
    return names


def _field(node: nodes.Node, aliases: dict[str, str]) -> str | None:
    """The personal field `node` reads ("first_name"), "" for `recipient` itself, else None."""
    if isinstance(node, nodes.Name):
        return "" if node.name == ROOT else aliases.get(node.name)
    inner = getattr(node, "node", None)
    if not isinstance(inner, nodes.Name) or _field(inner, aliases) != "":
        return None
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return str(node.arg.value)
    return None


def _uses(
    node: nodes.Node,
    aliases: dict[str, str],
    parent: nodes.Node | None = None,
    block: nodes.FilterBlock | None = None,
) -> Iterator[tuple[nodes.Node, nodes.Node, str]]:
    """(what holds it, node, field) for each personal field in the tree. Inside a
    {% filter %} block, the block is what holds it: the filter runs over the whole block."""
    field = _field(node, aliases)
    if field is not None and parent is not None:
        yield (block or parent), node, field
        return
    if isinstance(node, nodes.FilterBlock):
        block = node
    for child in node.iter_child_nodes():
        yield from _uses(child, aliases, node, block)


def _refused(parent: nodes.Node, child: nodes.Node) -> bool:
    if isinstance(parent, nodes.Filter):
        return parent.node is child  # as an argument to a filter it is printed as it is
    if isinstance(parent, (nodes.If, nodes.CondExpr)):
        return parent.test is child
    if isinstance(parent, (nodes.Getattr, nodes.Getitem, nodes.Slice, nodes.For)):
        return True
    return isinstance(parent, (nodes.FilterBlock, *_CONDITIONS))


def _misuse(path: Path, parent: nodes.Node, field: str, child: nodes.Node) -> Misuse:
    shown = f"recipient.{field}" if field else "recipient"
    plain = "{{ " + shown + " }}"
    if isinstance(parent, (nodes.Filter, nodes.FilterBlock)):
        name = parent.name if isinstance(parent, nodes.Filter) else parent.filter.name
        return Misuse(
            path,
            parent.lineno if isinstance(parent, nodes.Filter) else child.lineno,
            f'The filter "{name}" cannot work on {shown}: engage puts in each person\'s '
            f"details after the email is built, so {_what_happens(name)}.",
            _filter_fix(name, field, plain),
        )
    if isinstance(parent, (nodes.If, nodes.CondExpr, *_CONDITIONS)):
        return Misuse(
            path,
            parent.lineno,
            f"A test on {shown} comes out the same for everyone: engage puts in each "
            "person's details after the email is built.",
            _greeting_fix(field) or f"Print {plain} without a test.",
        )
    return Misuse(
        path,
        child.lineno,
        f"{shown} cannot be cut up or changed in a template: engage puts in each person's "
        "details after the email is built.",
        f"Write {plain} on its own.",
    )


def _what_happens(name: str) -> str:
    if name in _DEFAULTS:
        return "the default would never be used"
    if name in _ESCAPES:
        return "the filter has nothing to do"
    return "the filter would print a code into the email"


def _filter_fix(name: str, field: str, plain: str) -> str:
    if name in _DEFAULTS:
        return _greeting_fix(field) or f"Write {plain} on its own."
    if name in _ESCAPES:
        return f"Write {plain}: engage makes each person's details safe in HTML by itself."
    if name in ("upper", "lower", "title", "capitalize"):
        return f"Write {plain}: names and addresses are shown the way each person gave them."
    return f"Write {plain} on its own."


def _greeting_fix(field: str) -> str:
    if field not in _NAME_FIELDS:
        return ""
    return (
        'Write {{ recipient.greeting }}: it says "Hello Sam," or just "Hello," when we do not '
        "know a name."
    )
