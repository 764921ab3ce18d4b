"""`engage team`: add, list, remove, password and log, with their exact output and exit codes,
and each mistake a clear error that changes nothing."""

from __future__ import annotations

import pytest

from engage.store import open_store
from engage.team import members


@pytest.fixture
def team(project, clock):
    return project


def test_add_list_and_the_log(team) -> None:
    assert team.run("team", "list").output == (
        "Nobody is on the team yet. Add someone with "
        "`engage team add EMAIL --name NAME --role admin`.\n"
    )
    added = team.run("team", "add", "Sam@Example.org", "--name", "Sam  Jones", "--role", "admin")
    assert added.exit_code == 0
    assert added.output == (
        "Added Sam Jones <Sam@example.org> as admin.\n"
        "They sign in at /console with a link we email them; it works once, for 15 minutes.\n"
    )
    listed = team.run("team", "list")
    assert listed.exit_code == 0
    assert listed.output == (
        "EMAIL            NAME       ROLE   PASSWORD  ADDED\n"
        "Sam@example.org  Sam Jones  admin  -         2026-12-01\n"
    )
    log = team.run("team", "log")
    assert log.output == (
        "2026-12-01 09:00 UTC  command line (test-runner)  team member added: "
        "Sam@example.org (Sam Jones, admin)\n"
    )


def test_mistakes_are_clear_and_change_nothing(team) -> None:
    assert (
        team.run("team", "add", "sam@example.org", "--name", "Sam", "--role", "admin").exit_code
        == 0
    )
    twice = team.run("team", "add", "SAM@example.org", "--name", "Sam", "--role", "editor")
    assert twice.exit_code == 1
    assert twice.stderr == (
        "Error: sam@example.org is on the team already, as admin. To change their role, remove "
        "them and add them again.\n"
    )
    bad = team.run("team", "add", "not-an-address", "--name", "X", "--role", "editor")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error: 'not-an-address' is not a valid email address")
    assert bad.stderr.endswith("Give the team member's own email address.\n")
    role = team.run("team", "add", "bo@example.org", "--name", "Bo", "--role", "boss")
    assert role.exit_code == 2
    assert "'boss' is not one of 'editor', 'sender', 'admin'" in role.stderr
    last = team.run("team", "remove", "sam@example.org")
    assert last.exit_code == 1
    assert last.stderr == (
        "Error: sam@example.org is the only admin. Add another admin first, so someone can still "
        "manage the team.\n"
    )
    nobody = team.run("team", "remove", "who@example.org")
    assert nobody.exit_code == 1
    assert nobody.stderr == (
        "Error: who@example.org is not on the team. `engage team list` shows who is.\n"
    )
    store = open_store(team.workspace)
    with store.connect() as connection:
        assert [m.email for m in members.listing(connection)] == ["sam@example.org"]
    store.engine.dispose()


def test_remove_and_add_again(team) -> None:
    for email, role in (("sam@example.org", "admin"), ("kim@example.org", "editor")):
        assert team.run("team", "add", email, "--name", email[:3], "--role", role).exit_code == 0
    removed = team.run("team", "remove", "KIM@example.org")
    assert removed.exit_code == 0
    assert removed.output == "Removed kim <kim@example.org>; they are signed out everywhere.\n"
    assert "kim@" not in team.run("team", "list").output
    back = team.run("team", "add", "kim@example.org", "--name", "Kim Lee", "--role", "sender")
    assert back.exit_code == 0
    assert "kim@example.org  Kim Lee  sender" in team.run("team", "list").output


def test_password_is_asked_for_twice_and_kept_as_a_hash(team) -> None:
    assert (
        team.run("team", "add", "sam@example.org", "--name", "Sam", "--role", "admin").exit_code
        == 0
    )
    weak = team.run("team", "password", "sam@example.org", input="short\nshort\n")
    assert weak.exit_code == 1
    assert "Use at least 12" in weak.stderr
    differ = team.run(
        "team", "password", "sam@example.org", input="four words to say\nfour words to sat\n"
    )
    assert differ.exit_code == 1  # click asks again, and the input runs out
    done = team.run(
        "team", "password", "sam@example.org", input="four words to say\nfour words to say\n"
    )
    assert done.exit_code == 0
    assert done.output.endswith(
        "Set the password for sam@example.org; their other sessions have ended.\n"
    )
    assert "four words" not in done.output
    listed = team.run("team", "list").output
    assert "sam@example.org  Sam   admin  set" in listed
    nobody = team.run("team", "password", "who@example.org", input="four words to say\n" * 2)
    assert nobody.exit_code == 1
