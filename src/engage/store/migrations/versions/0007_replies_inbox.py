"""The replies inbox: the original mail, cleaned words, kind, status and owner; social handles.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_NEW = (
    ("original", sa.LargeBinary, True, None),
    ("clean_text", sa.Text, False, ""),
    ("quoted", sa.Text, False, ""),
    ("signature", sa.Text, False, ""),
    ("kind", sa.String(16), False, "other"),
    ("status", sa.String(16), False, "new"),
    ("owner", sa.Text, False, ""),
    ("campaign", sa.String(200), True, None),
    ("notes", sa.JSON, False, "[]"),
    ("updated_at", sa.DateTime(timezone=True), True, None),
)


def upgrade() -> None:
    with op.batch_alter_table("inbound") as batch:
        for name, kind, nullable, default in _NEW:
            batch.add_column(
                sa.Column(name, kind, nullable=nullable, server_default=default)
                if default is not None
                else sa.Column(name, kind, nullable=nullable)
            )
    # The server defaults only fill the rows already there; new rows get theirs from engage.
    with op.batch_alter_table("inbound") as batch:
        for name, kind, _nullable, default in _NEW:
            if default is not None:
                batch.alter_column(name, existing_type=kind, server_default=None)
        batch.create_index("ix_inbound_contact_id", ["contact_id"])
        batch.create_index("ix_inbound_campaign", ["campaign"])
        batch.create_index("ix_inbound_status", ["status"])
    op.create_table(
        "contact_handles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "contact_id",
            sa.Integer,
            sa.ForeignKey(
                "contacts.id", ondelete="CASCADE", name="fk_contact_handles_contact_id_contacts"
            ),
            nullable=False,
        ),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("handle", sa.String(320), nullable=False),
        sa.UniqueConstraint("network", "handle", name="uq_contact_handles_network_handle"),
    )
    op.create_index("ix_contact_handles_contact_id", "contact_handles", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_contact_handles_contact_id", "contact_handles")
    op.drop_table("contact_handles")
    with op.batch_alter_table("inbound") as batch:
        for index in ("ix_inbound_status", "ix_inbound_campaign", "ix_inbound_contact_id"):
            batch.drop_index(index)
        for name, *_ in reversed(_NEW):
            batch.drop_column(name)
