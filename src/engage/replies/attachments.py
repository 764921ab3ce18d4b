"""The files that come with replies: kept in the workspace's attachments folder, one row each.

Every way a reply comes in (the three providers' inbound webhooks, IMAP, `engage replies
import`) hands its attachments to `Inbox.take`, which calls `Attachments.keep` in the same
transaction as the reply. Here:

- A file is written under a name we make (`<reply id>-<random>/<n>-<safe name>`); the name the
  sender gave is shown, never used as a path. It is written to a temporary name and renamed,
  so no file is ever half-written, and if the transaction is rolled back the files are removed.
- A file bigger than the cap (`[replies] attachment_max_mb`) is set aside: it gets a row with
  the reason and a note on the reply, and the reply's words are always kept.
- Erasing a person removes their replies' rows; `remove_files` then removes the files.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import os
import re
import secrets
import shutil
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..config import Workspace
from ..mailparts import size_text
from ..models import Attachment
from ..store.schema import attachments

CHUNK = 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(given: str, content_type: str = "", position: int = 1) -> str:
    """A file name made only of letters, digits, '.', '_' and '-', never starting with a dot,
    at most 80 characters, keeping the given name's extension where it can."""
    base = re.split(r"[\\/]", given or "")[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = _UNSAFE.sub("_", base).strip("._-")
    if not base:
        guessed = mimetypes.guess_extension(content_type.split(";")[0].strip().lower()) or ""
        base = f"attachment-{position}{guessed}"
    stem, dot, ext = base.rpartition(".")
    if dot and len(ext) <= 10:
        return stem[: 80 - len(ext) - 1].rstrip("._-") + "." + ext if stem else base[:80]
    return base[:80]


@dataclass(frozen=True)
class Kept:
    notes: list[str]
    written: list[Path]


class Attachments:
    """The attachments folder of one workspace, and the largest file it keeps."""

    def __init__(self, folder: Path, cap: int, shown: str = "") -> None:
        self.folder = folder
        self.cap = cap
        self.shown = shown or str(folder)

    def keep(
        self,
        connection: sa.Connection,
        reply_id: int,
        found: Sequence[Attachment],
        at: Any,
        still_there: str = "",
    ) -> list[str]:
        """Store each attachment of reply `reply_id` (a row each; a file each unless too big).
        Returns the notes for the reply. `still_there` is added to a note about a file set
        aside, saying where the person can still find it."""
        notes: list[str] = []
        written: list[Path] = []
        folder = self.folder / f"{reply_id}-{secrets.token_hex(4)}"
        try:
            for position, item in enumerate(found, start=1):
                notes += self._one(
                    connection, reply_id, folder, position, item, at, still_there, written
                )
        except BaseException:
            _remove(written, folder)
            raise
        if written:
            _undo_on_rollback(connection, lambda: _remove(written, folder))
        return notes

    def _one(  # noqa: PLR0913
        self,
        connection: sa.Connection,
        reply_id: int,
        folder: Path,
        position: int,
        item: Attachment,
        at: Any,
        still_there: str,
        written: list[Path],
    ) -> list[str]:
        size = item.size
        name = " ".join((item.name or "").split()) or f"attachment {position}"
        row: dict[str, Any] = {
            "inbound_id": reply_id,
            "position": position,
            "name": name,
            "content_type": (item.content_type or "application/octet-stream")[:200],
            "size": size,
            "content_id": item.content_id.strip("<> ")[:300],
            "created_at": at,
        }
        notes: list[str] = []
        if size > self.cap:
            row.update(
                path=None,
                sha256="",
                set_aside=f"bigger than the {size_text(self.cap)} engage keeps",
            )
            notes.append(
                f"The attachment {name} ({size_text(size)}) is bigger than the "
                f"{size_text(self.cap)} engage keeps, so it was set aside; the words are kept."
                + (f" {still_there}" if still_there else "")
            )
        else:
            relative = (
                f"{folder.name}/{position}-{safe_name(item.name, item.content_type, position)}"
            )
            target = self.folder / relative
            digest = _write(item, target)
            written.append(target)
            row.update(path=relative, sha256=digest, set_aside="")
        connection.execute(attachments.insert().values(**row))
        return notes

    def remove_files(self, relative_paths: Iterable[str]) -> None:
        """Remove kept files (after their rows are gone), and their folders once empty."""
        for relative in relative_paths:
            path = self.folder / relative
            if self.folder.resolve() not in path.resolve().parents:
                continue  # only ever files in our own folder
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                path.parent.rmdir()


def for_workspace(workspace: Workspace) -> Attachments:
    settings = workspace.config.replies
    folder = workspace.root / settings.attachments_dir
    return Attachments(
        folder,
        int(settings.attachment_max_mb * 1024 * 1024),
        workspace.relative(folder),
    )


def _write(item: Attachment, target: Path) -> str:
    """Copy the bytes to `target` through a temporary name; the SHA-256 of what was written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            if item.data is not None:
                digest.update(item.data)
                out.write(item.data)
            elif item.path is not None:
                with item.path.open("rb") as source:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _remove(written: list[Path], folder: Path) -> None:
    for path in written:
        path.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def _undo_on_rollback(connection: sa.Connection, undo: Callable[[], None]) -> None:
    """Call `undo` if this transaction is rolled back; nothing once it has ended either way.
    (Listeners cannot be removed while SQLAlchemy calls them, so they stay, spent.)"""
    ended = False

    def rolled_back(_connection: sa.Connection) -> None:
        nonlocal ended
        if not ended:
            ended = True
            undo()

    def committed(_connection: sa.Connection) -> None:
        nonlocal ended
        ended = True

    sa.event.listen(connection, "rollback", rolled_back)
    sa.event.listen(connection, "commit", committed)


def listing(connection: sa.Connection, reply_id: int) -> list[dict[str, Any]]:
    """A reply's attachments, in the order they came."""
    rows = connection.execute(
        sa.select(attachments)
        .where(attachments.c.inbound_id == reply_id)
        .order_by(attachments.c.position)
    ).all()
    return [
        {
            "name": r.name,
            "type": r.content_type,
            "size": r.size,
            "sha256": r.sha256,
            "path": r.path,
            "set_aside": r.set_aside,
        }
        for r in rows
    ]
