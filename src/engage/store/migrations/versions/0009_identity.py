"""One mailbox, one contact: contacts.email_key, and duplicates merged.

Every contact gets the identity of its address (`identity` in engage/contacts/identity.py). Contacts
that are spellings of one mailbox (Sam.Case@example.org and sam.case@example.org) become one:
the oldest row stays, and everything that refers to the others moves to it (consent records,
deliveries, replies, events, tags, handles, stories). The most restrictive status wins. Where
both had a delivery for the same send, the one that says it went (sent, sending, unknown) stays,
so nobody is counted twice.

The suppression list is keyed by the identity's hash too, so an entry made under one spelling
holds for all; a contact whose other spelling was unsubscribed, bounced, complained or erased
takes that status. (An erased one keeps the status `erased`: `engage contacts list --status
erased` shows them, and `engage contacts erase` finishes the job.)

Merges cannot be undone: the downgrade only drops the column.

Revision ID: 0009
Revises: 0008
"""

import contextlib
import hashlib

import sqlalchemy as sa
from alembic import op

from engage.addresses import InvalidEmail, mailbox

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)
STATUS_ORDER = ("pending", "subscribed", "unsubscribed", "bounced", "complained", "erased")
REASON_ORDER = ("manual", "unsubscribed", "bounced", "complained", "erased")
STATUS_FOR_REASON = {r: r for r in REASON_ORDER if r in STATUS_ORDER}
# Which of two deliveries of one send to one mailbox to keep: the first that says it went.
DELIVERY_ORDER = ("sent", "sending", "unknown", "claimed", "pending", "failed", "suppressed")

contacts = sa.table(
    "contacts",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("email_key", sa.String),
    sa.column("name", sa.Text),
    sa.column("first_name", sa.Text),
    sa.column("status", sa.String),
    sa.column("attributes", sa.JSON),
    sa.column("created_at", _WHEN),
    sa.column("updated_at", _WHEN),
)
deliveries = sa.table(
    "deliveries",
    sa.column("id", sa.Integer),
    sa.column("send_id", sa.Integer),
    sa.column("contact_id", sa.Integer),
    sa.column("status", sa.String),
)
sends = sa.table("sends", sa.column("id", sa.Integer), sa.column("total", sa.Integer))
contact_tags = sa.table(
    "contact_tags", sa.column("contact_id", sa.Integer), sa.column("tag_id", sa.Integer)
)
suppressions = sa.table(
    "suppressions",
    sa.column("id", sa.Integer),
    sa.column("email_hash", sa.String),
    sa.column("email", sa.String),
    sa.column("reason", sa.String),
    sa.column("source", sa.Text),
    sa.column("created_at", _WHEN),
)

