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
        raise AudienceError(workspace.not_found("audiences", name, ".toml", "audience"))
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
    """Tags are stored in lower case, so `Newsletter` in a file finds `newsletter`."""
    return sorted({n.strip().lower() for n in names if n.strip()})


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
