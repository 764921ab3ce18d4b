from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engage.cli import cli
from engage.docs import _commands, cli_reference, lint_rules

from .conftest import REPO


def test_cli_reference_is_up_to_date() -> None:
    written = (REPO / "docs/cli.md").read_text(encoding="utf-8")
    assert written == cli_reference(cli), "docs/cli.md is out of date: run scripts/gen_docs"


def test_lint_rules_page_is_up_to_date() -> None:
    written = (REPO / "docs/lint-rules.md").read_text(encoding="utf-8")
    assert written == lint_rules(), "docs/lint-rules.md is out of date: run scripts/gen_docs"


COMMANDS = _commands(cli, ["engage"])


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help(path, command) -> None:
    assert command.help and len(command.help.strip()) > 10, f"{' '.join(path)} has no help text"
    for param in command.params:
        if (
            param.name not in ("help", "version")
            and hasattr(param, "help")
            and param.param_type_name == "option"
        ):
            assert param.help, f"{' '.join(path)} --{param.name} has no help text"


def _engage(project, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "engage", "--workspace", str(project.root), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_preview_opens_the_browser(project, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    result = _engage(project, "preview", "share-your-story", env={"BROWSER": f"{browser} %s"})
    assert result.returncode == 0, result.stderr
    url = (project.root / "build/share-your-story/index.html").as_uri()
    assert result.stdout.splitlines()[0] == f"Opened {url} in your browser."
    assert opened.read_text().strip() == url


def test_preview_without_a_browser_prints_the_address(project, tmp_path: Path) -> None:
    result = _engage(
        project,
        "preview",
        "share-your-story",
        env={"BROWSER": str(tmp_path / "no-such-browser"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    url = (project.root / "build/share-your-story/index.html").as_uri()
    assert result.stdout.splitlines()[:2] == [
        "No browser here. Open this address to see the email:",
        url,
    ]
