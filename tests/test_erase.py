"""Erasure that erases: after `engage contacts erase`, nothing of the person is left in the
database's files (on SQLite the file, its WAL and shared-memory files; on PostgreSQL every
table's and index's file after a checkpoint) or in the outbox: not their address in any
spelling, not their name, not the phone number they wrote in a reply."""

from __future__ import annotations

import contextlib
import email
import email.policy
import quopri
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from engage import store as store_module
from engage.contacts.traces import PERSONAL_TABLES
from engage.providers import outbox
from engage.store import open_url, scrub

KEY = "erase-test-key"
ADDRESS = "rhiannon.okoro@example.org"
NAME = "Rhiannon Okoro"
PHONE = "07700 900461"
# What must not be found anywhere, compared without case: every spelling of the address is one
# of these with its letters in some case, or with its domain in ASCII form (the same here).
CALL = "erase-share-your-story"
TRACES = (ADDRESS, NAME, "Okoro", PHONE, PHONE.replace(" ", ""))


@pytest.fixture
def people(project, monkeypatch, clock, db_url):
    """Rhiannon and Ben got the newsletter and the call for stories; Rhiannon replied with her
    phone number, and her story has had a thank-you, an update and a draft."""
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    csv = project.write(
        "people.csv",
        "email,name,first_name,tags\n"
        f"{ADDRESS.upper()},{NAME},Rhiannon,newsletter;contributor\n"
        "ben.okafor@example.org,Ben Okafor,Ben,newsletter;contributor\n",
    )
    assert project.run("contacts", "import", str(csv)).exit_code == 0
    # Names of their own: PostgreSQL's send locks are for the whole database, which other tests
    # share at the same time.
    for campaign, copy in (("doing-with-not-doing-to", "erase-news"), ("share-your-story", CALL)):
        project.write(f"campaigns/{copy}.md", project.read(f"campaigns/{campaign}.md"))
        sent = project.run("send", copy, "--yes", "--now")
        assert sent.exit_code == 0, sent.output
    assert project.run("replies", "import", str(_reply(project))).exit_code == 0
    assert project.run("stories", "set", "1", "in-progress").exit_code == 0
    draft = project.write("draft-1.md", "# Swimming again\n\nShe swims every week now.\n")
    assert project.run("stories", "draft", "1", str(draft)).exit_code == 0
    project.url = db_url
    return project


def _reply(project) -> Path:
    folder = project.root / "outbox" / CALL
    [path] = [p for p in folder.glob("*.eml") if "rhiannon" in p.name.lower()]
    call = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    reply = email.message.EmailMessage()
    reply["From"] = f"{NAME} <{ADDRESS}>"
    reply["To"] = str(call["Reply-To"])
    reply["Subject"] = "Re: " + str(call["Subject"])
    reply["Date"] = "Tue, 01 Dec 2026 09:30:00 +0000"
    reply["Message-ID"] = "<rhiannon-yes@mail.example.net>"
    reply["In-Reply-To"] = str(call["Message-ID"])
    reply.set_content(
        f"Yes please. I started swimming again this year.\nRing me on {PHONE}.\n\n{NAME}\n"
    )
    saved = project.root.parent / "reply.eml"  # outside the workspace: the test's own copy
    saved.write_bytes(bytes(reply))
    return saved


def outbox_files(project) -> dict[str, bytes]:
    return {
        str(path.relative_to(project.root)): path.read_bytes()
        for path in sorted((project.root / "outbox").rglob("*"))
        if path.is_file()
    }


def found_in(data: bytes) -> list[str]:
    """The traces in some bytes, as they are and with quoted-printable undone."""
    texts = (data.lower(), quopri.decodestring(data).lower())
    return [t for t in TRACES if any(t.lower().encode() in text for text in texts)]


