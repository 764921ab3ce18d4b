"""Listing contacts a page at a time: the same people in the same order (code-point order of
their address, the same on SQLite and PostgreSQL) with their own tags, wherever the pages
fall; and `engage contacts list` writes CSV and JSON as it reads them."""

from __future__ import annotations

import json

import pytest

from engage.contacts import core, life
from engage.store import Store, open_url

# In code-point order: capitals before small letters, "e" before "ë", "z" before "é".
PEOPLE = [
    ("Zed@example.org", {"b"}),
    ("ann@example.org", {"a", "b"}),
    ("zoe@example.org", set()),
    ("zoë@example.org", {"a"}),
    ("émile@example.org", {"c"}),
]


@pytest.fixture
def store(db_url: str) -> Store:
    opened = open_url(db_url)
    with opened.begin() as c:
        consent = core.ConsentGiven(method="manual", source="test", actor="bo")
        for email, tags in reversed(PEOPLE):
            life.add(c, email, consent, name=email[:3], tag_names=tags)
    yield opened
    opened.engine.dispose()


@pytest.mark.parametrize("page", [1, 2, 1000])
def test_pages_change_nothing(store, monkeypatch, page) -> None:
    monkeypatch.setattr(core, "PAGE", page)
    with store.connect() as c:
        listed = [(x.email, x.name, x.tags) for x in core.each_contact(c)]
        tagged = [x.email for x in core.listing(c, tag="a")]
    assert listed == [(email, email[:3], sorted(tags)) for email, tags in PEOPLE]
    assert tagged == ["ann@example.org", "zoë@example.org"]


def test_list_command_streams_the_same_csv_and_json(project, monkeypatch) -> None:
    monkeypatch.setattr(core, "PAGE", 2)
    for email, tags in PEOPLE:
        tagging = [arg for tag in sorted(tags) for arg in ("--tag", tag)]
        assert project.run("contacts", "add", email, "--name", email[:3], *tagging).exit_code == 0
    as_csv = project.run("contacts", "list", "--format", "csv")
    assert (as_csv.exit_code, as_csv.output) == (
        0,
        "email,name,first_name,status,format,tags\n"
        "Zed@example.org,Zed,,subscribed,html,b\n"
        "ann@example.org,ann,,subscribed,html,a;b\n"
        "zoe@example.org,zoe,,subscribed,html,\n"
        "zoë@example.org,zoë,,subscribed,html,a\n"
        "émile@example.org,émi,,subscribed,html,c\n",
    )
    as_json = project.run("contacts", "list", "--format", "json")
    people = json.loads(as_json.output)
    assert as_json.output == json.dumps(people, indent=2, ensure_ascii=False) + "\n"
    assert [(p["email"], p["tags"]) for p in people] == [
        (email, sorted(tags)) for email, tags in PEOPLE
    ]
    nobody = project.run("contacts", "list", "--status", "bounced", "--format", "json")
    assert (nobody.exit_code, nobody.output) == (0, "[]\n")
    nobody = project.run("contacts", "list", "--status", "bounced", "--format", "csv")
    assert nobody.output == "email,name,first_name,status,format,tags\n"
