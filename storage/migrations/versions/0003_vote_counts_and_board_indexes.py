"""vote counts on items; indexes for the board's hot queries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 23:20:00

``items.votes`` keeps the number of votes cast on each item, so board views read
it instead of counting the votes table. The top-of-board index holds only merge
groups, in demand order; the merge-link index holds only merged items.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("votes", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_index("ix_items_board_demand")
        batch_op.drop_index(batch_op.f("ix_items_merged_into_id"))
    op.execute(
        "UPDATE items SET votes = (SELECT count(*) FROM votes WHERE votes.item_id = items.id)"
    )
    op.create_index(
        "ix_items_board_top",
        "items",
        ["board_id", sa.text("demand DESC"), "number"],
        sqlite_where=sa.text("merged_into_id IS NULL"),
        postgresql_where=sa.text("merged_into_id IS NULL"),
    )
    op.create_index("ix_items_board_id", "items", ["board_id", "id"])
    op.create_index(
        "ix_items_merged_into_id",
        "items",
        ["merged_into_id"],
        sqlite_where=sa.text("merged_into_id IS NOT NULL"),
        postgresql_where=sa.text("merged_into_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_items_merged_into_id", table_name="items")
    op.drop_index("ix_items_board_id", table_name="items")
    op.drop_index("ix_items_board_top", table_name="items")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("votes")
        batch_op.create_index("ix_items_merged_into_id", ["merged_into_id"], unique=False)
        batch_op.create_index(
            "ix_items_board_demand", ["board_id", "demand", "number"], unique=False
        )
