"""Audiences: who a campaign goes to, as a TOML file in audiences/ that selects contacts.

A file names statuses, tags, formats and attribute values; `member_ids` turns it into one SQL
query, so choosing 100,000 people happens in the database, never in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from ..config import Workspace, read_text, read_toml, schema_error
from ..errors import EngageError
from ..store.schema import FORMATS, STATUSES, contact_tags, contacts, tags
from ..tomlcheck import SchemaError, build, convert
from . import core

Status = Literal[STATUSES]  # type: ignore[valid-type]
Format = Literal[FORMATS]  # type: ignore[valid-type]
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class AudienceError(EngageError):
    """An audience file is missing, cannot be read or is not valid."""


class UnknownAudience(AudienceError):
    """No audience has this name (the message names the ones there are, and the closest)."""


@dataclass(frozen=True)
class AudienceFile:
    """The keys an audience file may have, as tomlcheck checks them."""

    description: str = ""
    status: list[Status] = field(default_factory=lambda: ["subscribed"])
    tags_any: list[str] = field(default_factory=list)
    tags_all: list[str] = field(default_factory=list)
    tags_none: list[str] = field(default_factory=list)
    formats: list[Format] = field(default_factory=list)
    attributes: dict[str, object] = field(default_factory=dict)  # values checked below


@dataclass(frozen=True)
class Audience:
    name: str
    description: str
    status: list[str]
    tags_any: list[str]
    tags_all: list[str]
    tags_none: list[str]
    formats: list[str]
    attributes: dict[str, str | list[str]]


def resolve(workspace: Workspace, name: str) -> Path:
    """The file for audience `name`: audiences/NAME.toml."""
    found = workspace.named_file("audiences", name, ".toml") if NAME.fullmatch(name) else None
    if found is None:
        raise UnknownAudience(workspace.not_found("audiences", name, ".toml", "audience"))
    return found


def load(workspace: Workspace, name: str) -> Audience:
    path = resolve(workspace, name)
    return parse(path, workspace.relative(path))


def parse(path: Path, shown: str | None = None) -> Audience:
    """Read and check one audience file; every error names the file and the key."""
    shown = shown or str(path)
    text = read_text(path, shown, AudienceError)
    data = read_toml(Path(shown), text, 1, "the audience file", error=AudienceError)
    try:
        checked = build(AudienceFile, data)
        if not checked.status:
            raise SchemaError('status is empty: list at least one, like status = ["subscribed"]')
        attributes = {k: _attribute(k, v) for k, v in checked.attributes.items()}
    except SchemaError as exc:
        raise schema_error(exc, shown, text, 1, AudienceError) from None
    return Audience(
        name=path.stem,
        description=checked.description,
        status=list(checked.status),
        tags_any=_tags(checked.tags_any),
        tags_all=_tags(checked.tags_all),
        tags_none=_tags(checked.tags_none),
        formats=list(checked.formats),
        attributes=attributes,
    )


def _tags(names: list[str]) -> list[str]:
    """Tags are stored in lower case, so `Newsletter` in a file finds `newsletter`. The order
    they were written in is kept (see signup_tags)."""
    return list(dict.fromkeys(n.strip().lower() for n in names if n.strip()))


def _attribute(key: str, value: Any) -> str | list[str]:
    where = f"attributes.{key}"
    if '"' in key:
        raise SchemaError(f"{where}: an attribute name cannot contain a double quote")
    if isinstance(value, list):
        if not value:
            raise SchemaError(f"{where} is an empty list: give at least one value")
        return convert(list[str], value, where)
    try:
        return convert(str, value, where)
    except SchemaError as exc:
        message = str(exc).replace("must be text in quotes", "must be text in quotes or a list")
        raise SchemaError(message) from None


def all_audiences(workspace: Workspace) -> list[Audience | AudienceError]:
    """Every audience in the workspace, or the error that stops one being read."""
    found: list[Audience | AudienceError] = []
    for path in sorted(workspace.audiences_dir.glob("*.toml")):
        try:
            found.append(parse(path, workspace.relative(path)))
        except AudienceError as exc:
            found.append(exc)
    return found


def member_ids(audience: Audience) -> sa.Select:
    """SELECT contacts.id for everyone in the audience; use as contacts.c.id.in_(...)."""
    conditions: list[sa.ColumnElement[bool]] = [contacts.c.status.in_(audience.status)]
    if audience.formats:
        conditions.append(contacts.c.format.in_(audience.formats))
    if audience.tags_any:
        conditions.append(_tagged(audience.tags_any))
    if audience.tags_all:
        conditions.append(contacts.c.id.in_(_tagged_with_all(audience.tags_all)))
    if audience.tags_none:
        conditions.append(~_tagged(audience.tags_none))
    for key, value in audience.attributes.items():
        stored = contacts.c.attributes[key].as_string()
        conditions.append(stored == value if isinstance(value, str) else stored.in_(value))
    return sa.select(contacts.c.id).where(*conditions)


def _tagged(names: list[str]) -> sa.Exists:
    """EXISTS: the contact has at least one of these tags."""
    return (
        sa.select(contact_tags.c.contact_id)
        .join(tags, tags.c.id == contact_tags.c.tag_id)
        .where(contact_tags.c.contact_id == contacts.c.id, tags.c.name.in_(names))
        .exists()
    )


def _tagged_with_all(names: list[str]) -> sa.Select:
    """The ids of contacts that have every one of these tags."""
    return (
        sa.select(contact_tags.c.contact_id)
        .join(tags, tags.c.id == contact_tags.c.tag_id)
        .where(tags.c.name.in_(names))
        .group_by(contact_tags.c.contact_id)
        .having(sa.func.count() == len(set(names)))  # (contact, tag) pairs are unique
    )


def reading_choices(connection: sa.Connection, audience: Audience) -> list[tuple[str, str, int]]:
    """(format, language, how many) of the subscribed people in the audience: what versions
    of a campaign they would be sent (sending/editions.py)."""
    query = (
        sa.select(contacts.c.format, contacts.c.lang, sa.func.count())
        .where(contacts.c.id.in_(member_ids(audience)), contacts.c.status == "subscribed")
        .group_by(contacts.c.format, contacts.c.lang)
        .order_by(contacts.c.format, contacts.c.lang)
    )
    return [(fmt, lang, n) for fmt, lang, n in connection.execute(query).all()]


def count(connection: sa.Connection, audience: Audience) -> int:
    """How many people are in the audience now."""
    query = sa.select(sa.func.count()).select_from(member_ids(audience).subquery())
    return connection.execute(query).scalar_one()


def members(connection: sa.Connection, audience: Audience) -> list[dict[str, Any]]:
    """Everyone in the audience, ordered by email, with their tags sorted."""
    return [
        {
            "email": c.email,
            "name": c.name,
            "first_name": c.first_name,
            "status": c.status,
            "format": c.format,
            "tags": c.tags,
            "attributes": c.attributes or {},
        }
        for c in core.listing(connection, within=member_ids(audience))
    ]


# --- Web sign-ups --------------------------------------------------------------------------

NEWSLETTER = "newsletter"  # the audience whose tags sign-ups get when [web] signup_tags is unset


def signup_tags(workspace: Workspace) -> list[str]:
    """The tags every confirmed web sign-up gets: `[web] signup_tags` when it is set; else the
    tags the newsletter audience (audiences/newsletter.toml) needs: each tag in its tags_all,
    and the first in its tags_any. No newsletter audience, or one that cannot be read: none."""
    given = workspace.config.web.signup_tags
    if given is not None:
        return _tags(given)
    try:
        newsletter = load(workspace, NEWSLETTER)
    except AudienceError:
        return []
    return list(dict.fromkeys([*newsletter.tags_all, *newsletter.tags_any[:1]]))


def why_no_signups(audience: Audience, always: list[str], topics: list[str]) -> str:
    """Why nobody who signs up on the web can ever be in `audience`; "" when they can. Every
    sign-up has the tags `always` once confirmed, and may choose any of `topics`."""
    may_have = {*always, *topics}
    kept = [t for t in always if t not in topics]  # tags a sign-up cannot take off
    missing = [t for t in audience.tags_all if t not in may_have]
    blocked = [t for t in audience.tags_none if t in kept]
    if "subscribed" not in audience.status:
        return f"it only picks people whose status is {_listed(audience.status, 'or')}"
    if audience.attributes:
        names = _listed(list(audience.attributes), "or")
        return f"it picks people by {names}, and sign-ups have no such details"
    if missing:
        return f"it needs {_tags_named(missing, 'and')}, and sign-ups never get {_it(missing)}"
    if audience.tags_any and not may_have & set(audience.tags_any):
        wanted = audience.tags_any
        never = "it" if len(wanted) == 1 else "any of them"
        return f"it needs {_tags_named(wanted, 'or')}, and sign-ups never get {never}"
    if blocked:
        those = "that tag" if len(blocked) == 1 else "those tags"
        return (
            f"it leaves out people tagged {_listed(blocked, 'or')}, and every sign-up gets {those}"
        )
    return ""


def _tags_named(names: list[str], joiner: str) -> str:
    if len(names) == 1:
        return f"the tag {names[0]}"
    return ("one of the tags " if joiner == "or" else "the tags ") + _listed(names, joiner)


def _listed(names: list[str], joiner: str) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" {joiner} {names[-1]}"


def _it(names: list[str]) -> str:
    return "it" if len(names) == 1 else "them"
