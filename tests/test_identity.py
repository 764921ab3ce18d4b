"""One mailbox, one contact: every spelling of an address is the same person on every way in
(import, `contacts add`, sign-up, replies, webhooks, the suppression list), and migration 0009
merges the duplicates an older engage made. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engage.contacts import core, life
from engage.contacts.identity import email_hash
from engage.models import Event
from engage.replies.match import match
from engage.store import Store, head_revision, make_engine, open_url, upgrade
from engage.store.schema import contacts, metadata, suppressions
from engage.subscriptions import sign_up
from engage.tokens import Signer
from engage.webhooks.store import record_events

from .test_sending import SLUG, outbox

KEY = "identity-test-key"
WORDING = "Yes, please send me news by email"
LONG = "a" * 65 + "@example.org"
WIDE = "é" * 33 + "@example.org"  # 33 letters, but 66 bytes as sent: RFC 5321 counts bytes


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def people(project, db_url, monkeypatch, clock):
    """The example workspace on this test's database."""
    monkeypatch.setenv("ENGAGE_DATABASE_URL", db_url)
    monkeypatch.setenv("ENGAGE_SECRET_KEY", KEY)
    return project


@pytest.fixture
def store(db_url: str) -> Store:
    opened = open_url(db_url)
    yield opened
    opened.engine.dispose()


def add(store: Store, email: str, name: str = "") -> core.Contact:
    with store.begin() as c:
        return life.add(c, email, core.ConsentGiven(wording=WORDING), name=name)


def count(store: Store) -> int:
    with store.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(contacts)).scalar()


# --- The identity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spellings", "key"),
    [
        (
            ["Sam.Case@example.org", "sam.case@EXAMPLE.ORG", " SAM.CASE@Example.org "],
            "sam.case@example.org",
        ),
        (["user@bücher.de", "USER@xn--bcher-kva.de", "User@BÜCHER.DE"], "user@xn--bcher-kva.de"),
        (["José@example.org", "JOSÉ@Example.ORG"], "josé@example.org"),
        (["straße@example.org", "STRASSE@example.org"], "strasse@example.org"),
    ],
)
def test_every_spelling_of_a_mailbox_has_one_identity(spellings, key) -> None:
    assert {core.identity(s) for s in spellings} == {key}
    assert len({email_hash(s) for s in spellings}) == 1


@pytest.mark.parametrize(
    ("written", "shown", "sent_to"),
    [
        ("Sam.Case@EXAMPLE.org", "Sam.Case@example.org", "Sam.Case@example.org"),
        ("User@BÜCHER.DE", "User@bücher.de", "User@xn--bcher-kva.de"),
        ("user@XN--BCHER-KVA.DE", "user@xn--bcher-kva.de", "user@xn--bcher-kva.de"),
        ("José@bücher.de", "José@bücher.de", "José@xn--bcher-kva.de"),
    ],
)
def test_the_spelling_given_is_kept_and_the_domain_is_sent_as_punycode(
    written, shown, sent_to
) -> None:
    assert core.normalise_email(written) == shown
    assert core.ascii_address(written) == sent_to


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        (LONG, "the part before the @ is 65 characters long, and mail servers take at most 64"),
        (
            WIDE,
            "the part before the @ is 66 bytes long (letters like é take 2 bytes each), and mail "
            "servers take at most 64",
        ),
        ("user@xn--zz.de", "The part after the @-sign is not valid IDNA (Invalid A-label)"),
        ("sam@exa mple.org", "The part after the @-sign contains invalid characters: SPACE"),
    ],
)
def test_an_address_that_cannot_be_an_identity_is_refused_with_the_reason(written, reason) -> None:
    with pytest.raises(core.InvalidEmail) as caught:
        core.identity(written)
    assert str(caught.value) == f"'{written}' is not a valid email address: {reason}"


# --- Import, add, send, unsubscribe, erase -----------------------------------------------------

SPELLED_TWICE = (
    "email,name,tags\n"
    "Sam.Case@example.org,Sam Case,newsletter\n"
    "ann@example.org,Ann Lee,newsletter\n"
    "sam.case@EXAMPLE.ORG,Sam again,newsletter\n"
    "user@bücher.de,Ute Berg,newsletter\n"
    "USER@xn--bcher-kva.de,Ute again,newsletter\n"
)


