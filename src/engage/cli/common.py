"""What several commands share: the workspace and store, shared options, and output helpers."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import click

from ..config import Workspace, find_workspace

if TYPE_CHECKING:  # the rest loads when a command uses it (see cli/__init__.py)
    from ..render.findings import Finding
    from ..store import Store
    from ..stories.telling import Told


def workspace(ctx: click.Context) -> Workspace:
    root = ctx.find_root()
    cached = root.meta.get("engage.workspace")
    if cached is None:
        cached = find_workspace((root.obj or {}).get("workspace"))
        root.meta["engage.workspace"] = cached
    return cached


def format_option(*choices: str):  # noqa: ANN201
    """--format, with the first choice as the default: one for people, JSON for programs."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=f"{choices[0].capitalize()} to read, or {choices[1].upper()} for other programs.",
    )


def store(ctx: click.Context) -> Store:
    """The workspace's database, opened once per command (and given its schema if new)."""
    from ..store import open_store

    root = ctx.find_root()
    cached = root.meta.get("engage.store")
    if cached is None:
        cached = open_store(workspace(ctx))
        root.meta["engage.store"] = cached
        root.call_on_close(cached.engine.dispose)
    return cached


def printable(text: str, keep_newlines: bool = False) -> str:
    """Text safe for a terminal: control characters (escape codes) are shown, never run."""
    pattern = r"[\x00-\x09\x0b-\x1f\x7f]" if keep_newlines else r"[\x00-\x1f\x7f]"
    return re.sub(pattern, lambda m: f"\\x{ord(m.group()):02x}", text)


def when(iso: str | None) -> str:
    """A stored time (ISO 8601, UTC) as people read it: 2026-11-26 10:02 UTC."""
    return (iso or "")[:16].replace("T", " ") + " UTC" if iso else "unknown"


def table(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """Rows as aligned columns with a heading line; every cell made printable."""
    cells = [{c: printable(str(r[c])) for c in columns} for r in rows]
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns).rstrip() for r in cells]
    return "\n".join(lines)


PEOPLE_COLUMNS = ["email", "name", "first_name", "status", "format", "tags"]


def json_pieces(items: Iterable[Any], lines: int = 1000) -> Iterator[str]:
    """What `click.echo(json.dumps(list(items), indent=2, ensure_ascii=False))` writes, a
    piece of `lines` items at a time, so a long list is written out without holding it all."""
    pieces: list[str] = []
    started = False
    for item in items:
        text = json.dumps(item, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        pieces.append((",\n  " if started else "[\n  ") + text)
        started = True
        if len(pieces) == lines:
            yield "".join(pieces)
            pieces.clear()
    yield "".join(pieces) + ("\n]\n" if started else "[]\n")


def people_csv(people: Iterable[dict[str, Any]]) -> str:
    """People as CSV for a spreadsheet (tags joined by ;); no cell can start a formula."""
    return "".join(people_csv_pieces(people))


def people_csv_pieces(people: Iterable[dict[str, Any]], lines: int = 1000) -> Iterator[str]:
    """`people_csv` a piece of `lines` lines at a time, so a million people are written out
    without holding them all."""
    from ..contacts.csvfile import safe_cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PEOPLE_COLUMNS)
    for number, person in enumerate(people, 1):
        cells = {**person, "tags": ";".join(person["tags"])}
        writer.writerow([safe_cell(str(cells[c])) for c in PEOPLE_COLUMNS])
        if number % lines == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def format_finding(finding: Finding) -> str:
    return finding.text()


def report_told(told: Told) -> int:
    """What keeping contributors informed did, a line each, and its problems on stderr.
    Returns how many problems there were."""
    for line in told.done:
        click.echo(line)
    report_problems(told)
    return len(told.problems)


def report_problems(told: Told) -> None:
    for problem in told.problems:
        click.echo(f"Problem: {printable(problem)}", err=True)
