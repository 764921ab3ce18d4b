"""The archive keeps what was sent: archive_pages, a frozen copy of each newsletter.

Sends from before this version have no copy: the archive makes one from the campaign file the
first time the page is opened, and marks it as copied later (see engage/archive.py).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "archive_pages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign", sa.String(200), nullable=False),
        sa.Column(
            "send_id",
            sa.Integer,
            sa.ForeignKey("sends.id", ondelete="SET NULL", name="fk_archive_pages_send_id_sends"),
            nullable=True,
        ),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("preheader", sa.Text, nullable=False),
        sa.Column("sent_at", _WHEN, nullable=True),
        sa.Column("sent_on", sa.Date, nullable=True),
        sa.Column("html", sa.Text, nullable=True),
        sa.Column("large_print", sa.Text, nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("frozen_at", _WHEN, nullable=True),
        sa.Column("removed_at", _WHEN, nullable=True),
        sa.Column("removed_by", sa.Text, nullable=False),
        sa.Column("removed_note", sa.Text, nullable=False),
        sa.UniqueConstraint("campaign", name="uq_archive_pages_campaign"),
    )


def downgrade() -> None:
    op.drop_table("archive_pages")