def test_spellings_of_one_mailbox_import_as_one_contact(people) -> None:
    path = people.write("people.csv", SPELLED_TWICE)
    result = people.run("contacts", "import", str(path), "--consent", WORDING)
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Added 3 new contacts, updated 0, 0 already up to date ({path}).\n"
        "Left out 2 repeated rows:\n"
        "  line 4: sam.case@example.org is already on line 2.\n"
        "  line 6: USER@xn--bcher-kva.de is already on line 5.\n"
    )
    listed = json.loads(people.run("contacts", "list", "--format", "json").output)
    assert [(c["email"], c["name"]) for c in listed] == [
        ("Sam.Case@example.org", "Sam Case"),
        ("ann@example.org", "Ann Lee"),
        ("user@bücher.de", "Ute Berg"),
    ]
    later = people.write("later.csv", "email,tags\nSAM.CASE@example.org,walking\n")
    again = people.run("contacts", "import", str(later), "--consent", WORDING)
    assert again.output == f"Added 0 new contacts, updated 1, 0 already up to date ({later}).\n"
    shown = people.run("contacts", "show", "sam.case@example.org").output.splitlines()
    assert shown[:5] == [
        "Sam Case <Sam.Case@example.org>",
        "Status:     subscribed",
        "Format:     html",
        "Language:   the organisation's",
        "Tags:       newsletter, walking",
    ]


def test_a_repeat_in_a_later_chunk_of_a_big_file_is_still_a_repeat(people) -> None:
    rows = "".join(f"p{i}@example.org\n" for i in range(600))
    path = people.write("big.csv", "email\nSam@example.org\n" + rows + "SAM@example.org\n")
    result = people.run("contacts", "import", str(path), "--consent", WORDING)
    assert result.output.splitlines()[1:] == [
        "Left out 1 repeated row:",
        "  line 603: SAM@example.org is already on line 2.",
    ]


def test_each_mailbox_gets_a_campaign_once(people) -> None:
    path = people.write(
        "people.csv",
        "email,name,tags\n"
        "Sam.Case@example.org,Sam Case,newsletter\n"
        "ann@example.org,Ann Lee,newsletter\n"
        "sam.case@EXAMPLE.ORG,Sam again,newsletter\n",
    )
    assert people.run("contacts", "import", str(path)).exit_code == 0
    added = people.run("contacts", "add", "SAM.CASE@example.org", "--tag", "newsletter")
    assert (added.exit_code, added.stderr) == (
        1,
        "Error: SAM.CASE@example.org is already a contact, written Sam.Case@example.org. "
        "See it with `engage contacts show`.\n",
    )
    sent = people.run("send", SLUG, "--yes", "--now")
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.splitlines()[0] == (
        f"{SLUG}: 2 handed to outbox this time. Of 2: 2 sent, 0 failed, 0 skipped, "
        "0 unknown, 0 still to send."
    )
    assert sorted(outbox(people)) == ["Sam.Case@example.org", "ann@example.org"]


def test_unsubscribe_and_erase_by_any_spelling(people) -> None:
    path = people.write("people.csv", SPELLED_TWICE)
    assert people.run("contacts", "import", str(path)).exit_code == 0
    assert people.run("contacts", "unsubscribe", "SAM.CASE@EXAMPLE.ORG").output == (
        "Unsubscribed Sam.Case@example.org. They will not get any more emails.\n"
    )
    erased = people.run("contacts", "erase", "user@XN--BCHER-KVA.DE", "--yes")
    assert erased.output == (
        "Erased user@XN--BCHER-KVA.DE. Only a hash is kept, so they are never mailed again.\n"
        "No old copy of their records is left in the database's files.\n"
    )
    for spelling in ("user@bücher.de", "USER@xn--bcher-kva.de"):
        gone = people.run("contacts", "show", spelling)
        assert (gone.exit_code, gone.stderr) == (
            1,
            f"Error: No contact with the address {spelling}.\n",
        )
    again = people.write("again.csv", "email,tags\nsam.case@example.org,x\nUser@Bücher.DE,x\n")
    result = people.run("contacts", "import", str(again))
    assert result.output.splitlines()[:4] == [
        f"Added 0 new contacts, updated 0, 0 already up to date ({again}).",
        "Skipped 2 addresses on the suppression list:",
        "  line 2: sam.case@example.org is unsubscribed; an import never subscribes it again.",
        "  line 3: User@bücher.de is erased; an import never subscribes it again.",
    ]
    refused = people.run("contacts", "add", "user@XN--BCHER-KVA.de")
    assert (refused.exit_code, refused.stderr) == (
        1,
        "Error: user@xn--bcher-kva.de is on the suppression list (erased on 2026-12-01); "
        "engage never subscribes it again.\n",
    )
    sent = people.run("send", SLUG, "--yes", "--now")
    assert sent.exit_code == 0, sent.output
    assert sorted(outbox(people)) == ["ann@example.org"]


