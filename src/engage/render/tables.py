"""Data tables in an email body, laid out to read well on a phone and in large print.

A table from the Markdown (already made safe by markdown.sanitise) comes out one of two ways:

- **as a table** (the standard email): the table gets ``class="data-table"`` and each body
  cell starts with its column's heading, ``<span class="cell-label">Day: </span>``, hidden
  (``display:none``) until the layout's ``@media`` rule for narrow screens shows it and lays
  each row out as a stack of lines. Wide screens see the table with its headings as usual.
- **stacked** (large print): no table at all. Each row is a ``<div class="data-row">`` holding
  one ``<div class="data-cell">`` per cell, ``<strong class="cell-label">Day:</strong>
  Wednesday``, just as the plain-text twin reads a table out (render/plaintext.py).

The layout owns how these look (padding, borders, the narrow-screen rule): see
templates/_layout.mjml.j2 and docs/templates.md. This module owns only the structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

LABEL_HIDDEN = "display:none;mso-hide:all;"

_TAGS = {"table", "thead", "tbody", "tfoot", "tr", "th", "td"}


@dataclass
class _Cell:
    tag: str
    start: int  # offset of "<td" / "<th"
    inner_start: int  # just after the start tag
    inner_end: int = 0  # offset of "</td>"
    end: int = 0  # just after the end tag


@dataclass
class _Row:
    head: bool
    cells: list[_Cell] = field(default_factory=list)


@dataclass
class _Table:
    start: int
    tag_end: int  # just after "<table ...>"
    end: int = 0
    rows: list[_Row] = field(default_factory=list)


class _Finder(HTMLParser):
    """The outermost tables of a fragment, with the offsets of their rows and cells."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=False)
        self.html = html
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", html)]
        self.tables: list[_Table] = []
        self.depth = 0  # how many tables we are inside
        self.in_head = False
        self.cell: _Cell | None = None

    def position(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            return
        start = self.position()
        if tag == "table":
            self.depth += 1
            if self.depth == 1:
                text = self.get_starttag_text() or ""
                self.tables.append(_Table(start, start + len(text)))
            return
        if self.depth != 1:
            return
        table = self.tables[-1]
        if tag == "thead":
            self.in_head = True
        elif tag in ("tbody", "tfoot"):
            self.in_head = False
        elif tag == "tr":
            table.rows.append(_Row(head=self.in_head))
        elif tag in ("th", "td") and table.rows:
            text = self.get_starttag_text() or ""
            self.cell = _Cell(tag, start, start + len(text))
            table.rows[-1].cells.append(self.cell)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _TAGS:
            return
        start = self.position()
        end = self.html.index(">", start) + 1
        if tag == "table":
            self.depth -= 1
            if self.depth == 0 and self.tables:
                self.tables[-1].end = end
                self.in_head = False
        elif self.depth == 1 and tag in ("th", "td") and self.cell is not None:
            self.cell.inner_end, self.cell.end = start, end
            self.cell = None
        elif self.depth == 1 and tag == "thead":
            self.in_head = False


def _tables(html: str) -> list[_Table]:
    finder = _Finder(html)
    finder.feed(html)
    finder.close()
    return [t for t in finder.tables if t.end]


def for_email(html: str, *, stacked: bool) -> str:
    """`html` (a safe body fragment) with each data table laid out for email: as a table that
    stacks on narrow screens, or (`stacked`) as rows of labelled lines."""
    tables = _tables(html)
    if not tables:
        return html
    out: list[str] = []
    position = 0
    for table in tables:
        out.append(html[position : table.start])
        out.append(_stacked(html, table) if stacked else _labelled(html, table))
        position = table.end
    out.append(html[position:])
    return "".join(out)


def _inner(html: str, cell: _Cell, *, stacked: bool) -> str:
    """A cell's content, with any table inside it laid out the same way."""
    return for_email(html[cell.inner_start : cell.inner_end], stacked=stacked)


def _headings(html: str, table: _Table) -> list[str]:
    """The content of the last heading row (in <thead>), one per column; none without one."""
    head = [row for row in table.rows if row.head]
    return [_inner(html, cell, stacked=False).strip() for cell in head[-1].cells] if head else []


def _label(heading: str) -> str:
    return heading if heading.endswith(":") else f"{heading}:"


def _labelled(html: str, table: _Table) -> str:
    """The table as it is, marked `data-table`, each body cell starting with its hidden label."""
    headings = _headings(html, table)
    edits: list[tuple[int, int, str]] = []
    start_tag = html[table.start : table.tag_end]
    marked = start_tag[:6] + ' class="data-table"' + start_tag[6:]
    edits.append((table.start, table.tag_end, marked))
    for row in table.rows:
        for index, cell in enumerate(row.cells):
            heading = headings[index] if index < len(headings) and not row.head else ""
            span = (
                f'<span class="cell-label" style="{LABEL_HIDDEN}">{_label(heading)} </span>'
                if heading
                else ""
            )
            inner = _inner(html, cell, stacked=False)
            edits.append((cell.inner_start, cell.inner_end, span + inner))
    out: list[str] = []
    position = table.start
    for start, end, text in edits:
        out.append(html[position:start])
        out.append(text)
        position = end
    out.append(html[position : table.end])
    return "".join(out)


def _stacked(html: str, table: _Table) -> str:
    """Each row as a block of lines, "Heading: value", in the order the table has them."""
    headings = _headings(html, table)
    rows = [row for row in table.rows if not row.head] or [row for row in table.rows if row.head]
    out = ['<div class="data-rows">']
    for row in rows:
        cells = []
        for index, cell in enumerate(row.cells):
            value = _inner(html, cell, stacked=True).strip()
            heading = headings[index] if index < len(headings) and not row.head else ""
            if heading:
                label = f'<strong class="cell-label">{_label(heading)}</strong>'
                value = f"{label} {value}" if value else label
            if value:
                cells.append(f'<div class="data-cell">{value}</div>')
        if cells:
            out.append(f'<div class="data-row">{"".join(cells)}</div>')
    out.append("</div>")
    return "".join(out)
