"""Sends, deliveries (one row per campaign × contact) and locks for `engage run`.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sends",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("audience", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("finished_at", UTC_TIME, nullable=True),
        sa.UniqueConstraint("campaign", name="uq_sends_campaign"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "send_id",
            sa.Integer,
            sa.ForeignKey("sends.id", ondelete="CASCADE", name="fk_deliveries_send_id_sends"),
            nullable=False,
        ),
        sa.Column(
            "contact_id",
            sa.Integer,
            sa.ForeignKey(
                "contacts.id", ondelete="CASCADE", name="fk_deliveries_contact_id_contacts"
            ),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("batch", sa.String(40), nullable=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("claimed_at", UTC_TIME, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=True),
        sa.Column("message_id", sa.String(250), nullable=True),
        sa.Column("provider_id", sa.String(250), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.UniqueConstraint("send_id", "contact_id", name="uq_deliveries_send_id_contact_id"),
    )
    op.create_index("ix_deliveries_send_id_status", "deliveries", ["send_id", "status"])
    op.create_index("ix_deliveries_batch", "deliveries", ["batch"])
    op.create_table(
        "locks",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("locks")
    op.drop_index("ix_deliveries_batch", "deliveries")
    op.drop_index("ix_deliveries_send_id_status", "deliveries")
    op.drop_table("deliveries")
    op.drop_table("sends")
