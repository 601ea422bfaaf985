"""outbox lifecycle: queued → sending (owned, leased) → sent | failed | skipped; dispatcher heartbeats

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 11:00:00

A notice being sent now names its owner (the dispatcher process holding its
lease), and each dispatcher keeps a heartbeat, so a restarted process can take
back at once the notices of one that provably died instead of waiting out the
lease. "pending" is called "queued".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=120), nullable=True))
    op.execute("UPDATE outbox SET state = 'queued' WHERE state = 'pending'")
    op.create_table(
        "dispatchers",
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("host", sa.String(length=100), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", storage.models.UTCDateTime(), nullable=False),
        sa.Column("beat_at", storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_dispatchers")),
    )


def downgrade() -> None:
    op.drop_table("dispatchers")
    op.execute("UPDATE outbox SET state = 'pending' WHERE state = 'queued'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("owner")
