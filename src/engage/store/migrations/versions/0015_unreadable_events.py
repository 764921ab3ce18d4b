"""unreadable_events: provider events engage could not read, kept whole with the reason;
events.note: why an event was not linked to the delivery its ids named.

A webhook event that passed the provider's check but that engage cannot read used to be
answered 400, so the provider sent it again (with the good events of its batch) until it gave
up. Now it is kept here, the good ones are stored, and the answer is 200.

An event whose Message-ID or ids named a delivery to another person used to change that other
person. Now only the event's own recipient is changed; the note says which delivery it named.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unreadable_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("provider", "key", name="uq_unreadable_events_provider_key"),
    )
    # A plain ADD COLUMN (no batch): SQLite would otherwise rebuild events. The server default
    # fills the rows already there and stays; engage always writes the column itself.
    op.add_column("events", sa.Column("note", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("note")
    op.drop_table("unreadable_events")