def test_the_suppression_covers_every_spelling(store) -> None:
    add(store, "user@bücher.de", "Ute")
    with store.begin() as c:
        life.erase(c, "USER@xn--bcher-kva.de")
    with store.connect() as c:
        rows = c.execute(sa.select(suppressions.c.email_hash, suppressions.c.email)).all()
        assert [tuple(r) for r in rows] == [(sha("user@xn--bcher-kva.de"), None)]
        for spelling in ("user@bücher.de", "User@BÜCHER.de", "user@xn--bcher-kva.de"):
            assert core.suppression(c, spelling).reason == "erased"
        assert core.suppressed_among(c, ["ann@example.org", "User@Bücher.de"]) == {
            "User@Bücher.de": "erased"
        }


def test_suppressions_made_the_old_way_still_hold(store, clock) -> None:
    """Before identities, the list kept sha256 of the lower-cased address as it was stored."""
    with store.begin() as c:
        for address, reason in (("old@bücher.de", "unsubscribed"), ("mixed@example.org", "erased")):
            c.execute(
                suppressions.insert().values(
                    email_hash=sha(address),
                    email=None,
                    reason=reason,
                    source="before",
                    created_at=clock.now(),
                )
            )
    for spelling, reason in (
        ("OLD@xn--bcher-kva.de", "unsubscribed"),
        ("Mixed@EXAMPLE.org", "erased"),
    ):
        with store.begin() as c, pytest.raises(core.ContactError) as caught:
            life.add(c, spelling, core.ConsentGiven())
        assert str(caught.value).endswith(
            f"({reason} on 2026-12-01); engage never subscribes it again."
        )
    assert count(store) == 0


# --- Sign-up, replies, webhooks ----------------------------------------------------------------


def test_sign_up_under_another_spelling_finds_the_one_contact(store) -> None:
    sam = add(store, "Sam.Case@example.org", "Sam")
    with store.begin() as c:
        life.unsubscribe(
            c, "sam.case@example.org", method="manual", source="test", by="test-runner"
        )
        signed = sign_up(c, Signer(KEY), "SAM.CASE@Example.ORG", "Sam", "html")
        fresh = sign_up(c, Signer(KEY), "new@bücher.de", "New", "html")
        twice = sign_up(c, Signer(KEY), "NEW@xn--bcher-kva.de", "New", "html")
    assert signed.confirm_to is not None  # only a confirmed sign-up may lift it (issue 12, 7)
    assert (fresh.confirm_to, twice.confirm_to) == ("new@bücher.de", "NEW@xn--bcher-kva.de")
    with store.connect() as c:
        assert core.get(c, "sam.case@example.org").id == sam.id
        assert core.get(c, "sam.case@example.org").status == "unsubscribed"
        assert core.suppression(c, "Sam.Case@example.org").reason == "unsubscribed"
        assert core.get(c, "new@XN--BCHER-KVA.DE").status == "pending"
    assert count(store) == 2


def test_a_reply_from_another_spelling_is_matched_to_the_contact(store) -> None:
    sam = add(store, "Sam.Case@example.org")
    ute = add(store, "user@bücher.de")
    signer = Signer(KEY)
    with store.begin() as c:
        found = [
            match(c, signer, "hello@replies.example.org", "", "", sender)
            for sender in (
                "SAM.CASE@EXAMPLE.ORG",
                "User@xn--bcher-kva.de",
                "New.Person@Example.org",
                "new.person@example.org",
            )
        ]
    assert [(m.contact_id, m.matched_by) for m in found[:2]] == [
        (sam.id, "sender"),
        (ute.id, "sender"),
    ]
    assert found[2].matched_by == "new-contact"
    assert (found[3].contact_id, found[3].matched_by) == (found[2].contact_id, "sender")
    assert count(store) == 3


