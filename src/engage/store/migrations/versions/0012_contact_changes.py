"""contact_changes: a person's tags and format changes, with who made them and from where;
consents.send_id: the send whose unsubscribe link a person used.

Sign-ups get tags when they confirm, and people choose topics on the preferences page; each
change is recorded here, so `engage contacts show` can say who did what. People who confirmed
before this version have no tags from their sign-up: `engage contacts tag-signups` gives them
the sign-up tags (it needs engage.toml, which a migration cannot read).

A withdrawal made with an email's unsubscribe link used to have the source "send N"; it now
says which email in words, and the send is in send_id. Earlier records keep their words (they
are never changed) and get their send_id here, so a campaign's report still counts them.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "contact_id",
            sa.Integer,
            sa.ForeignKey(
                "contacts.id",
                ondelete="CASCADE",
                name="fk_contact_changes_contact_id_contacts",
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_contact_changes_contact_id", "contact_changes", ["contact_id"])
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("send_id", sa.Integer, nullable=True))
        batch.create_foreign_key(
            "fk_consents_send_id_sends", "sends", ["send_id"], ["id"], ondelete="SET NULL"
        )
    _link_earlier_withdrawals()


def _link_earlier_withdrawals() -> None:
    connection = op.get_bind()
    consents = sa.table(
        "consents",
        sa.column("id", sa.Integer),
        sa.column("action", sa.String),
        sa.column("source", sa.Text),
        sa.column("send_id", sa.Integer),
    )
    sends = sa.table("sends", sa.column("id", sa.Integer))
    known = set(connection.execute(sa.select(sends.c.id)).scalars())
    rows = connection.execute(
        sa.select(consents.c.id, consents.c.source).where(
            consents.c.action == "withdrawn", consents.c.source.like("send %")
        )
    ).all()
    for row in rows:
        number = row.source.removeprefix("send ")
        if number.isdigit() and int(number) in known:
            connection.execute(
                consents.update().where(consents.c.id == row.id).values(send_id=int(number))
            )


def downgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.drop_constraint("fk_consents_send_id_sends", type_="foreignkey")
        batch.drop_column("send_id")
    op.drop_index("ix_contact_changes_contact_id", "contact_changes")
    op.drop_table("contact_changes")
