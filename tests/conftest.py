"""Shared fixtures: a copy of the example workspace in a temporary folder, and a CLI runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engage.cli import cli
from engage.config import Workspace, load_workspace

REPO = Path(__file__).resolve().parent.parent


class Project:
    """A workspace on disk that a test may change freely."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def workspace(self) -> Workspace:
        return load_workspace(self.root / "engage.toml")

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text(encoding="utf-8")

    def replace(self, relative: str, old: str, new: str) -> None:
        text = self.read(relative)
        assert old in text, f"{old!r} not in {relative}"
        self.write(relative, text.replace(old, new))

    def campaign(self, slug: str, body: str, **front: object) -> Path:
        front = {"subject": "Our news", "preheader": "What we did this month.", **front}
        lines = [f"{key} = {_toml(value)}" for key, value in front.items() if value is not None]
        return self.write(f"campaigns/{slug}.md", "+++\n" + "\n".join(lines) + "\n+++\n" + body)

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, ["--workspace", str(self.root), *args], env=env)


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "workspace"
    root.mkdir()
    shutil.copy(REPO / "engage.toml", root / "engage.toml")
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(REPO / "campaigns", root / "campaigns")
    return Project(root)