def database_files(url: str, root: Path) -> dict[str, bytes]:
    """Every file the database keeps its data in, as it is on disk."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        main = Path(parsed.database)
        return {
            path.name: path.read_bytes()
            for path in (main, Path(f"{main}-wal"), Path(f"{main}-shm"))
            if path.exists()
        }
    store = open_url(url, upgrade_new=False)
    try:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("CHECKPOINT"))  # what is in memory is written to the files
            relations = c.execute(
                sa.text(
                    "SELECT c.oid::regclass::text, pg_relation_filepath(c.oid), "
                    "pg_relation_size(c.oid) FROM pg_class c "
                    "WHERE c.relnamespace = current_schema()::regnamespace "
                    "   OR c.oid IN (SELECT reltoastrelid FROM pg_class "
                    "                WHERE relnamespace = current_schema()::regnamespace) "
                    "   OR c.oid IN (SELECT i.indexrelid FROM pg_index i JOIN pg_class t "
                    "                ON t.oid = i.indrelid AND t.oid IN (SELECT reltoastrelid "
                    "                FROM pg_class WHERE relnamespace = "
                    "                current_schema()::regnamespace))"
                )
            ).all()
            files = {}
            read = sa.text("SELECT pg_read_binary_file(:p, 0, :n, true)")
            for name, path, size in relations:
                if path is not None and size:
                    files[name] = c.execute(read, {"p": path, "n": size}).scalar() or b""
    finally:
        store.engine.dispose()
    assert any(name.startswith("pg_toast") for name in files)  # the query found those too
    return files


def traces(project) -> dict[str, list[str]]:
    places = {**outbox_files(project), **database_files(project.url, project.root)}
    return {place: hits for place, data in places.items() if (hits := found_in(data))}


def test_before_erasure_the_person_is_in_the_database_and_the_outbox(people) -> None:
    """The check below can fail: the traces are there to be found before erasure."""
    found = traces(people)
    assert found_in(b"RING ME ON 07700900461") == [PHONE.replace(" ", "")]
    outbox = {place for place in found if place.startswith("outbox")}
    assert len(outbox) == 5  # newsletter, call for stories, thank-you, update, draft
    assert {hit for hits in found.values() for hit in hits} == set(TRACES) - {"07700900461"}


def test_erase_leaves_no_trace_in_the_database_files_or_the_outbox(people) -> None:
    kept_before = {p for p in outbox_files(people) if "ben.okafor" in p}
    erased = people.run("contacts", "erase", "Rhiannon.Okoro@EXAMPLE.org", "--yes")
    assert (erased.exit_code, erased.output) == (
        0,
        "Erased Rhiannon.Okoro@EXAMPLE.org. Only a hash is kept, so they are never mailed "
        "again.\n"
        "Removed 5 emails to or about them from the outbox.\n"
        "No old copy of their records is left in the database's files.\n",
    )
    assert traces(people) == {}
    # Nobody else's mail is touched.
    assert {p for p in outbox_files(people) if "ben.okafor" in p} == kept_before
    assert len(kept_before) == 2
    # Nothing about them is shown afterwards.
    assert people.run("stories", "list").output == "No stories match.\n"
    assert "Okoro" not in people.run("replies", "list").output
    again = people.run("contacts", "erase", ADDRESS, "--yes")
    assert (again.exit_code, again.output) == (
        1,
        f"Error: No contact with the address {ADDRESS}.\n",
    )


def test_erase_clears_what_was_deleted_before_secure_delete_was_on(people) -> None:
    """A database written before engage turned secure_delete on (or by another program) keeps
    old copies of changed rows in its free space: erasure clears those too."""
    if not people.url.startswith("sqlite"):
        pytest.skip("secure_delete is SQLite's")
    path = sa.make_url(people.url).database
    marker = f"{NAME} list.csv"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as old:
        old.execute("PRAGMA secure_delete=OFF")
        old.execute(
            "INSERT INTO imports VALUES (99, ?, 'team', '2026-11-30', 0, 0, 0, 0, 0)", (marker,)
        )
        old.execute("DELETE FROM imports WHERE file_name = ?", (marker,))
        old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert marker.encode() in Path(path).read_bytes()  # deleted, but there in free space
    assert people.run("contacts", "erase", ADDRESS, "--yes").exit_code == 0
    assert traces(people) == {}


def test_the_outbox_search_finds_every_spelling_and_only_that_person(tmp_path) -> None:
    def mail(relative: str, text: str) -> Path:
        path = tmp_path / "outbox" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        return path

    theirs = [
        mail("news/0000001-x.eml", "To: Ann@EXAMPLE.org\r\n\r\nHello"),
        mail(
            "system/story-team-approved/1-team.eml",
            "To: news@example.org\r\n\r\nfrom ann@ex=\r\nample.org.",
        ),
        mail("system/confirm/2-x.eml", "To: ann@b=C3=BCcher.de\r\n"),
        mail("news/.0000009-x.eml.tmp", "To: ann@example.org\r\n"),
        mail("news/0000002-other.eml", "Named by its delivery, nothing inside"),
    ]
    kept = [
        mail("news/0000003-joann.eml", "To: joann@example.org, ann@example.org.uk\r\n\r\nHi\r\n"),
        mail("news/0000004-anne.eml", "To: ann.e@example.org\r\n\r\nann@example.orgs\r\n"),
    ]
    spellings = ["ann@example.org", "ann@bücher.de", "ann@xn--bcher-kva.de"]
    named = ["outbox/news/0000002-other.eml", "outbox/../engage.toml"]
    (tmp_path / "engage.toml").write_text("")
    assert outbox.remove_mail_for(tmp_path, spellings, named) == len(theirs)
    assert [p.exists() for p in theirs + kept] == [False] * len(theirs) + [True] * len(kept)
    assert (tmp_path / "engage.toml").exists()  # only ever files in the outbox
    assert not (tmp_path / "outbox" / "system" / "confirm").exists()  # emptied folders go
    assert outbox.remove_mail_for(tmp_path / "nowhere", spellings) == 0


def test_a_log_another_program_holds_open_is_reported(people, monkeypatch) -> None:
    if not people.url.startswith("sqlite"):
        pytest.skip("the write-ahead log here is SQLite's")
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    path = sa.make_url(people.url).database
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM contacts").fetchone()  # reads, and keeps reading
        erased = people.run("contacts", "erase", ADDRESS, "--yes")
    assert (erased.exit_code, erased.stdout, erased.stderr) == (
        1,
        "Erased rhiannon.okoro@example.org. Only a hash is kept, so they are never mailed "
        "again.\nRemoved 5 emails to or about them from the outbox.\n",
        f"Problem: another program has the database {path} open, so its log (the -wal file "
        "beside it) may still hold old copies of the erased records. SQLite clears it when "
        "the last program using the database closes it: stop engage serve or the web app for "
        "a moment.\n",
    )


def test_a_transaction_older_than_the_erasure_is_waited_for_then_reported(people, monkeypatch):
    """PostgreSQL keeps a deleted row while any transaction could still see it."""
    if people.url.startswith("sqlite"):
        pytest.skip("PostgreSQL's")
    monkeypatch.setattr(scrub, "WAIT_SECONDS", 0.5)
    store = open_url(people.url, upgrade_new=False)
    try:
        with store.engine.connect() as reader:
            reader.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            assert reader.execute(sa.text("SELECT count(*) FROM contacts")).scalar() == 2
            erased = people.run("contacts", "erase", ADDRESS, "--yes")
            # It still sees her: the old copy is kept for it.
            assert reader.execute(sa.text("SELECT count(*) FROM contacts")).scalar() == 2
        kept = traces(people)
        assert kept and all(not place.startswith("outbox") for place in kept)
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for table in PERSONAL_TABLES:  # what the message says to run
                c.execute(sa.text(f'VACUUM FULL "{table}"'))
    finally:
        store.engine.dispose()
    assert (erased.exit_code, erased.stdout) == (
        1,
        "Erased rhiannon.okoro@example.org. Only a hash is kept, so they are never mailed "
        "again.\nRemoved 5 emails to or about them from the outbox.\n",
    )
    start, _, end = erased.stderr.partition(" is still open (process ")
    assert start == (
        "Problem: PostgreSQL still keeps old copies of the erased records: a transaction that "
        "began before the erasure"
    )
    tables = " ".join(f'VACUUM FULL "{table}";' for table in PERSONAL_TABLES)
    assert end.endswith(
        ". When it has ended, run this in psql as the owner of the tables: " + tables + "\n"
    )
    assert traces(people) == {}  # once it has ended, those clear them
