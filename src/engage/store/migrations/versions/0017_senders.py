"""senders: the processes sending each send now, so several can share one campaign (each
claims its own batches through the journal) and each can tell a dead sender's rows from a live
one's before settling them.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "senders",
        sa.Column(
            "send_id",
            sa.Integer,
            sa.ForeignKey("sends.id", ondelete="CASCADE", name="fk_senders_send_id_sends"),
            nullable=False,
        ),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("send_id", "owner", name="pk_senders"),
    )


def downgrade() -> None:
    op.drop_table("senders")
