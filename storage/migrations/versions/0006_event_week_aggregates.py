"""weekly aggregates of raw events, kept at import time

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 10:00:00

Event-fed metrics read ``event_weeks`` (distinct actors and events per event and
ISO week) and, for unique actors across several events, ``event_week_actors``
(one row per event, week and actor), instead of every raw event. Both are filled
here from the events already stored. A week starts on Monday 00:00 UTC, as
``storage.metrics.week_start`` computes it for new imports.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _week_start_sql(dialect: str) -> str:
    """Monday 00:00 of ``occurred_at``'s week, stored as the models store datetimes
    (naive UTC; on SQLite the text SQLAlchemy writes, microseconds included)."""
    if dialect == "postgresql":
        return "date_trunc('week', occurred_at)"
    # The date part only: SQLite rounds 23:59:59.999999 up to the next day.
    return "date(substr(occurred_at, 1, 10), 'weekday 0', '-6 days') || ' 00:00:00.000000'"


def upgrade() -> None:
    op.create_table(
        "event_week_actors",
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("week_start", storage.models.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("event", "week_start", "actor", name=op.f("pk_event_week_actors")),
    )
    op.create_table(
        "event_weeks",
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("week_start", storage.models.UTCDateTime(), nullable=False),
        sa.Column("actors", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event", "week_start", name=op.f("pk_event_weeks")),
    )
    week = _week_start_sql(op.get_bind().dialect.name)
    op.execute(
        "INSERT INTO event_week_actors (event, week_start, actor) "
        f"SELECT DISTINCT event, {week}, actor FROM product_events"
    )
    op.execute(
        "INSERT INTO event_weeks (event, week_start, actors, events) "
        f"SELECT event, {week}, count(DISTINCT actor), count(*) FROM product_events "
        f"GROUP BY event, {week}"
    )


def downgrade() -> None:
    op.drop_table("event_weeks")
    op.drop_table("event_week_actors")
