"""Replies know whom they are from and which campaign they answer.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound") as batch:
        batch.add_column(sa.Column("contact_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("send_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("delivery_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("matched_by", sa.String(32), nullable=False, server_default=""))
        batch.create_foreign_key(
            "fk_inbound_contact_id_contacts",
            "contacts",
            ["contact_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            "fk_inbound_send_id_sends", "sends", ["send_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_foreign_key(
            "fk_inbound_delivery_id_deliveries",
            "deliveries",
            ["delivery_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound") as batch:
        for name in (
            "fk_inbound_delivery_id_deliveries",
            "fk_inbound_send_id_sends",
            "fk_inbound_contact_id_contacts",
        ):
            batch.drop_constraint(name, type_="foreignkey")
        for column in ("matched_by", "delivery_id", "send_id", "contact_id"):
            batch.drop_column(column)
