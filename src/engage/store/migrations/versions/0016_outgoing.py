"""outgoing: engage's own emails (a sign-up's confirmation, the story emails a web page sets
off), queued in the store and sent outside the web request by a worker in `engage serve` and by
`engage run`. A web page then answers alike whatever happens to the email, so how long it takes
tells nobody whether an address is already subscribed.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outgoing",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("address_key", sa.String(320), nullable=False),
        sa.Column("contact_id", sa.Integer, nullable=True),
        sa.Column("story_id", sa.Integer, nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(250), nullable=True),
        sa.Column("provider_id", sa.String(250), nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outgoing_state_not_before", "outgoing", ["state", "not_before"])
    op.create_index("ix_outgoing_address_key", "outgoing", ["address_key"])


def downgrade() -> None:
    op.drop_index("ix_outgoing_address_key", table_name="outgoing")
    op.drop_index("ix_outgoing_state_not_before", table_name="outgoing")
    op.drop_table("outgoing")
