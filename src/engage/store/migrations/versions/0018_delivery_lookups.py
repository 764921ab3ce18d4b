"""Indexes for finding a delivery from what comes back about it: our Message-ID (replies,
bounces and webhook events) and the person (webhook events matched by the provider's own id
among that person's deliveries). Without them each event read every row of deliveries.

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_message_id", "deliveries", ["message_id"])
    op.create_index("ix_deliveries_contact_id", "deliveries", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_contact_id", table_name="deliveries")
    op.drop_index("ix_deliveries_message_id", table_name="deliveries")
