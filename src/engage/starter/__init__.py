"""A new workspace for `engage init`: settings with notes, every template, an example
campaign and audience.

The templates are engage's own, in the package (src/engage/templates/), so an engage installed
with pip can make a workspace too. The example workspace in engage's source links its
templates/ folder to that same folder: there is one copy of each template. The settings, the
campaign and the audience for a new workspace are in this folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..config import CONFIG_NAME
from ..errors import WorkspaceError

CAMPAIGN = "our-first-newsletter"
PLACEHOLDER_NAME = "Your organisation"
PLACEHOLDER_ADDRESS = "Your postal address, with the postcode"
SENDER_ADDRESS = "news@example.org"
# What a new workspace holds, in the order engage init lists them.
PARTS = (CONFIG_NAME, "templates", "campaigns", "audiences", ".gitignore")
GITIGNORE = "# Made by engage: your data and what engage writes, kept out of git.\n" + "\n".join(
    ("engage.db", "engage.db-wal", "engage.db-shm", "outbox/", "build/", "")
)


@dataclass(frozen=True)
class Made:
    root: Path
    placeholders: bool  # the organisation's name or address still needs filling in


def create(folder: Path, name: str = "", address: str = "", sender: str = "") -> Made:
    """Make a workspace in `folder` (made if missing). Refuse if one, or any part of one, is
    there already; on any failure leave nothing behind."""
    root = folder.expanduser().absolute()
    _refuse_existing(root)
    values = {
        "__NAME__": name or PLACEHOLDER_NAME,
        "__ADDRESS__": address or PLACEHOLDER_ADDRESS,
        "__FROM__": sender or f"{name or PLACEHOLDER_NAME} <{SENDER_ADDRESS}>",
    }
    made_folder = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".engage-init-", dir=root) as temporary:
            _write(Path(temporary), values)
            _move_in(Path(temporary), root)
    except OSError as exc:
        if made_folder:
            shutil.rmtree(root, ignore_errors=True)
        raise WorkspaceError(
            f"Cannot make a workspace in {root}: {exc.strerror or exc}. Nothing was written; "
            "choose a folder you can write to."
        ) from None
    return Made(root, placeholders=not (name and address))


def _refuse_existing(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root} is a file, not a folder. Choose a folder for the workspace.")
    if (root / CONFIG_NAME).exists():
        raise WorkspaceError(
            f"There is already a workspace in {root}: it has {CONFIG_NAME}. engage init never "
            "changes a workspace. Choose a new folder, like: engage init news"
        )
    there = [part for part in PARTS if (root / part).exists()]
    if there:
        raise WorkspaceError(
            f"{root} already has {', '.join(there)}, which engage init would write. Nothing was "
            "changed. Choose an empty or new folder, like: engage init news"
        )


def _write(into: Path, values: dict[str, str]) -> None:
    with resources.as_file(resources.files("engage")) as package:
        shutil.copytree(package / "templates", into / "templates", ignore=_not_templates)
        for part in ("campaigns", "audiences"):
            shutil.copytree(package / "starter" / part, into / part)
        settings = (package / "starter" / CONFIG_NAME).read_text(encoding="utf-8")
    for placeholder, value in values.items():
        settings = settings.replace(f'"{placeholder}"', json.dumps(value, ensure_ascii=False))
    (into / CONFIG_NAME).write_text(settings, encoding="utf-8")
    (into / ".gitignore").write_text(GITIGNORE, encoding="utf-8")


def _not_templates(_folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".py"))}


def _move_in(temporary: Path, root: Path) -> None:
    """Each part into place with a rename (the same disk, so each one is whole or absent)."""
    moved: list[Path] = []
    try:
        for part in PARTS:
            os.rename(temporary / part, root / part)
            moved.append(root / part)
    except OSError:
        for path in moved:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        raise
