"""Stories: the story, its drafts, its history, where it went out; consent per story.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def _story_id(table: str) -> sa.Column:
    return sa.Column(
        "story_id",
        sa.Integer,
        sa.ForeignKey("stories.id", ondelete="CASCADE", name=f"fk_{table}_story_id_stories"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "contact_id",
            sa.Integer,
            sa.ForeignKey("contacts.id", ondelete="CASCADE", name="fk_stories_contact_id_contacts"),
            nullable=False,
        ),
        sa.Column(
            "reply_id",
            sa.Integer,
            sa.ForeignKey("inbound.id", ondelete="SET NULL", name="fk_stories_reply_id_inbound"),
            nullable=True,
        ),
        sa.Column("campaign", sa.String(200), nullable=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("opened_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("told_at", _WHEN, nullable=False),
    )
    op.create_index("ix_stories_contact_id", "stories", ["contact_id"])
    op.create_index("ix_stories_status", "stories", ["status"])
    op.create_table(
        "story_drafts",
        sa.Column("id", sa.Integer, primary_key=True),
        _story_id("story_drafts"),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("decided_at", _WHEN, nullable=True),
        sa.Column("comment", sa.Text, nullable=False),
        sa.UniqueConstraint("story_id", "version", name="uq_story_drafts_story_id_version"),
    )
    op.create_table(
        "story_history",
        sa.Column("id", sa.Integer, primary_key=True),
        _story_id("story_history"),
        sa.Column("at", _WHEN, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
    )
    op.create_index("ix_story_history_story_id", "story_history", ["story_id"])
    op.create_table(
        "story_uses",
        sa.Column("id", sa.Integer, primary_key=True),
        _story_id("story_uses"),
        sa.Column("campaign", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("at", _WHEN, nullable=False),
        sa.Column("told", sa.Boolean, nullable=False),
        sa.UniqueConstraint(
            "story_id", "campaign", "channel", name="uq_story_uses_story_id_campaign_channel"
        ),
    )
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("story_id", sa.Integer, nullable=True))
        batch.create_foreign_key(
            "fk_consents_story_id_stories", "stories", ["story_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.drop_constraint("fk_consents_story_id_stories", type_="foreignkey")
        batch.drop_column("story_id")
    op.drop_table("story_uses")
    op.drop_index("ix_story_history_story_id", "story_history")
    op.drop_table("story_history")
    op.drop_table("story_drafts")
    op.drop_index("ix_stories_status", "stories")
    op.drop_index("ix_stories_contact_id", "stories")
    op.drop_table("stories")