def test_webhook_events_find_the_contact_by_any_spelling(store, clock) -> None:
    sam = add(store, "Sam.Case@example.org")
    ute = add(store, "user@bücher.de")
    at = clock.now()
    with store.begin() as c:
        record_events(
            c,
            [
                Event("mailgun", "ev-1", "bounced", at, "SAM.CASE@EXAMPLE.ORG", hard=True),
                Event("mailgun", "ev-2", "complained", at, "USER@XN--BCHER-KVA.DE"),
            ],
        )
    with store.connect() as c:
        assert (
            core.get(c, "sam.case@example.org").status,
            core.get(c, "user@bücher.de").status,
        ) == (
            "bounced",
            "complained",
        )
        rows = c.execute(sa.text("SELECT event_id, contact_id FROM events ORDER BY event_id")).all()
        hashes = set(c.execute(sa.select(suppressions.c.email_hash)).scalars())
    assert [tuple(r) for r in rows] == [("ev-1", sam.id), ("ev-2", ute.id)]
    assert hashes == {sha("sam.case@example.org"), sha("user@xn--bcher-kva.de")}


# --- Refused at every way in -------------------------------------------------------------------


def test_an_address_that_cannot_be_an_identity_is_refused_at_every_way_in(people, store) -> None:
    reason = "the part before the @ is 65 characters long, and mail servers take at most 64"
    added = people.run("contacts", "add", LONG)
    assert (added.exit_code, added.stderr) == (
        1,
        f"Error: '{LONG}' is not a valid email address: {reason}.\n",
    )
    shown = people.run("contacts", "show", "user@xn--zz.de")
    assert (shown.exit_code, shown.stderr) == (
        1,
        "Error: 'user@xn--zz.de' is not a valid email address: The part after the @-sign is "
        "not valid IDNA (Invalid A-label).\n",
    )
    path = people.write("people.csv", f"email,name\nok@example.org,Ok\n{LONG},Long\n")
    imported = people.run("contacts", "import", str(path))
    assert imported.exit_code == 3
    assert imported.output.splitlines()[1:3] == [
        "Rejected 1 row:",
        f"  line 3, column email: '{LONG}' is not a valid email address: {reason}.",
    ]
    with store.begin() as c, pytest.raises(core.InvalidEmail):
        sign_up(c, Signer(KEY), LONG, "Long", "html")
    with store.begin() as c:
        assert match(c, Signer(KEY), "hello@replies.example.org", "", "", LONG).contact_id is None


def test_a_part_before_the_at_over_64_bytes_is_refused_at_every_way_in(people, store) -> None:
    """33 letters, 66 bytes: short enough by count, too long for a mail server."""
    reason = (
        "the part before the @ is 66 bytes long (letters like é take 2 bytes each), and mail "
        "servers take at most 64"
    )
    added = people.run("contacts", "add", WIDE)
    assert (added.exit_code, added.stderr) == (
        1,
        f"Error: '{WIDE}' is not a valid email address: {reason}.\n",
    )
    path = people.write("wide.csv", f"name,email\nOk,ok@example.org\nWide,{WIDE}\n")
    imported = people.run("contacts", "import", str(path))
    assert imported.exit_code == 3
    assert imported.output.splitlines()[1:3] == [
        "Rejected 1 row:",
        f"  line 3, column email: '{WIDE}' is not a valid email address: {reason}.",
    ]
    with store.begin() as c, pytest.raises(core.LocalPartTooLong):
        sign_up(c, Signer(KEY), WIDE, "Wide", "html")
    fits = "é" * 32 + "@example.org"  # 64 bytes: the most a mail server must take
    assert core.identity(fits) == fits


# --- Migration 0009 ----------------------------------------------------------------------------

AT = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)


