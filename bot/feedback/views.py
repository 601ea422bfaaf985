"""Read models the feedback service hands to presenters and exporters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SourceView:
    via: str
    platform: str | None
    workspace: str | None
    channel: str | None
    message_id: str | None
    permalink: str | None
    author: str
    captured_by: str
    captured_at: datetime


@dataclass(frozen=True)
class ItemView:
    number: int
    text: str
    status: str
    demand: int  # of the group this item belongs to
    votes: int  # cast on this item itself
    requester: str
    created_at: datetime
    tags: tuple[str, ...] = ()
    merged_into: int | None = None
    head: int | None = None  # the number of its group's head, when merged
    linked_metric: str | None = None
    merged_items: tuple[int, ...] = ()
    sources: tuple[SourceView, ...] = ()
    history: tuple[tuple[str, str | None, datetime], ...] = ()
    #: The item's id: unlike its number, it never changes (a board join renumbers).
    id: int = 0
    #: For admins, once shipped: the ship DMs' fate.
    delivery: Delivery | None = None


@dataclass(frozen=True)
class Delivery:
    """How a ship's DMs went: notified, could not be reached, still on their way."""

    notified: int
    unreachable: int
    pending: int

    @property
    def total(self) -> int:
        return self.notified + self.unreachable + self.pending


@dataclass(frozen=True)
class Suggestion:
    number: int
    text: str
    status: str
    demand: int
    via: int | None = None  # the matched item, when it is merged into ``number``


@dataclass(frozen=True)
class Captured:
    item: ItemView
    created: bool
    suggestions: tuple[Suggestion, ...] = ()
    thread_of: str | None = None


@dataclass(frozen=True)
class VoteOutcome:
    item: ItemView
    changed: bool
    added: bool


@dataclass(frozen=True)
class ShipOutcome:
    item: ItemView
    already: bool
    people: int = 0
    threads: int = 0
    announcements: int = 0
    muted: int = 0
    shipped_at: datetime | None = None


@dataclass(frozen=True)
class Page:
    items: list[ItemView]
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class Backers:
    item: ItemView
    people: list[str] = field(default_factory=list)
