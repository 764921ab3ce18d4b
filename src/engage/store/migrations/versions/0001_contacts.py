"""Contacts, tags, consent records and the suppression list.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("first_name", sa.Text, nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("email", name="uq_contacts_email"),
    )
    op.create_index("ix_contacts_status", "contacts", ["status"])
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("is_topic", sa.Boolean, nullable=False),
        sa.UniqueConstraint("name", name="uq_tags_name"),
    )
    op.create_table(
        "contact_tags",
        sa.Column(
            "contact_id",
            sa.Integer,
            sa.ForeignKey(
                "contacts.id", ondelete="CASCADE", name="fk_contact_tags_contact_id_contacts"
            ),
            primary_key=True,
        ),
        sa.Column(
            "tag_id",
            sa.Integer,
            sa.ForeignKey("tags.id", ondelete="CASCADE", name="fk_contact_tags_tag_id_tags"),
            primary_key=True,
        ),
    )
    op.create_index("ix_contact_tags_tag_id", "contact_tags", ["tag_id"])
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "contact_id",
            sa.Integer,
            sa.ForeignKey(
                "contacts.id", ondelete="CASCADE", name="fk_consents_contact_id_contacts"
            ),
            nullable=False,
        ),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("basis", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("wording", sa.Text, nullable=False),
        sa.Column("opt_out_offered", sa.Boolean, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("recorded_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_consents_contact_id", "consents", ["contact_id"])
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email_hash", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("email_hash", name="uq_suppressions_email_hash"),
    )


def downgrade() -> None:
    for table in ("suppressions", "consents", "contact_tags", "tags", "contacts"):
        op.drop_table(table)
