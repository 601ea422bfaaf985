"""What the core answers: platform-neutral data that each adapter renders natively.

This is the contract between the core and every chat adapter. A ``Reply`` says
what to show (text, an item card, fields, attachments, a form) and, in plain
fields, what the adapter must do beyond showing it: post it as the item's card
(``posts_card``), redraw the cards of changed groups (``redraw``), deliver the
outbox now (``deliver_now``), run slow work after answering (``follow_up``).
``kind`` is one of the declared ``Kind`` values, so an adapter can render every kind
and a test notices a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Every kind of reply the core gives (the ``kind`` of ``--json`` output)."""

    INFO = "info"
    HELP = "help"
    ERROR = "error"
    FORM = "form"
    # the feedback board
    ITEM_CREATED = "item_created"
    EXISTS = "exists"
    SUGGESTIONS = "suggestions"
    VOTE = "vote"
    LIST = "list"
    SHOW = "show"
    WHO = "who"
    MERGE = "merge"
    UNMERGE = "unmerge"
    STATUS = "status"
    SHIP = "ship"
    TAG = "tag"
    LINK = "link"
    MUTE = "mute"
    CONNECT = "connect"
    BOARD_JOIN = "board_join"
    EXPORT = "export"
    ANNOUNCE = "announce"
    ADMINS = "admins"
    # the North Star Metric
    NSM = "nsm"
    NSM_WHY = "nsm_why"
    NSM_CHART = "nsm_chart"
    NSM_TREE = "nsm_tree"
    NSM_HISTORY = "nsm_history"
    NSM_RECORD = "nsm_record"
    NSM_ALERTS = "nsm_alerts"
    NSM_CHANNEL = "nsm_channel"
    NSM_DIGEST = "nsm_digest"
    # notices delivered through the outbox
    SHIP_NOTICE = "ship_notice"
    NSM_ALERT = "nsm_alert"
    ALERT = "alert"
    RECOVERY = "recovery"
    NSM_SCHEDULE = "nsm_schedule"


@dataclass(frozen=True)
class ItemCard:
    """One item as a card: the adapter adds Vote / Who / Show buttons."""

    number: int
    text: str  # already defanged
    status: str
    demand: int
    tags: tuple[str, ...] = ()
    merged_into: int | None = None
    #: The line a posted card leads with (``📝 #3 logged: “…” (requested by Ana)``).
    headline: str = ""
    #: The item's id, which a board join never changes: buttons carry it beside the number.
    item_id: int = 0


@dataclass(frozen=True)
class PostedCard:
    """Where an item's card was posted, and what it must show now (to redraw it)."""

    platform: str
    workspace: str  # the platform's workspace id
    channel: str
    message_id: str
    card: ItemCard


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime: str
    title: str = ""


@dataclass(frozen=True)
class Form:
    """Ask the user for input: a modal on Slack/Discord, a prompt on the console."""

    kind: str
    title: str
    label: str
    submit_command: str


@dataclass
class Reply:
    text: str
    private: bool = True
    kind: Kind = Kind.INFO
    card: ItemCard | None = None
    items: list[ItemCard] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    form: Form | None = None
    thread_of: str | None = None  # reply in the thread of this message id
    #: A public reply that is ``card``'s item card: the adapter posts it with the
    #: card's buttons and remembers where, so reactions on it vote and changes redraw it.
    posts_card: bool = False
    #: Item numbers whose groups changed: redraw every posted card of those groups.
    redraw: tuple[int, ...] = ()
    #: Notices were queued in the outbox: deliver them now rather than at the next tick.
    deliver_now: bool = False
    #: Work of seconds the reply promises (an export): run it after answering, off the
    #: event loop, and deliver the replies it returns. Only asked for by adapters that
    #: must answer fast (``Router.command(..., fast=True)``).
    follow_up: Callable[[], list[Reply]] | None = field(default=None, repr=False)
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = Kind(self.kind)  # an undeclared kind fails here, in tests, not for users

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": str(self.kind), "text": self.text, "private": self.private}
        if self.card:
            out["card"] = _card_json(self.card)
        if self.items:
            out["items"] = [_card_json(card) for card in self.items]
        if self.fields:
            out["fields"] = [{"name": k, "value": v} for k, v in self.fields]
        if self.attachments:
            out["attachments"] = [
                {"filename": a.filename, "mime": a.mime, "bytes": len(a.content)}
                for a in self.attachments
            ]
        if self.form:
            out["form"] = asdict(self.form)
        if self.thread_of:
            out["thread_of"] = self.thread_of
        out.update(self.data)
        return out


def _card_json(card: ItemCard) -> dict[str, Any]:
    """A card as data; its headline is for rendering posted cards, not for tools."""
    out = asdict(card)
    del out["headline"], out["item_id"]
    return out


def private(text: str, kind: Kind = Kind.INFO, **extra: Any) -> Reply:
    return Reply(text=text, private=True, kind=kind, **extra)


def public(text: str, kind: Kind = Kind.INFO, **extra: Any) -> Reply:
    return Reply(text=text, private=False, kind=kind, **extra)
