"""Languages and the format each person got.

- contacts.lang: the language a person reads, a BCP 47 tag (or two, space-separated, for
  someone who asked for both); empty means the organisation's ([organisation] lang);
- deliveries.variant, deliveries.lang: which version of the campaign each person was sent
  (standard, large-print, easy-read or plain; and its language), so the report can say how
  many got each. Empty for rows sent before this version.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("lang", sa.String(40), nullable=False, server_default=""))
    op.add_column("deliveries", sa.Column("variant", sa.String(16), nullable=True))
    op.add_column("deliveries", sa.Column("lang", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("lang")
        batch.drop_column("variant")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("lang")
