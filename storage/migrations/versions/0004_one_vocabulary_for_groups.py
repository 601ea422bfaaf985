"""one vocabulary for groups: items.root_id is head_id, group_members is backers

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00

A group is an item and everything merged into it; its head is the item it is
named after; its backers are the people behind it. The schema now says so.
Plain renames: no row is copied, so the upgrade is instant on a large board.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_CONSTRAINTS = (
    ("pk_group_members", "pk_backers"),
    ("fk_group_members_board_id_boards", "fk_backers_board_id_boards"),
    ("fk_group_members_person_id_people", "fk_backers_person_id_people"),
    ("fk_group_members_root_id_items", "fk_backers_head_id_items"),
)


def _rename(old_table: str, new_table: str, old_col: str, new_col: str, pairs) -> None:
    op.execute(f"DROP INDEX ix_{old_table}_board_id")
    op.execute(f"DROP INDEX ix_{old_table}_person_id")
    op.execute(f"ALTER TABLE {old_table} RENAME TO {new_table}")
    op.execute(f"ALTER TABLE {new_table} RENAME COLUMN {old_col} TO {new_col}")
    op.execute(f"CREATE INDEX ix_{new_table}_board_id ON {new_table} (board_id)")
    op.execute(f"CREATE INDEX ix_{new_table}_person_id ON {new_table} (person_id)")
    if op.get_bind().dialect.name == "postgresql":
        for old, new in pairs:
            op.execute(f"ALTER TABLE {new_table} RENAME CONSTRAINT {old} TO {new}")


def upgrade() -> None:
    op.execute("DROP INDEX ix_items_root")
    op.execute("ALTER TABLE items RENAME COLUMN root_id TO head_id")
    op.execute("CREATE INDEX ix_items_head ON items (head_id)")
    _rename("group_members", "backers", "root_id", "head_id", _PG_CONSTRAINTS)


def downgrade() -> None:
    _rename(
        "backers",
        "group_members",
        "head_id",
        "root_id",
        [(new, old) for old, new in _PG_CONSTRAINTS],
    )
    op.execute("DROP INDEX ix_items_head")
    op.execute("ALTER TABLE items RENAME COLUMN head_id TO root_id")
    op.execute("CREATE INDEX ix_items_root ON items (root_id)")