def _insert(connection: sa.Connection, table_name: str, **values: Any) -> None:
    """A row as engage 0008 kept it: the columns not given get an empty value of their type."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=connection)
    for column in table.columns:
        if column.name in values or column.nullable or column.primary_key:
            continue
        kind = column.type
        if isinstance(kind, sa.JSON):
            values[column.name] = {}
        elif isinstance(kind, sa.DateTime):
            values[column.name] = AT
        elif isinstance(kind, sa.Boolean):
            values[column.name] = False
        elif isinstance(kind, sa.Integer):
            values[column.name] = 0
        else:
            values[column.name] = ""
    connection.execute(table.insert().values(**values))


def _person(connection: sa.Connection, id_: int, email: str, status: str, month: int, **more: Any):
    _insert(
        connection,
        "contacts",
        id=id_,
        email=email,
        status=status,
        format="html",
        created_at=AT.replace(month=month),
        updated_at=AT.replace(month=month),
        **more,
    )


def _database_at_0008_with_duplicates(db_url: str) -> Store:
    store = Store(make_engine(db_url))
    upgrade(store, "0008")
    with store.begin() as c:
        _person(
            c,
            1,
            "Sam.Case@example.org",
            "subscribed",
            1,
            name="Sam Case",
            attributes={"region": "Leeds"},
        )
        _person(
            c,
            2,
            "sam.case@example.org",
            "unsubscribed",
            2,
            first_name="Sam",
            attributes={"region": "York", "sport": "boccia"},
        )
        _person(c, 3, "SAM.CASE@example.org", "pending", 3)
        _person(c, 4, "user@bücher.de", "subscribed", 5, name="Ute Berg")
        _person(c, 5, "user@xn--bcher-kva.de", "complained", 4)
        _person(c, 6, "ann@example.org", "subscribed", 1, name="Ann Lee")
        _person(c, 7, "erased@xn--bcher-kva.de", "subscribed", 1, name="Still Here")
        for tag_id, name in ((1, "newsletter"), (2, "walking")):
            _insert(c, "tags", id=tag_id, name=name)
        for contact_id, tag_id in ((1, 1), (2, 1), (2, 2), (3, 2)):
            _insert(c, "contact_tags", contact_id=contact_id, tag_id=tag_id)
        _insert(c, "sends", id=1, campaign="winter", status="sent", total=6)
        for id_, contact_id, status in (
            (1, 1, "pending"),
            (2, 2, "sent"),
            (3, 3, "failed"),
            (4, 4, "sent"),
            (5, 5, "unknown"),
            (6, 6, "sent"),
        ):
            _insert(c, "deliveries", id=id_, send_id=1, contact_id=contact_id, status=status)
        for id_, contact_id, action in (
            (1, 1, "given"),
            (2, 2, "given"),
            (3, 2, "withdrawn"),
            (4, 4, "given"),
            (5, 5, "given"),
        ):
            _insert(
                c,
                "consents",
                id=id_,
                contact_id=contact_id,
                action=action,
                basis="consent",
                method="form",
                recorded_at=AT,
            )
        for id_, delivery_id, contact_id in ((1, 1, 1), (2, 3, 3), (3, None, 2)):
            _insert(
                c,
                "events",
                id=id_,
                provider="mailgun",
                event_id=f"e{id_}",
                event_type="delivered",
                delivery_id=delivery_id,
                contact_id=contact_id,
            )
        for id_, sender, contact_id, delivery_id in (
            (1, "sam.case@example.org", 2, 2),
            (2, "user@bücher.de", 4, 4),
        ):
            _insert(
                c,
                "inbound",
                id=id_,
                provider="imap",
                dedupe_key=f"m{id_}",
                sender=sender,
                contact_id=contact_id,
                delivery_id=delivery_id,
            )
        _insert(
            c,
            "contact_handles",
            id=1,
            contact_id=2,
            network="mastodon",
            handle="sam@example.social",
        )
        _insert(c, "stories", id=1, contact_id=3, reply_id=1, status="received")
        _insert(
            c,
            "consents",
            id=6,
            contact_id=3,
            story_id=1,
            action="given",
            basis="consent",
            channel="newsletter",
            method="form",
            recorded_at=AT,
        )
        for id_, hashed, email, reason in (
            (1, sha("sam.case@example.org"), "sam.case@example.org", "unsubscribed"),
            (2, sha("user@xn--bcher-kva.de"), "user@xn--bcher-kva.de", "complained"),
            (3, sha("erased@bücher.de"), None, "erased"),
            (4, sha("gone@bücher.de"), "gone@bücher.de", "bounced"),
        ):
            _insert(
                c,
                "suppressions",
                id=id_,
                email_hash=hashed,
                email=email,
                reason=reason,
                created_at=AT,
            )
        if c.dialect.name == "postgresql":  # rows given their ids leave the sequences behind
            for table in sa.inspect(c).get_table_names():
                if "id" in {column["name"] for column in sa.inspect(c).get_columns(table)}:
                    c.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                        )
                    )
    return store


def _all(c: sa.Connection, sql: str) -> list[tuple]:
    return [tuple(r) for r in c.execute(sa.text(sql)).all()]


def test_migration_merges_spellings_keeping_every_record(db_url) -> None:
    old = _database_at_0008_with_duplicates(db_url)
    assert upgrade(old) == ("0008", head_revision())
    old.engine.dispose()
    store = open_url(db_url)
    with store.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), metadata) == []
        people = _all(
            c, "SELECT id, email, email_key, name, first_name, status FROM contacts ORDER BY id"
        )
        attributes = c.execute(sa.select(contacts.c.attributes).where(contacts.c.id == 1)).scalar()
        tags = _all(c, "SELECT contact_id, tag_id FROM contact_tags ORDER BY contact_id, tag_id")
        consents = _all(c, "SELECT id, contact_id FROM consents ORDER BY id")
        deliveries = _all(c, "SELECT id, contact_id, status FROM deliveries ORDER BY id")
        total = c.execute(sa.text("SELECT total FROM sends")).scalar()
        events = _all(c, "SELECT id, delivery_id, contact_id FROM events ORDER BY id")
        replies = _all(c, "SELECT id, contact_id, delivery_id FROM inbound ORDER BY id")
        handles = _all(c, "SELECT contact_id, handle FROM contact_handles")
        stories = _all(c, "SELECT id, contact_id, reply_id FROM stories")
        blocked = _all(c, "SELECT email_hash, email, reason FROM suppressions ORDER BY id")
    assert people == [
        (1, "Sam.Case@example.org", "sam.case@example.org", "Sam Case", "Sam", "unsubscribed"),
        (5, "user@xn--bcher-kva.de", "user@xn--bcher-kva.de", "Ute Berg", "", "complained"),
        (6, "ann@example.org", "ann@example.org", "Ann Lee", "", "subscribed"),
        (7, "erased@xn--bcher-kva.de", "erased@xn--bcher-kva.de", "Still Here", "", "erased"),
    ]
    assert attributes == {"region": "Leeds", "sport": "boccia"}
    assert tags == [(1, 1), (1, 2)]
    assert consents == [(1, 1), (2, 1), (3, 1), (4, 5), (5, 5), (6, 1)]
    assert deliveries == [(2, 1, "sent"), (4, 5, "sent"), (6, 6, "sent")]
    assert total == 3
    assert events == [(1, 2, 1), (2, 2, 1), (3, None, 1)]
    assert replies == [(1, 1, 2), (2, 5, 4)]
    assert handles == [(1, "sam@example.social")]
    assert stories == [(1, 1, 1)]
    assert blocked == [
        (sha("sam.case@example.org"), "sam.case@example.org", "unsubscribed"),
        (sha("user@xn--bcher-kva.de"), "user@xn--bcher-kva.de", "complained"),
        (sha("erased@xn--bcher-kva.de"), None, "erased"),
        (sha("gone@xn--bcher-kva.de"), "gone@bücher.de", "bounced"),
    ]
    with store.begin() as c:
        assert core.get(c, "SAM.CASE@EXAMPLE.ORG").id == 1
        assert core.get(c, "user@bücher.de").id == 5
        life.erase(c, "erased@bücher.de")
        assert core.find(c, "erased@xn--bcher-kva.de") is None
        assert life.add(c, "new@example.org", core.ConsentGiven()).status == "subscribed"
    store.engine.dispose()


def test_a_contact_without_an_identity_is_refused_by_the_database(store) -> None:
    insert = sa.text(
        "INSERT INTO contacts (email, name, first_name, format, status, attributes, created_at, "
        "updated_at) VALUES ('raw@example.org', '', '', 'html', 'subscribed', '{}', :at, :at)"
    )
    with pytest.raises(sa.exc.IntegrityError), store.begin() as c:
        c.execute(insert, {"at": AT})
    assert count(store) == 0
