"""Replies keep their attachments: the attachments table, one row for each file.

The files themselves are in the workspace's attachments folder ([replies] attachments_dir);
a row says where, or why the file was set aside. Replies stored before this have no rows.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "inbound_id",
            sa.Integer,
            sa.ForeignKey(
                "inbound.id", ondelete="CASCADE", name="fk_attachments_inbound_id_inbound"
            ),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(200), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=True),
        sa.Column("set_aside", sa.Text, nullable=False),
        sa.Column("content_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("inbound_id", "position", name="uq_attachments_inbound_id_position"),
    )


def downgrade() -> None:
    op.drop_table("attachments")
