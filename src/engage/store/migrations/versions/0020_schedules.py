"""Schedules set by a person, and cancelled sends.

- schedules: when a campaign goes out, as the console or `engage campaigns schedule` set it
  (it wins over the file's send_at; no time means a person unscheduled it);
- sends.cancelled_at, sends.cancelled_by: a send a person cancelled, which nothing carries on.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign", sa.String(200), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("set_by", sa.String(320), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("campaign", name="uq_schedules_campaign"),
    )
    op.add_column("sends", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sends", sa.Column("cancelled_by", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("cancelled_by")
        batch.drop_column("cancelled_at")
    op.drop_table("schedules")
