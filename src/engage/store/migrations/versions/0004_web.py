"""Provider events, inbound mail, used signature tokens, and form rate-limit counters.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column(
            "delivery_id",
            sa.Integer,
            sa.ForeignKey(
                "deliveries.id", ondelete="SET NULL", name="fk_events_delivery_id_deliveries"
            ),
            nullable=True,
        ),
        sa.Column(
            "contact_id",
            sa.Integer,
            sa.ForeignKey("contacts.id", ondelete="CASCADE", name="fk_events_contact_id_contacts"),
            nullable=True,
        ),
        sa.Column("occurred_at", UTC_TIME, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.JSON, nullable=False),
        sa.UniqueConstraint("provider", "event_id", name="uq_events_provider_event_id"),
    )
    op.create_index("ix_events_delivery_id", "events", ["delivery_id"])
    op.create_table(
        "inbound",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(300), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("sender_name", sa.Text, nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("in_reply_to", sa.Text, nullable=False),
        sa.Column("references", sa.Text, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("raw", sa.JSON, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("dedupe_key", name="uq_inbound_dedupe_key"),
    )
    op.create_table(
        "seen_tokens",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("token", sa.String(200), primary_key=True),
        sa.Column("seen_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "throttle",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("window_start", UTC_TIME, nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("throttle")
    op.drop_table("seen_tokens")
    op.drop_table("inbound")
    op.drop_index("ix_events_delivery_id", "events")
    op.drop_table("events")
