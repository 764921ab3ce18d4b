"""contact_changes: a person's tags and format changes, with who made them and from where.

Sign-ups get tags when they confirm, and people choose topics on the preferences page; each
change is recorded here, so `engage contacts show` can say who did what. People who confirmed
before this version have no tags from their sign-up: `engage contacts tag-signups` gives them
the sign-up tags (it needs engage.toml, which a migration cannot read).

Revision ID: 0012
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
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


def downgrade() -> None:
    op.drop_index("ix_contact_changes_contact_id", "contact_changes")
    op.drop_table("contact_changes")
