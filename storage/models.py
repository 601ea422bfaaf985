"""The database schema: SQLAlchemy 2 typed models.

Every board-owned row carries ``board_id`` so that a repository scoped to one
board can filter on it and no query crosses boards. People are the exception:
a person may speak on several platforms (identities), and identities belong to
a workspace, which belongs to a board.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        float: Float(precision=53),
    }


class Board(Base):
    __tablename__ = "boards"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    next_number: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]


class Workspace(Base):
    """One Slack team, Discord guild or console, attached to exactly one board."""

    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Person(Base):
    """A human, possibly known under several platform identities."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("workspace_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    external_id: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200))


class Item(Base):
    """A feedback item. ``head_id`` is the head of its group (itself when not
    merged); ``demand`` is kept on heads only (0 on merged items). The rules that
    change ``demand``, ``votes``, ``head_id`` and ``merged_into_id`` live in
    ``bot.feedback.demand``."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("board_id", "number"),
        # The board by demand, groups only: "top" reads it in order, no sort.
        Index(
            "ix_items_board_top",
            "board_id",
            text("demand DESC"),
            "number",
            sqlite_where=text("merged_into_id IS NULL"),
            postgresql_where=text("merged_into_id IS NULL"),
        ),
        Index("ix_items_board_id", "board_id", "id"),
        Index("ix_items_head", "head_id"),
        # Only merged items are ever looked up by their merge link.
        Index(
            "ix_items_merged_into_id",
            "merged_into_id",
            sqlite_where=text("merged_into_id IS NOT NULL"),
            postgresql_where=text("merged_into_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"))
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="new")
    requester_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"))
    head_id: Mapped[int | None] = mapped_column(Integer)
    demand: Mapped[int] = mapped_column(Integer, default=0)
    votes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    linked_metric: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ItemSource(Base):
    """Where an item was captured, and who captured it."""

    __tablename__ = "item_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    via: Mapped[str] = mapped_column(String(20))
    workspace_id: Mapped[int | None] = mapped_column(ForeignKey("workspaces.id"))
    channel: Mapped[str | None] = mapped_column(String(100))
    message_id: Mapped[str | None] = mapped_column(String(100))
    permalink: Mapped[str | None] = mapped_column(String(500))
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    captured_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    captured_at: Mapped[datetime]


class MessageRef(Base):
    """A chat message that stands for an item: a captured source or the bot's card."""

    __tablename__ = "message_refs"
    __table_args__ = (UniqueConstraint("workspace_id", "channel", "message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    channel: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(10))


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("item_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime]


class Backer(Base):
    """A person behind a group, and how many times (as requester or voter of any
    of its items) they stand behind it.

    A group's demand is the number of its backers; ``bot.feedback.demand`` keeps it
    exact on every change, so board views never count.
    """

    __tablename__ = "backers"

    head_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True, index=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"), index=True)
    weight: Mapped[int] = mapped_column(Integer)


class MergeEvent(Base):
    __tablename__ = "merge_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    into_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    action: Mapped[str] = mapped_column(String(10))
    by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime]


class StatusChange(Base):
    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime]


class ItemTag(Base):
    __tablename__ = "item_tags"
    __table_args__ = (
        UniqueConstraint("item_id", "tag"),
        Index("ix_item_tags_tag", "board_id", "tag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    tag: Mapped[str] = mapped_column(String(50))


class OutboxMessage(Base):
    """A notice to deliver, written in the transaction that caused it.

    ``dedupe_key`` is unique per board, so a repeated cause never queues twice.
    ``state`` goes queued → claimed (in a dispatcher's lane) → sending → sent, or
    failed (with ``attempts`` and ``last_error``), or skipped (muted, cancelled).
    While claimed or sending, ``owner`` is the dispatcher holding it, for as long as
    its heartbeat lasts; while queued, ``not_before`` is when to try next.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("board_id", "dedupe_key"),
        Index("ix_outbox_due", "state", "not_before"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id"))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    job: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(120))


class DispatcherBeat(Base):
    """A running dispatcher (scheduler or adapter process) and when it last said so."""

    __tablename__ = "dispatchers"

    owner: Mapped[str] = mapped_column(String(120), primary_key=True)
    host: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]


class Setting(Base):
    __tablename__ = "settings"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    key: Mapped[str] = mapped_column(String(100))
    value: Mapped[dict[str, Any]]


class Handshake(Base):
    """A one-time code: connect two identities, or join a workspace to a board."""

    __tablename__ = "handshakes"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


# -- North Star Metric ------------------------------------------------------------
# One deployment has one metric tree (lodestar.toml), so metric data is not
# scoped to a board; feedback linked to metrics is, and stays on its board.


class Snapshot(Base):
    """A metric's value for one period (hour, day or ISO week)."""

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("metric", "period_kind", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(64))
    period_kind: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[datetime]
    value: Mapped[float]
    source: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))


class SnapshotRevision(Base):
    """A value that was replaced by a later recording of the same period."""

    __tablename__ = "snapshot_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), index=True)
    period_kind: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[datetime]
    value: Mapped[float]
    source: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))
    replaced_at: Mapped[datetime]


class ProductEvent(Base):
    """A raw product event (actor did EVENT at a time), for event-fed metrics."""

    __tablename__ = "product_events"
    __table_args__ = (
        UniqueConstraint("event", "actor", "occurred_at"),
        Index("ix_product_events_event_time", "event", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime]
    properties: Mapped[dict[str, Any] | None]


class EventWeekActor(Base):
    """Who did an event in an ISO week (Monday 00:00 UTC): one row per (event, week,
    actor), kept at import time. Unique actors of several events in a week are the
    distinct actors of their rows, which no per-event count can give."""

    __tablename__ = "event_week_actors"

    event: Mapped[str] = mapped_column(String(100), primary_key=True)
    week_start: Mapped[datetime] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(200), primary_key=True)


class EventWeek(Base):
    """An event's week in two numbers, kept at import time: its distinct actors and
    its events. What event-fed metrics read, instead of every raw event."""

    __tablename__ = "event_weeks"

    event: Mapped[str] = mapped_column(String(100), primary_key=True)
    week_start: Mapped[datetime] = mapped_column(primary_key=True)
    actors: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)


class AlertEpisode(Base):
    """An alert rule's episode: alerted once when it opened, once when it closed."""

    __tablename__ = "alert_episodes"
    __table_args__ = (UniqueConstraint("rule", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    metric: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime]
    end: Mapped[datetime | None]
    peak: Mapped[float]
    detail: Mapped[dict[str, Any]]


class AlertMute(Base):
    __tablename__ = "alert_mutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(100), index=True)
    since: Mapped[datetime]
    until: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(200))
