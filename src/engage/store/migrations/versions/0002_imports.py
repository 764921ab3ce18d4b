"""Record each CSV import, and link the consent records it made to it.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("unchanged", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("import_id", sa.Integer, nullable=True))
        batch.create_foreign_key(
            "fk_consents_import_id_imports", "imports", ["import_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.drop_constraint("fk_consents_import_id_imports", type_="foreignkey")
        batch.drop_column("import_id")
    op.drop_table("imports")