_KEY_REQUIRED = """
CREATE TRIGGER contacts_email_key_required BEFORE {event} ON contacts
WHEN NEW.email_key IS NULL OR NEW.email_key = ''
BEGIN SELECT RAISE(ABORT, 'NOT NULL constraint failed: contacts.email_key'); END
"""


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    # SQLite adds a NOT NULL column only with a default; a trigger then refuses an empty key,
    # as PostgreSQL's NOT NULL does. (Rebuilding the table instead would cascade-delete.)
    op.add_column(
        "contacts",
        sa.Column(
            "email_key", sa.String(320), nullable=not sqlite, server_default="" if sqlite else None
        ),
    )
    groups: dict[str, list[int]] = {}
    oldest_first = sa.select(contacts.c.id, contacts.c.email).order_by(
        contacts.c.created_at, contacts.c.id
    )
    for contact_id, email in bind.execute(oldest_first):
        groups.setdefault(_key(email), []).append(contact_id)
    to_contacts, to_deliveries = _references(bind, "contacts"), _references(bind, "deliveries")
    for ids in groups.values():
        for other in ids[1:]:
            _merge(bind, ids[0], other, to_contacts, to_deliveries)
    if groups:
        bind.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("id_"))
            .values(email_key=sa.bindparam("key_")),
            [{"id_": ids[0], "key_": key} for key, ids in groups.items()],
        )
    _rekey_suppressions(bind)
    _suppressed_contacts(bind)
    op.create_index("ix_contacts_email_key", "contacts", ["email_key"], unique=True)
    if sqlite:
        op.execute(_KEY_REQUIRED.format(event="INSERT").replace("required", "required_insert"))
        op.execute(
            _KEY_REQUIRED.format(event="UPDATE OF email_key").replace("required", "required_update")
        )
    else:
        op.alter_column("contacts", "email_key", existing_type=sa.String(320), nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER contacts_email_key_required_insert")
        op.execute("DROP TRIGGER contacts_email_key_required_update")
    op.drop_index("ix_contacts_email_key", "contacts")
    op.drop_column("contacts", "email_key")


# The identity and its hashes as engage/contacts/identity.py makes them, written out here: the
# store sits below the contacts package, and a migration must go on doing what it did when it
# was written, whatever the contacts package does later.
def identity(raw: str) -> str:
    return mailbox(raw).key


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def email_hash(email: str) -> str:
    try:
        return _sha256(identity(email))
    except InvalidEmail:
        return _sha256(email.strip().lower())


def email_hashes(email: str) -> list[str]:
    hashes = [email_hash(email), _sha256(email.strip().lower())]
    with contextlib.suppress(InvalidEmail):
        hashes += [_sha256(spelling) for spelling in sorted(mailbox(email).spellings)]
    return list(dict.fromkeys(hashes))


def _key(email: str) -> str:
    try:
        return identity(email)
    except InvalidEmail:  # stored before engage was this strict: it stays its own contact
        return email.strip().lower()


def _references(bind: sa.Connection, table: str) -> list[tuple[str, str]]:
    """Every (table, column) whose foreign key refers to `table`.id, as the database has them."""
    inspector = sa.inspect(bind)
    return [
        (name, key["constrained_columns"][0])
        for name in sorted(inspector.get_table_names())
        for key in inspector.get_foreign_keys(name)
        if key["referred_table"] == table
    ]


def _repoint(bind: sa.Connection, refs: list[tuple[str, str]], old: int, new: int) -> None:
    for name, column in refs:
        table = sa.table(name, sa.column(column, sa.Integer))
        bind.execute(table.update().where(table.c[column] == old).values({column: new}))


def _merge(
    bind: sa.Connection,
    keep: int,
    other: int,
    to_contacts: list[tuple[str, str]],
    to_deliveries: list[tuple[str, str]],
) -> None:
    """Move everything of contact `other` to contact `keep`, then delete `other`."""
    _one_delivery_per_send(bind, keep, other, to_deliveries)
    held = sa.select(contact_tags.c.tag_id).where(contact_tags.c.contact_id == keep)
    bind.execute(
        contact_tags.delete().where(
            contact_tags.c.contact_id == other, contact_tags.c.tag_id.in_(held)
        )
    )
    _merge_fields(bind, keep, other)
    _repoint(bind, to_contacts, other, keep)
    bind.execute(contacts.delete().where(contacts.c.id == other))


def _one_delivery_per_send(
    bind: sa.Connection, keep: int, other: int, to_deliveries: list[tuple[str, str]]
) -> None:
    def rows(contact_id: int) -> dict[int, sa.Row]:
        query = sa.select(deliveries).where(deliveries.c.contact_id == contact_id)
        return {row.send_id: row for row in bind.execute(query)}

    def rank(row: sa.Row) -> tuple[int, int]:
        order = DELIVERY_ORDER.index(row.status) if row.status in DELIVERY_ORDER else 99
        return order, row.id

    kept = rows(keep)
    for send_id, theirs in rows(other).items():
        if send_id not in kept:
            continue
        stays, goes = sorted((kept[send_id], theirs), key=rank)
        _repoint(bind, to_deliveries, goes.id, stays.id)
        bind.execute(deliveries.delete().where(deliveries.c.id == goes.id))
        bind.execute(sends.update().where(sends.c.id == send_id).values(total=sends.c.total - 1))


def _merge_fields(bind: sa.Connection, keep: int, other: int) -> None:
    """The kept row keeps its own values, takes a name it lacks, gains the other's attributes
    it does not have, and the most restrictive status of the two."""
    query = sa.select(contacts).where(contacts.c.id.in_([keep, other]))
    both = {row.id: row for row in bind.execute(query)}
    mine, theirs = both[keep], both[other]
    status = max(
        (mine.status, theirs.status),
        key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else -1,
    )
    bind.execute(
        contacts.update()
        .where(contacts.c.id == keep)
        .values(
            name=mine.name or theirs.name,
            first_name=mine.first_name or theirs.first_name,
            attributes={**(theirs.attributes or {}), **(mine.attributes or {})},
            status=status,
            updated_at=max(mine.updated_at, theirs.updated_at),
        )
    )


def _rekey_suppressions(bind: sa.Connection) -> None:
    """Each entry whose address is known is keyed by its identity's hash; entries that are
    then one mailbox become one, the oldest, and an erasure among them wins."""
    groups: dict[str, list[sa.Row]] = {}
    query = sa.select(suppressions).order_by(suppressions.c.created_at, suppressions.c.id)
    for row in bind.execute(query):
        target = email_hash(row.email) if row.email else row.email_hash
        groups.setdefault(target, []).append(row)
    changes: list[tuple[int, dict]] = []
    for target, rows in groups.items():
        kept, others = rows[0], rows[1:]
        if others:
            bind.execute(suppressions.delete().where(suppressions.c.id.in_([r.id for r in others])))
        values: dict = {"email_hash": target} if kept.email_hash != target else {}
        if kept.reason != "erased" and any(r.reason == "erased" for r in rows):
            values.update(reason="erased", email=None, source="erase")
        if values:
            changes.append((kept.id, values))
    for suppression_id, values in changes:
        bind.execute(
            suppressions.update().where(suppressions.c.id == suppression_id).values(values)
        )


def _suppressed_contacts(bind: sa.Connection) -> None:
    """A contact suppressed under another spelling: the entry is keyed by its identity, and
    the contact takes the status it stands for, if that is more restrictive."""
    entries = {row.email_hash: row for row in bind.execute(sa.select(suppressions))}
    people = bind.execute(sa.select(contacts.c.id, contacts.c.email, contacts.c.status)).all()
    for contact_id, email, status in people:
        hashes = email_hashes(email)
        found = [entries[h] for h in hashes if h in entries]
        if not found:
            continue
        strictest = max(found, key=lambda r: _order(REASON_ORDER, r.reason))
        kept = entries.get(hashes[0]) or found[0]
        gone = [r.id for r in found if r.id != kept.id]
        if gone:
            bind.execute(suppressions.delete().where(suppressions.c.id.in_(gone)))
        values: dict = {"email_hash": hashes[0], "reason": strictest.reason}
        if strictest.reason == "erased":
            values.update(email=None, source="erase")
        bind.execute(suppressions.update().where(suppressions.c.id == kept.id).values(values))
        for row in found:
            entries.pop(row.email_hash, None)
        entries[hashes[0]] = kept
        becomes = STATUS_FOR_REASON.get(strictest.reason)
        if becomes and _order(STATUS_ORDER, becomes) > _order(STATUS_ORDER, status):
            bind.execute(
                contacts.update().where(contacts.c.id == contact_id).values(status=becomes)
            )


def _order(order: tuple[str, ...], value: str) -> int:
    return order.index(value) if value in order else -1
