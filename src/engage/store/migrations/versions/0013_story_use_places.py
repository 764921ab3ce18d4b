"""Where a story went out, in its contributor's words: story_uses.place.

"in our newsletter “Spring news”", "on Mastodon": written when the story goes out, so the
"your story went out" email says it plainly even if the campaign or engage.toml changes later.
Places recorded before this have no campaign subject or network to go on, so they read "in
our newsletter" or "on our social media".

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

story_uses = sa.table(
    "story_uses",
    sa.column("channel", sa.String),
    sa.column("place", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("story_uses") as batch:
        batch.add_column(sa.Column("place", sa.Text, nullable=False, server_default=""))
    op.execute(
        story_uses.update().values(
            place=sa.case(
                (story_uses.c.channel == "newsletter", "in our newsletter"),
                else_="on our social media",
            )
        )
    )
    # The server default only filled the rows already there; new rows get theirs from engage.
    with op.batch_alter_table("story_uses") as batch:
        batch.alter_column("place", existing_type=sa.Text, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("story_uses") as batch:
        batch.drop_column("place")
