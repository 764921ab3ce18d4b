"""A CSV file of people, read as rows of cells, each cell with its own error or none.

Column names are matched ignoring case, spaces, `_` and `-` ("First name" is first_name). Known
columns are email (required), name, first_name, tags (separated by `;`) and format; any other
column becomes an attribute. The file is streamed: one row at a time, never all at once.

Limits, so a wrong file is refused at once rather than read without end: a line of at most
MAX_LINE characters, at most MAX_COLUMNS columns with names of at most MAX_HEADING characters,
no NUL byte on the first line (a file with one there is not text). A cell longer than MAX_CELL,
or with a character the store cannot keep (store/guard.py), rejects its row, with line and
column; the other rows go in.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import langs
from ..addresses import InvalidEmail, Mailbox, mailbox
from ..errors import EngageError, sentence
from ..store import guard
from ..store.schema import FORMATS

IGNORED = ""
REJECTS_COLUMN = "engage_error"
KNOWN = {
    "email": "email",
    "emailaddress": "email",
    "name": "name",
    "fullname": "name",
    "firstname": "first_name",
    "tags": "tags",
    "format": "format",
    "lang": "lang",
    "language": "lang",
    "engageerror": IGNORED,  # the reason column of a rejects file, when it is imported again
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_TAG_LENGTH = 100
MAX_LINE = 1_000_000  # characters on one line, and in one row when a cell spans lines
MAX_CELL = 10_000
MAX_COLUMNS = 200
MAX_HEADING = 1_000  # a long question from a form export is a column name too


class ImportFileError(EngageError):
    """The whole file cannot be used; nothing is imported."""


def format_of(value: str) -> str:
    """A format as a person may write it: "Easy Read", "easyread" and "easy_read" are
    easy-read; "large print" is large-print."""
    words = re.sub(r"[\s_]+", "-", value.strip().lower())
    return {"easyread": "easy-read", "largeprint": "large-print"}.get(words, words)


def header_key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name.strip().lower())


def safe_cell(value: str) -> str:
    """Guard a cell against spreadsheet formula injection: '=SUM(...)' is shown, not run."""
    return "'" + value if value.startswith(FORMULA_START) else value


def unguard(value: str) -> str:
    """Undo safe_cell, so a file engage wrote can be imported again unchanged."""
    if value.startswith("'") and value[1:2] in FORMULA_START and value[1:2]:
        return value[1:]
    return value


@dataclass
class Row:
    line: int
    raw: list[str]
    email: str = ""
    key: str = ""  # whose mailbox: the same for every spelling of it
    address: Mailbox | None = None  # the email cell, read once
    name: str = ""
    first_name: str = ""
    format: str = ""
    lang: str = ""
    tags: set[str] = field(default_factory=set)
    attributes: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[str | None, str]] = field(default_factory=list)

    def where(self, column: str | None) -> str:
        return f"line {self.line}, column {column}" if column else f"line {self.line}"


class ContactFile:
    """Open a CSV of contacts; check its header at once; give its rows one at a time."""

    def __init__(self, path: Path, shown: str | None = None) -> None:
        self.path = path
        self.shown = shown or str(path)
        self._handle = self._open()
        try:
            first = self._handle.readline(MAX_LINE + 1)
        except UnicodeDecodeError:
            self._handle.close()
            raise self._not_utf8() from None
        if "\x00" in first:
            raise self._fatal(
                "the file has zero (NUL) bytes, so it is not a CSV text file. Check that it "
                "is the right file, saved as CSV UTF-8"
            )
        if len(first) > MAX_LINE:
            raise self._fatal(TOO_LONG)
        if not first.strip():
            self._handle.close()
            raise ImportFileError(
                f"{self.shown} is empty. The first line must name the columns, "
                "like: email,name,tags"
            )
        self.delimiter = ";" if first.count(";") > first.count(",") else ","
        self.header = next(csv.reader([first], delimiter=self.delimiter))
        self.columns = self._columns()

    def _open(self) -> io.TextIOWrapper:
        try:
            return self.path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise ImportFileError(f"Cannot read {self.shown}: {exc.strerror}.") from None

    def _columns(self) -> list[str]:
        """The stored name for each column: a known field, or the attribute name."""
        if len(self.header) > MAX_COLUMNS:
            raise self._fatal(
                f"it names {len(self.header):,} columns, and engage takes at most "
                f"{MAX_COLUMNS}. Keep the columns you need (like email, name, tags) and import "
                "again"
            )
        columns: list[str] = []
        named: set[str] = set()
        for number, heading in enumerate(self.header, 1):
            wrong = guard.problem(heading, MAX_HEADING)
            if wrong:
                raise self._fatal(f"the name of column {number} is not usable: {wrong}")
            key = header_key(heading)
            if not key:
                raise self._fatal(f"column {number} has no name on the first line")
            name = KNOWN.get(key, heading.strip())
            if name != IGNORED and name in named:
                raise self._fatal(f"the column '{heading.strip()}' appears twice")
            columns.append(name)
            named.add(name)
        if "email" not in columns:
            found = ", ".join(h.strip() for h in self.header)
            raise self._fatal(
                f"there is no email column. The first line must name the columns, like: "
                f"email,name,tags. The columns found were: {found}"
            )
        return columns

    def _not_utf8(self) -> ImportFileError:
        return ImportFileError(
            f"{self.shown}, line {_bad_line(self.path)}: the file is not UTF-8 text. Save it "
            "as UTF-8 (in Excel: Save As, then 'CSV UTF-8') and import it again."
        )

    def _fatal(self, reason: str) -> ImportFileError:
        self._handle.close()
        return ImportFileError(f"{self.shown}, line 1: {reason}.")

    def rows(self) -> Iterator[Row]:
        lines = _Lines(self._handle, self.shown)
        reader = csv.reader(lines, delimiter=self.delimiter)
        line = 1
        limit = csv.field_size_limit(MAX_LINE)  # the module's own limit is for the process
        try:
            with self._handle:
                for raw in reader:
                    start, line = line + 1, reader.line_num + 1
                    lines.record = []
                    if any(value.strip() for value in raw):
                        yield self._row(start, raw)
        except UnicodeDecodeError:
            raise self._not_utf8() from None
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise self._runaway(line + 1, lines.record) from None
            raise ImportFileError(f"{self.shown}, line {line}: {sentence(str(exc))}") from None
        finally:
            csv.field_size_limit(limit)

    def _runaway(self, line: int, record: list[str]) -> ImportFileError:
        """A cell that goes on past MAX_LINE characters: a quote mark never closed."""
        csv.field_size_limit(3 * MAX_LINE)  # the record kept is cut soon after MAX_LINE
        fields = next(csv.reader(io.StringIO("".join(record) + '"'), delimiter=self.delimiter))
        number = min(len(fields), len(self.columns))
        column = self.header[number - 1].strip() if number else "1"
        return ImportFileError(
            f"{self.shown}, line {line}, column {column}: the cell goes on for more than "
            f'{MAX_LINE:,} characters. Most often a quote mark (") is not closed: check the '
            "quotes in that cell, then import again. Nothing was imported."
        )

    def _row(self, line: int, raw: list[str]) -> Row:
        row = Row(line=line, raw=raw)
        if len(raw) != len(self.columns):
            row.errors.append(
                (None, f"{len(raw)} values, but the first line names {len(self.columns)} columns")
            )
            return row
        for column, value in zip(self.columns, raw, strict=True):
            wrong = guard.problem(value, MAX_CELL) if column != IGNORED else ""
            if wrong:
                row.errors.append((column, wrong))
            else:
                _cell(row, column, unguard(value.strip()))
        return row


class _Lines:
    """The file's lines for the CSV reader, none longer than MAX_LINE characters; `record`
    holds the lines of the row being read (the reader empties it after each row)."""

    def __init__(self, handle: io.TextIOWrapper, shown: str) -> None:
        self.handle, self.shown, self.number = handle, shown, 1
        self.record: list[str] = []
        self.kept = 0  # characters in record

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        text = self.handle.readline(MAX_LINE + 1)
        if not text:
            raise StopIteration
        self.number += 1
        if len(text) > MAX_LINE:
            raise ImportFileError(f"{self.shown}, line {self.number}: {TOO_LONG}.")
        if not self.record:
            self.kept = 0
        if self.kept <= MAX_LINE:
            self.record.append(text)
            self.kept += len(text)
        return text


TOO_LONG = (
    f"the line is longer than {MAX_LINE:,} characters, so this does not look like a CSV of "
    "contacts. Check that it is the right file. Nothing was imported"
)


def _bad_line(path: Path) -> int:
    """The line of the first byte that is not UTF-8 (read again, on this rare path only, a
    piece at a time: the file may have no end)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 1
    with path.open("rb") as handle:
        while piece := handle.read(64 * 1024):
            try:
                decoder.decode(piece)
            except UnicodeDecodeError as exc:
                return lines + piece[: exc.start].count(b"\n")
            lines += piece.count(b"\n")
    return lines


def _cell(row: Row, column: str, value: str) -> None:
    if column == "email":
        try:
            address = mailbox(value)
        except InvalidEmail as exc:
            row.errors.append(("email", str(exc)))
        else:
            row.email, row.key, row.address = address.email, address.key, address
    elif column in ("name", "first_name"):
        setattr(row, column, value)
    elif column == "format":
        fmt = format_of(value)
        if value and fmt not in FORMATS:
            row.errors.append(
                (
                    "format",
                    f"'{value}' is not a format engage knows; use html, plain, large-print or "
                    "easy-read",
                )
            )
        row.format = fmt
    elif column == "lang":
        try:
            row.lang = langs.choice(value)
        except langs.BadLanguage as exc:
            row.errors.append(("lang", str(exc)))
    elif column == "tags":
        row.tags = {t.strip().lower() for t in value.split(";") if t.strip()}
        long = [t for t in row.tags if len(t) > MAX_TAG_LENGTH]
        if long:
            row.errors.append(("tags", f"the tag '{long[0][:30]}…' is over 100 characters"))
    elif value and column != IGNORED:
        row.attributes[column] = value
