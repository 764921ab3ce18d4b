"""A contacts import is written a chunk of rows at a time: where the chunks fall changes nothing
(repeated rows, rejected rows and suppressed addresses are found and reported the same), and a
fatal error in a later chunk still leaves nothing written. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from engage.addresses import mailbox
from engage.contacts import core, importer, life
from engage.contacts.csvfile import MAX_LINE, ImportFileError
from engage.contacts.identity import address_hashes, email_hashes
from engage.contacts.importer import Options, import_file
from engage.store import Store, open_url
from engage.store.schema import consents, contact_tags, contacts, imports, suppressions, tags

WORDING = "Yes, please send me news by email"

# Line numbers are the file's: line 1 names the columns.
FILE = (
    "email,name,tags\n"
    "pre@example.org,Pre Updated,x\n"  # 2: known before the import: updated
    "ann@example.org,Ann,a\n"  # 3: new
    "bad-address,Bob,\n"  # 4: rejected
    "ann@EXAMPLE.org,Ann again,b\n"  # 5: line 3 again
    "gone@example.org,Gone,\n"  # 6: suppressed: skipped
    "Cat@example.org,Cat,a\n"  # 7: new
    "gone@EXAMPLE.ORG,Gone again,\n"  # 8: line 6 again
    "cat@example.org,Cat again,\n"  # 9: line 7 again, spelled otherwise
    "pre@example.org,Pre again,\n"  # 10: line 2 again
    "dan@example.org,Dan,a;b\n"  # 11: new
)


@pytest.fixture
def store(db_url: str) -> Store:
    opened = open_url(db_url)
    with opened.begin() as c:
        consent = core.ConsentGiven(method="manual", source="phone", actor="bo")
        life.add(c, "pre@example.org", consent, name="Pre")
        life.suppress(c, "gone@example.org", "bounced", "test")
    yield opened
    opened.engine.dispose()


def run_import(store: Store, path: Path) -> importer.Report:
    return import_file(store, path, Options(wording=WORDING, actor="alice"), shown=path.name)


def snapshot(store: Store) -> dict[str, list]:
    with store.connect() as c:
        return {
            t.name: [tuple(r) for r in c.execute(sa.select(t).order_by(*t.primary_key.columns))]
            for t in (contacts, tags, contact_tags, consents, suppressions, imports)
        }


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_where_the_chunks_fall_changes_nothing(store, tmp_path, monkeypatch, size) -> None:
    """Size 2 puts the rejected row 4 first in the second chunk; size 3 puts row 5, a repeat
    of row 3, there; size 1000 is the whole file in one chunk."""
    monkeypatch.setattr(importer, "CHUNK", size)
    path = tmp_path / "people.csv"
    path.write_text(FILE, encoding="utf-8")
    report = run_import(store, path)
    assert (report.added, report.updated, report.unchanged, report.consents) == (3, 1, 0, 4)
    assert [(r.line, r.errors) for r in report.rejected] == [
        (
            4,
            [
                (
                    "email",
                    "'bad-address' is not a valid email address: An email address must have an @-sign",
                )
            ],
        )
    ]
    assert report.duplicates == [
        (5, 3, "ann@example.org"),
        (8, 6, "gone@example.org"),
        (9, 7, "cat@example.org"),
        (10, 2, "pre@example.org"),
    ]
    assert report.skipped == [
        (6, "gone@example.org is bounced; an import never subscribes it again")
    ]
    with store.connect() as c:
        listed = [(x.email, x.name, x.status, x.tags) for x in core.listing(c)]
        assert listed == [
            ("Cat@example.org", "Cat", "subscribed", ["a"]),
            ("ann@example.org", "Ann", "subscribed", ["a"]),
            ("dan@example.org", "Dan", "subscribed", ["a", "b"]),
            ("pre@example.org", "Pre Updated", "subscribed", ["x"]),
        ]
        given = c.execute(
            sa.select(contacts.c.email, consents.c.wording, consents.c.method)
            .join(contacts, contacts.c.id == consents.c.contact_id)
            .order_by(contacts.c.email, consents.c.id)
        ).all()
        assert [tuple(g) for g in given] == [
            ("Cat@example.org", WORDING, "import"),
            ("ann@example.org", WORDING, "import"),
            ("dan@example.org", WORDING, "import"),
            ("pre@example.org", "", "manual"),
            ("pre@example.org", WORDING, "import"),
        ]
        counts = c.execute(sa.select(imports.c.added, imports.c.updated, imports.c.skipped))
        assert [tuple(r) for r in counts] == [(3, 1, 1)]
    again = run_import(store, path)  # the same file again changes nothing
    assert (again.added, again.updated, again.unchanged, again.consents) == (0, 0, 4, 0)


PAD = "n" * 9_000  # rows 2 and 3 fill two of the reader's 8 KiB pieces, so row 4 is read later


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            "x" * (MAX_LINE + 1) + "\n",
            f"people.csv, line 4: the line is longer than {MAX_LINE:,} characters, so this "
            "does not look like a CSV of contacts. Check that it is the right file. Nothing was "
            "imported.",
        ),
        (
            f"jo@example.org,{PAD}Jos\udce9,\n",
            "people.csv, line 4: the file is not UTF-8 text. Save it as UTF-8 (in Excel: Save "
            "As, then 'CSV UTF-8') and import it again.",
        ),
    ],
    ids=["too long", "not UTF-8"],
)
def test_a_fatal_error_in_the_second_chunk_writes_nothing(
    store, tmp_path, monkeypatch, bad, message
) -> None:
    """Rows 2 and 3 are the first chunk, written before row 4 is read; the error on row 4
    takes them back out."""
    monkeypatch.setattr(importer, "CHUNK", 2)
    path = tmp_path / "people.csv"
    text = f"email,name,tags\nann@example.org,{PAD},a\nben@example.org,{PAD},b\n" + bad
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    before = snapshot(store)
    written = []

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def seen(connection, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("INSERT INTO contacts "):
            written.append(len(parameters) if executemany else 1)

    with pytest.raises(ImportFileError) as caught:
        run_import(store, path)
    assert str(caught.value) == message
    assert written  # the first chunk went in before the error...
    assert snapshot(store) == before  # ...and came out again


@pytest.mark.parametrize(
    "written",
    [
        "sam@example.org",
        "Sam.Case@EXAMPLE.org",
        "user@bücher.de",
        "user@xn--bcher-kva.de",
        "Zoë@example.org",
        "İlker@örnek.com.tr",
    ],
)
def test_an_address_read_once_has_the_hashes_of_every_spelling(written) -> None:
    """The import checks the suppression list with the address it read from the file; that
    finds the same entries as reading the address again would."""
    address = mailbox(written)
    assert address_hashes(address) == email_hashes(address.email)
    assert address_hashes(address, written) == email_hashes(written)
