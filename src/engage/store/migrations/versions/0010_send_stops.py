"""Sends that a person stops, and why each skipped person was skipped.

- sends.stop_asked_at, sends.stop_asked_by: set by `engage send CAMPAIGN --stop`, by Ctrl-C in
  `engage send`, or when a `--limit` send reaches its limit. The sender checks them between
  batches. A send that stopped this way has the status `stopped`, and only
  `engage send CAMPAIGN --resume` carries it on (`engage run` leaves it alone).
- deliveries.skip_reason: for a row with the status `suppressed`, why that person was not sent
  to: pending (never confirmed), unsubscribed, bounced, complained, erased, or suppressed (on
  the suppression list by hand). Rows skipped before this version have none.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sends", sa.Column("stop_asked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sends", sa.Column("stop_asked_by", sa.String(200), nullable=True))
    op.add_column("deliveries", sa.Column("skip_reason", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("skip_reason")
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("stop_asked_by")
        batch.drop_column("stop_asked_at")
    op.execute("UPDATE sends SET status = 'sending' WHERE status = 'stopped'")
