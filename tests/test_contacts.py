"""Contacts, consent, suppression and CSV import: the library on SQLite and PostgreSQL,
and the commands on the workspace's own SQLite file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from engage.contacts import core, life, records
from engage.contacts.csvfile import ImportFileError
from engage.contacts.identity import email_hash
from engage.contacts.importer import Options, import_file
from engage.store import Store, open_url
from engage.store.schema import consents, contact_tags, contacts, imports, suppressions, tags

WORDING = "Yes, please send me news by email"


@pytest.fixture
def store(db_url: str) -> Store:
    opened = open_url(db_url)
    yield opened
    opened.engine.dispose()


def write_csv(tmp_path: Path, text: str, name: str = "people.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def run_import(store: Store, path: Path, **options):
    return import_file(
        store, path, Options(wording=WORDING, actor="alice", **options), shown=path.name
    )


def snapshot(store: Store) -> dict[str, list]:
    with store.connect() as c:
        return {
            t.name: [tuple(r) for r in c.execute(sa.select(t).order_by(*t.primary_key.columns))]
            for t in (contacts, tags, contact_tags, consents, suppressions)
        }


SAMPLE = (
    "email,name,first_name,tags,format,region\n"
    "amira@example.org,Amira Hassan,Amira,newsletter;Contributor,html,Leeds\n"
    "Ben@EXAMPLE.ORG,Ben Okafor,Ben,newsletter,large-print,\n"
    'cara@example.org,"Cara ""CJ"" Jones",Cara,,plain,York\n'
)


# --- Import: the good path -----------------------------------------------------------------


def test_import_adds_contacts_with_consent(store, tmp_path) -> None:
    report = run_import(store, write_csv(tmp_path, SAMPLE), tags=frozenset({"2026"}))
    assert (report.added, report.updated, report.unchanged, report.exit_code) == (3, 0, 0, 0)
    with store.connect() as c:
        found = core.listing(c)
        assert [
            (x.email, x.name, x.first_name, x.format, x.status, x.tags, x.attributes) for x in found
        ] == [
            (
                "Ben@example.org",
                "Ben Okafor",
                "Ben",
                "large-print",
                "subscribed",
                ["2026", "newsletter"],
                {},
            ),
            (
                "amira@example.org",
                "Amira Hassan",
                "Amira",
                "html",
                "subscribed",
                ["2026", "contributor", "newsletter"],
                {"region": "Leeds"},
            ),
            (
                "cara@example.org",
                'Cara "CJ" Jones',
                "Cara",
                "plain",
                "subscribed",
                ["2026"],
                {"region": "York"},
            ),
        ]
        history = core.consent_history(c, found[0].id)
        run = c.execute(sa.select(imports)).one()
    assert [
        (h["action"], h["basis"], h["method"], h["source"], h["wording"], h["actor"])
        for h in history
    ] == [("given", "consent", "import", "people.csv", WORDING, "alice")]
    assert (run.file_name, run.actor, run.added, run.rejected) == ("people.csv", "alice", 3, 0)


def test_reimporting_the_same_file_changes_nothing(store, tmp_path) -> None:
    path = write_csv(tmp_path, SAMPLE)
    run_import(store, path)
    before = snapshot(store)
    report = run_import(store, path)
    assert (report.added, report.updated, report.unchanged) == (0, 0, 3)
    assert snapshot(store) == before


def test_reimporting_without_wording_adds_no_consent_records(store, tmp_path) -> None:
    path = write_csv(tmp_path, SAMPLE)
    run_import(store, path)
    before = snapshot(store)
    bare = Options(actor="bo")  # no --consent, the same file and then a copy of it
    report = import_file(store, path, bare, shown=path.name)
    assert (report.added, report.updated, report.unchanged, report.consents) == (0, 0, 3, 0)
    copy = write_csv(tmp_path, SAMPLE, "copy.csv")
    report = import_file(store, copy, bare, shown=copy.name)
    assert (report.added, report.updated, report.unchanged, report.consents) == (0, 0, 3, 0)
    assert snapshot(store) == before


def test_new_wording_or_no_consent_yet_is_recorded(store, tmp_path) -> None:
    path = write_csv(tmp_path, SAMPLE)
    run_import(store, path)
    with store.begin() as c:  # someone who wrote to us: a contact with no consent at all
        c.execute(
            contacts.insert().values(
                email="dan@example.org",
                status="pending",
                created_at=core.now(),
                updated_at=core.now(),
            )
        )
    newer = "Yes, send me news and stories."
    report = import_file(store, path, Options(wording=newer, actor="bo"), shown=path.name)
    assert (report.updated, report.consents) == (3, 3)
    dan = write_csv(tmp_path, "email\ndan@example.org\n", "dan.csv")
    report = import_file(store, dan, Options(actor="bo"), shown=dan.name)
    assert (report.updated, report.consents) == (1, 1)
    with store.connect() as c:
        amira = core.get(c, "amira@example.org")
        found = core.get(c, "dan@example.org")
        assert [h["wording"] for h in core.consent_history(c, amira.id)] == [WORDING, newer]
        assert [(h["source"], h["wording"]) for h in core.consent_history(c, found.id)] == [
            ("dan.csv", "")
        ]
    assert found.status == "subscribed"


def test_domain_matched_without_case_and_local_part_kept(store, tmp_path) -> None:
    run_import(store, write_csv(tmp_path, "email,name\nSam@Example.ORG,Sam\n"))
    report = run_import(
        store, write_csv(tmp_path, "email,name\nSam@example.org,Sam\n", "again.csv")
    )
    assert (report.added, report.unchanged) == (0, 0)
    assert report.updated == 1  # a new consent record for the new source
    with store.connect() as c:
        assert [x.email for x in core.listing(c)] == ["Sam@example.org"]


def test_an_update_changes_only_what_the_file_says(store, tmp_path) -> None:
    run_import(store, write_csv(tmp_path, SAMPLE))
    changed = "email,name,format,tags\namira@example.org,,large-print,walking\n"
    report = run_import(store, write_csv(tmp_path, changed, "change.csv"), source="people.csv")
    assert (report.added, report.updated) == (0, 1)
    with store.connect() as c:
        amira = core.get(c, "amira@example.org")
        assert len(core.consent_history(c, amira.id)) == 1
    assert (amira.name, amira.format, amira.tags, amira.attributes) == (
        "Amira Hassan",
        "large-print",
        ["contributor", "newsletter", "walking"],
        {"region": "Leeds"},
    )


def test_repeated_rows_in_one_file(store, tmp_path) -> None:
    text = "email,name\nsam@example.org,Sam\nann@example.org,Ann\nsam@EXAMPLE.org,Sam again\n"
    report = run_import(store, write_csv(tmp_path, text))
    assert report.added == 2
    assert report.duplicates == [(4, 2, "sam@example.org")]
    with store.connect() as c:
        assert core.get(c, "sam@example.org").name == "Sam"


@pytest.mark.parametrize(
    "text",
    [
        "email;name;tags\nsam@example.org;Sam;a;b\n".replace(";a;b", ';"a;b"'),
        "Email Address,Full-Name,TAGS\nsam@example.org,Sam,a;b\n",
    ],
)
def test_semicolons_and_loose_headers(store, tmp_path, text) -> None:
    report = run_import(store, write_csv(tmp_path, text, bom=True))
    assert report.added == 1 and not report.rejected
    with store.connect() as c:
        sam = core.get(c, "sam@example.org")
    assert (sam.name, sam.tags) == ("Sam", ["a", "b"])


def test_quoted_newlines_keep_line_numbers(store, tmp_path) -> None:
    text = (
        "email,name,notes\n"
        'ann@example.org,Ann,"line one\nline two"\n'
        "bad-address,Bob,x\n"
        'cat@example.org,Cat,"a\n\nb"\n'
        "dan@example.org,Dan,x,extra\n"
    )
    report = run_import(store, write_csv(tmp_path, text))
    assert report.added == 2
    assert [(r.line, r.errors) for r in report.rejected] == [
        (
            4,
            [
                (
                    "email",
                    "'bad-address' is not a valid email address: An email address must have an @-sign",
                )
            ],
        ),
        (8, [(None, "4 values, but the first line names 3 columns")]),
    ]
    with store.connect() as c:
        assert core.get(c, "ann@example.org").attributes == {"notes": "line one\nline two"}


def test_rejected_rows_are_reported_and_the_rest_go_in(store, tmp_path) -> None:
    text = (
        "email,name,format\n"
        "ok@example.org,Ok,html\n"
        ",No Address,html\n"
        "big@example.org,Big,huge\n"
        "two@@example.org,Two,braille\n"
    )
    report = run_import(store, write_csv(tmp_path, text))
    assert (report.added, report.exit_code) == (1, 3)
    assert [(r.line, r.errors) for r in report.rejected] == [
        (3, [("email", "the email address is empty")]),
        (
            4,
            [
                (
                    "format",
                    "'huge' is not a format engage knows; use html, plain, large-print or easy-read",
                )
            ],
        ),
        (
            5,
            [
                (
                    "email",
                    "'two@@example.org' is not a valid email address: The part after the @-sign contains invalid characters: '@'",
                ),
                (
                    "format",
                    "'braille' is not a format engage knows; use html, plain, large-print or easy-read",
                ),
            ],
        ),
    ]


def test_suppressed_addresses_are_never_resubscribed(store, tmp_path) -> None:
    path = write_csv(tmp_path, SAMPLE)
    run_import(store, path)
    with store.begin() as c:
        life.unsubscribe(c, "amira@example.org", method="manual", source="test", by="test-runner")
        life.erase(c, "cara@example.org")
        life.suppress(c, "new@example.org", "bounced", "test")
    text = SAMPLE + "new@example.org,New,,,,\n"
    report = run_import(store, write_csv(tmp_path, text, "again.csv"))
    assert report.skipped == [
        (2, "amira@example.org is unsubscribed; an import never subscribes it again"),
        (4, "cara@example.org is erased; an import never subscribes it again"),
        (5, "new@example.org is bounced; an import never subscribes it again"),
    ]
    assert (report.added, report.exit_code) == (0, 0)
    with store.connect() as c:
        assert core.get(c, "amira@example.org").status == "unsubscribed"
        assert core.find(c, "cara@example.org") is None
        assert core.find(c, "new@example.org") is None


def test_dry_run_saves_nothing(store, tmp_path) -> None:
    before = snapshot(store)
    report = run_import(store, write_csv(tmp_path, SAMPLE), dry_run=True)
    assert report.added == 3
    assert snapshot(store) == before
    with store.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(imports)).scalar() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "people.csv is empty. The first line must name the columns, like: email,name,tags"),
        (
            b"\n\n",
            "people.csv is empty. The first line must name the columns, like: email,name,tags",
        ),
        (
            b"name,mail\nSam,sam@example.org\n",
            "people.csv, line 1: there is no email column. The first line must name the columns, "
            "like: email,name,tags. The columns found were: name, mail.",
        ),
        (b"email,name,Email\n", "people.csv, line 1: the column 'Email' appears twice."),
        (b"email,,name\n", "people.csv, line 1: column 2 has no name on the first line."),
        (
            b"email,name\nsam@example.org,Sam\njo@example.org,Jos\xe9\n",
            "people.csv, line 3: the file is not UTF-8 text. Save it as UTF-8 (in Excel: Save As, "
            "then 'CSV UTF-8') and import it again.",
        ),
    ],
)
def test_fatal_file_errors_import_nothing(store, tmp_path, content, message) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(content)
    before = snapshot(store)
    with pytest.raises(ImportFileError) as caught:
        run_import(store, path)
    assert str(caught.value) == message
    assert snapshot(store) == before


def test_not_utf8_far_into_a_big_file_imports_nothing(store, tmp_path) -> None:
    rows = "".join(f"p{i}@example.org,Person {i}\n" for i in range(3000))
    path = tmp_path / "people.csv"
    path.write_bytes(b"email,name\n" + rows.encode() + b"late@example.org,Ren\xe9\n")
    with pytest.raises(ImportFileError) as caught:
        run_import(store, path)
    assert str(caught.value).startswith("people.csv, line 3002: the file is not UTF-8 text.")
    with store.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(contacts)).scalar() == 0


# --- One contact at a time -----------------------------------------------------------------


def test_add_unsubscribe_export_erase(store) -> None:
    consent = core.ConsentGiven(method="manual", source="phone call", wording=WORDING, actor="bo")
    with store.begin() as c:
        added = life.add(
            c,
            "Dee@Example.org",
            consent,
            name="<b>Dee</b>",
            format="plain",
            tag_names={"newsletter"},
        )
    assert (added.email, added.name, added.status, added.tags) == (
        "Dee@example.org",
        "<b>Dee</b>",
        "subscribed",
        ["newsletter"],
    )
    with store.begin() as c:
        life.unsubscribe(
            c, "dee@example.org", method="manual", source="phone call", by="test-runner"
        )
        data = records.export(c, "Dee@example.org")
    assert data["contact"]["status"] == "unsubscribed"
    assert [(r["action"], r["source"]) for r in data["consents"]] == [
        ("given", "phone call"),
        ("withdrawn", "phone call"),
    ]
    assert (data["suppression"]["reason"], data["suppression"]["source"]) == (
        "unsubscribed",
        "phone call",
    )
    with store.begin() as c:
        life.erase(c, "Dee@example.org")
    with store.connect() as c:
        assert core.find(c, "Dee@example.org") is None
        rows = c.execute(sa.select(suppressions)).all()
        assert c.execute(sa.select(sa.func.count()).select_from(consents)).scalar() == 0
    assert [(r.email, r.reason, r.email_hash) for r in rows] == [
        (None, "erased", email_hash("dee@example.org"))
    ]
    with store.begin() as c, pytest.raises(core.ContactError) as caught:
        life.add(c, "DEE@example.org", consent)
    assert str(caught.value).startswith("DEE@example.org is on the suppression list (erased on ")
    assert str(caught.value).endswith("); engage never subscribes it again.")


def test_add_refuses_a_bad_or_known_address(store) -> None:
    consent = core.ConsentGiven()
    with store.begin() as c:
        life.add(c, "eve@example.org", consent)
    with store.begin() as c, pytest.raises(core.ContactError) as caught:
        life.add(c, "eve@EXAMPLE.org", consent)
    assert (
        str(caught.value)
        == "eve@example.org is already a contact. See it with `engage contacts show`."
    )
    with store.begin() as c, pytest.raises(core.ContactError) as caught:
        life.add(c, "eve", consent)
    assert str(caught.value) == (
        "'eve' is not a valid email address: An email address must have an @-sign."
    )


# --- The commands --------------------------------------------------------------------------


def test_import_command_output_and_exit_codes(project, tmp_path) -> None:
    path = write_csv(tmp_path, SAMPLE + "bad,Bad,,,,\n=cmd@example.org,=HYPERLINK(1),,,,\n")
    rejects = tmp_path / "rejects.csv"
    result = project.run(
        "contacts", "import", str(path), "--consent", WORDING, "--rejects", str(rejects)
    )
    assert result.exit_code == 3
    assert result.output == (
        f"Added 4 new contacts, updated 0, 0 already up to date ({path}).\n"
        "Rejected 1 row:\n"
        "  line 5, column email: 'bad' is not a valid email address: An email address must "
        "have an @-sign.\n"
        f"Wrote the rejected rows to {rejects}. Fix them there, then import that file.\n"
    )
    with rejects.open(newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [
            ["email", "name", "first_name", "tags", "format", "region", "engage_error"],
            [
                "bad",
                "Bad",
                "",
                "",
                "",
                "",
                "line 5, column email: 'bad' is not a valid email address: An email address must have an @-sign",
            ],
        ]
    again = project.run("contacts", "import", str(path), "--consent", WORDING)
    assert again.exit_code == 3
    assert again.output.startswith(
        f"Added 0 new contacts, updated 0, 4 already up to date ({path}).\n"
    )


def test_importing_or_adding_again_without_consent_changes_nothing(project, tmp_path) -> None:
    path = write_csv(tmp_path, SAMPLE)
    assert project.run("contacts", "import", str(path), "--consent", WORDING).exit_code == 0
    before = project.run("contacts", "export", "amira@example.org").output
    again = project.run("contacts", "import", str(path))
    assert (again.exit_code, again.output) == (
        0,
        f"Added 0 new contacts, updated 0, 3 already up to date ({path}).\n",
    )
    added = project.run("contacts", "add", "Amira@example.org", "--source", "phone call")
    assert (added.exit_code, added.stderr) == (
        1,
        "Error: Amira@example.org is already a contact, written amira@example.org. See it with "
        "`engage contacts show`.\n",
    )
    assert project.run("contacts", "export", "amira@example.org").output == before


def test_import_command_fatal_error(project, tmp_path) -> None:
    result = project.run("contacts", "import", str(write_csv(tmp_path, "name\nSam\n")))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path}/people.csv, line 1: there is no email column. The first line must "
        "name the columns, like: email,name,tags. The columns found were: name.\n"
    )
    missing = project.run("contacts", "import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1
    assert missing.stderr == f"Error: Cannot read {tmp_path}/nope.csv: No such file or directory.\n"


def test_import_dry_run_command(project, tmp_path) -> None:
    result = project.run("contacts", "import", str(write_csv(tmp_path, SAMPLE)), "--dry-run")
    assert result.exit_code == 0
    assert result.output == (
        f"Would add 3 new contacts, would update 0, 0 already up to date ({tmp_path}/people.csv).\n"
        "Dry run: nothing was saved.\n"
        "Note: no --consent wording was given, so the consent records for 3 people have no "
        "wording.\n"
    )
    assert project.run("contacts", "list").output == "No contacts match.\n"


def test_soft_opt_in_needs_a_registered_charity(project, tmp_path) -> None:
    project.replace("engage.toml", 'charity_number = "1234567"\n', "")
    result = project.run("contacts", "add", "x@example.org", "--basis", "charity-soft-opt-in")
    assert result.exit_code == 2
    assert (
        "The charity soft opt-in is only for registered charities: set charity_number in"
        in result.output
    )


def test_contacts_commands(project) -> None:
    assert project.run(
        "contacts",
        "add",
        "sam@example.org",
        "--name",
        "Sam Jones",
        "--first-name",
        "Sam",
        "--tag",
        "Newsletter",
        "--format",
        "large-print",
        "--consent",
        WORDING,
    ).output == ("Added sam@example.org (subscribed).\n")
    assert (
        project.run("contacts", "add", "=2+3@example.org", "--name", '=HYPERLINK("x")').exit_code
        == 0
    )
    listed = project.run("contacts", "list")
    assert listed.output == (
        "EMAIL             NAME             STATUS      FORMAT       TAGS\n"
        '=2+3@example.org  =HYPERLINK("x")  subscribed  html\n'
        "sam@example.org   Sam Jones        subscribed  large-print  newsletter\n"
    )
    as_csv = project.run("contacts", "list", "--format", "csv")
    assert as_csv.output == (
        "email,name,first_name,status,format,tags\n"
        '\'=2+3@example.org,"\'=HYPERLINK(""x"")",,subscribed,html,\n'
        "sam@example.org,Sam Jones,Sam,subscribed,large-print,newsletter\n"
    )
    as_json = json.loads(
        project.run("contacts", "list", "--tag", "newsletter", "--format", "json").output
    )
    assert [(c["email"], c["name"], c["status"], c["tags"], c["format"]) for c in as_json] == [
        ("sam@example.org", "Sam Jones", "subscribed", ["newsletter"], "large-print")
    ]
    shown = project.run("contacts", "show", "SAM@example.org")
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert lines[:7] == [
        "Sam Jones <sam@example.org>",
        "Status:     subscribed",
        "Format:     large-print",
        "Language:   the organisation's",
        "Tags:       newsletter",
        "Handles:    none",
        "Attributes: none",
    ]
    assert lines[9].endswith(f'given (consent), manual, source manual, by test-runner: "{WORDING}"')
    assert lines[10] == "Suppressed: no"
    assert project.run("contacts", "unsubscribe", "sam@example.org").output == (
        "Unsubscribed sam@example.org. They will not get any more emails.\n"
    )
    assert (
        project.run(
            "contacts", "list", "--status", "unsubscribed", "--format", "json"
        ).output.count('"email"')
        == 1
    )
    exported = json.loads(project.run("contacts", "export", "sam@example.org").output)
    assert [r["action"] for r in exported["consents"]] == ["given", "withdrawn"]
    refused = project.run("contacts", "erase", "sam@example.org", input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    erased = project.run("contacts", "erase", "sam@example.org", "--yes")
    assert (
        erased.output
        == "Erased sam@example.org. Only a hash is kept, so they are never mailed again.\n"
        "No old copy of their records is left in the database's files.\n"
    )
    gone = project.run("contacts", "show", "sam@example.org")
    assert (gone.exit_code, gone.stderr) == (
        1,
        "Error: No contact with the address sam@example.org.\n",
    )
    again = project.run("contacts", "add", "sam@example.org")
    assert again.exit_code == 1
    assert "is on the suppression list (erased on" in again.stderr


def test_contacts_list_by_audience(project) -> None:
    project.run("contacts", "import", "samples/contacts.csv")
    result = project.run("contacts", "list", "--audience", "contributors", "--format", "json")
    assert result.exit_code == 0
    assert [c["email"] for c in json.loads(result.output)] == [
        "amira.hassan@example.org",
        "dev.patel@example.org",
        "femi.adeyemi@example.org",
        "rhys.morgan@example.org",
    ]


def test_control_characters_never_reach_the_terminal(project) -> None:
    project.run("contacts", "add", "esc@example.org", "--name", "Evil\x1b[31mRed")
    result = project.run("contacts", "show", "esc@example.org")
    assert "\x1b" not in result.output
    # The store keeps no control characters (store/guard.py): the escape is taken out.
    assert result.output.splitlines()[0] == "Evil[31mRed <esc@example.org>"
