"""The feedback board's use cases: capture, votes, views, status, ship, tags, links.

Merges, identities and workspace settings have services of their own; what any of
them does to demand goes through ``bot.feedback.demand``.
"""

from __future__ import annotations

import math
import secrets
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from datetime import datetime

from bot.clock import Clock
from bot.context import ChatMessage
from bot.errors import BadInput
from bot.feedback import demand
from bot.feedback.read import BoardReader, item_view, item_views
from bot.feedback.read import detail_view as _detail
from bot.feedback.suggest import DuplicateFinder
from bot.feedback.views import (
    Backers,
    Captured,
    Delivery,
    ItemView,
    Page,
    ShipOutcome,
    Suggestion,
    VoteOutcome,
)
from bot.notify.posts import queue_post
from bot.notify.ship import cancel_ship_notices, dms_of, queue_ship_notices
from bot.replies import Reply
from bot.scope import ADMIN, ANYONE, Scope, Scopes, requires
from bot.text import feedback_text
from storage.models import Item, ItemSource
from storage.repositories import OPEN_STATUSES
from storage.uow import Database

PAGE_SIZE = 10
ALL_STATUSES = ("new", "planned", "in-progress", "shipped", "declined")
#: Cards redrawn per item after a change (the newest ones).
CARDS_PER_ITEM = 10


@dataclass(frozen=True)
class CardAt:
    """A posted card of an item, and the item as it must show now."""

    platform: str
    workspace: str
    channel: str
    message_id: str
    item: ItemView


@dataclass(frozen=True)
class CardOwner:
    """Whose card (or captured message) a chat message is: item ``number`` of the caller's
    board, another board's only (``foreign``), or nobody's (both empty)."""

    number: int | None = None
    foreign: bool = False


class BoardService:
    def __init__(self, db: Database, clock: Clock, scopes: Scopes, finder: DuplicateFinder) -> None:
        self.db = db
        self.clock = clock
        self.scopes = scopes
        self.finder = finder

    # -- capture ---------------------------------------------------------------

    @requires(ANYONE)
    def capture(
        self,
        scope: Scope,
        text: str,
        *,
        via: str = "command",
        message: ChatMessage | None = None,
    ) -> Captured:
        """Log feedback. With ``message``, it is somebody's chat message and its
        author is the requester; capturing the same message twice gives the
        existing item."""
        text = feedback_text(text)
        now = self.clock.now()
        uow, repo = scope.uow, scope.repo
        requester = scope.person
        if message is not None:
            repo.lock_message(scope.workspace.id, message.channel, message.message_id)
            existing = repo.item_for_message(
                scope.workspace.id, message.channel, message.message_id
            )
            if existing is not None:
                return Captured(item_view(scope, existing), created=False)
            requester = uow.people.ensure(
                scope.workspace.id, message.author, message.author_name, now
            )
        number = repo.take_number()
        item_id = demand.new_group(scope.groups, number, text, requester.id, now)
        repo.add_source(
            ItemSource(
                item_id=item_id,
                via=via,
                workspace_id=scope.workspace.id,
                channel=message.channel if message else scope.caller.channel,
                message_id=message.message_id if message else None,
                permalink=message.permalink if message else None,
                author_id=requester.id,
                captured_by_id=scope.person.id,
                captured_at=now,
            )
        )
        if message is not None:
            repo.remember_message(
                item_id, scope.workspace.id, message.channel, message.message_id, "source"
            )
        suggestions = self._suggest(scope, text, exclude={item_id})
        # A new item is known without asking the database again.
        view = ItemView(
            number=number,
            text=text,
            status="new",
            demand=1,
            votes=0,
            requester=requester.display_name,
            created_at=now,
            id=item_id,
        )
        return Captured(
            view,
            created=True,
            suggestions=tuple(suggestions),
            thread_of=message.message_id if message else None,
        )

    def warm_up(self, pool: Executor | None = None) -> Future[None]:
        """Build every board's duplicate index on a worker thread, and every later one
        too: until a board's is ready, its captures come without suggestions rather than
        wait seconds for it (a server calls this at start; done when all are built)."""
        with self.db.reader() as uow:
            boards = sorted({w.board_id for w in uow.workspaces.all()})
        return self.finder.build_in_background(self._texts_of_board, boards, pool)

    def _texts_of_board(self, board_id: int) -> list[tuple[int, str]]:
        with self.db.reader() as uow:
            return uow.board(board_id).texts_since(0)

    def _suggest(self, scope: Scope, text: str, exclude: set[int]) -> list[Suggestion]:
        matches = self.finder.search(scope.repo, text, limit=8, exclude=exclude)
        found = scope.repo.with_heads(item_id for item_id, _ in matches)
        out: list[Suggestion] = []
        seen: set[int] = set()
        for item_id, _score in matches:
            row = found[item_id]
            if row.head_id in seen or row.head_id in exclude:
                continue
            seen.add(row.head_id)
            out.append(
                Suggestion(
                    number=row.head_number,
                    text=row.head_text,
                    status=row.head_status,
                    demand=row.head_demand,
                    via=row.number if row.head_id != item_id else None,
                )
            )
            if len(out) == 3:
                break
        return out

    # -- votes -----------------------------------------------------------------

    @requires(ANYONE)
    def vote(self, scope: Scope, number: int, *, add: bool = True) -> VoteOutcome:
        found = scope.repo.item_with_facts(number)
        if found is None:
            scope.item(number)  # raises UnknownItem
        assert found is not None
        item, requester, tags = found
        changed = demand.vote(scope.groups, item, scope.person.id, add=add, now=self.clock.now())
        known = (
            ({item.requester_id: requester}, {item.id: tags}) if item.head_id == item.id else None
        )
        return VoteOutcome(item_views(scope, [item], known)[0], changed=changed, added=add)

    @requires(ANYONE)
    def vote_on_message(
        self, scope: Scope, channel: str, message_id: str, *, add: bool
    ) -> VoteOutcome | None:
        """A vote reaction on a card or a captured message; None if it is neither."""
        item = scope.repo.item_for_message(scope.workspace.id, channel, message_id)
        if item is None:
            return None
        changed = demand.vote(scope.groups, item, scope.person.id, add=add, now=self.clock.now())
        return VoteOutcome(item_view(scope, item), changed=changed, added=add)

    # -- cards -------------------------------------------------------------------

    def remember_card(
        self, platform: str, workspace: str, number: int, channel: str, message_id: str
    ) -> bool:
        """The adapter posted item ``number``'s card: reactions on it now vote and
        changes redraw it. One statement (it runs right behind the next ack); False
        when there is no such item."""
        with self.db.uow() as uow:
            known = uow.workspaces.remember_card(platform, workspace, number, channel, message_id)
            uow.commit()
            return known

    @requires(ANYONE)
    def queue_post(self, scope: Scope, reply: Reply, channel: str, thread: str | None) -> bool:
        """The adapter could not post ``reply`` (the platform failed): the outbox posts it
        later, with retries, and remembers it if it is an item's card."""
        return queue_post(
            scope.uow, scope.board_id, scope.workspace.id, channel, thread, reply, self.clock.now()
        )

    @requires(ANYONE)
    def card_item(self, scope: Scope, channel: str, message_id: str) -> int | None:
        """The number of the item whose card or source this message is, on the
        caller's board; None if it is neither."""
        item = scope.repo.item_for_message(scope.workspace.id, channel, message_id)
        return None if item is None else item.number

    @requires(ANYONE)
    def card_owner(self, scope: Scope, channel: str, message_id: str) -> CardOwner:
        """Which board a message stands for an item of: a button on a card acts only for
        the board that posted it (several boards post in a shared channel)."""
        found = scope.uow.workspaces.items_of_message(scope.caller.platform, channel, message_id)
        mine = [number for board_id, number in found if board_id == scope.board_id]
        return CardOwner(mine[0]) if mine else CardOwner(foreign=bool(found))

    @requires(ANYONE)
    def queue_redraws(self, scope: Scope, cards: list[tuple[str, str, str, str, int]]) -> int:
        """Redraws of posted cards another process must make (another platform's cards,
        after a board join): (platform, workspace, channel, message id, item id) each,
        queued in the outbox; the card is drawn when the redraw is delivered."""
        workspaces = {
            (w.platform, w.external_id): w for w in scope.uow.workspaces.of_board(scope.board_id)
        }
        stamp = f"{self.clock.now():%Y%m%dT%H%M%S.%f}-{secrets.token_hex(4)}"  # each change
        queued = 0
        for platform, workspace, channel, message_id, item_id in cards:
            found = workspaces.get((platform, workspace))
            if found is None:
                continue
            queued += scope.uow.outbox.enqueue(
                scope.board_id,
                f"redraw:{found.id}:{channel}:{message_id}:{stamp}"[:200],
                "redraw",
                {
                    "kind": "redraw",
                    "workspace_id": found.id,
                    "channel": channel,
                    "message_id": message_id,
                    "item_id": item_id,
                },
                self.clock.now(),
            )
        return queued

    @requires(ANYONE)
    def item_by_id(self, scope: Scope, item_id: int) -> ItemView | None:
        """An item of the caller's board by its id (None: not on it)."""
        found = scope.repo.items_by_ids([item_id]).get(item_id)
        return None if found is None else item_view(scope, found)

    @requires(ANYONE)
    def number_of(self, scope: Scope, item_id: int) -> int | None:
        """The number of item ``item_id`` on the caller's board (None: not on it)."""
        found = scope.repo.items_by_ids([item_id]).get(item_id)
        return None if found is None else found.number

    @requires(ANYONE)
    def cards_of_groups(self, scope: Scope, numbers: tuple[int, ...]) -> list[CardAt]:
        """Every posted card (the newest few per item) of every item in the groups of
        these items, anywhere on the caller's board, with what each must show now."""
        heads = set()
        for number in numbers:
            item = scope.repo.item(number)
            if item is not None:
                heads.add(item.head_id or item.id)
        items = [i for head in sorted(heads) for i in scope.repo.group(head)]
        refs = scope.repo.cards((i.id for i in items), CARDS_PER_ITEM)
        if not refs:
            return []
        views = {i.id: v for i, v in zip(items, item_views(scope, items), strict=True)}
        workspaces = {w.id: w for w in scope.uow.workspaces.of_board(scope.board_id)}
        return [
            CardAt(
                workspaces[ref.workspace_id].platform,
                workspaces[ref.workspace_id].external_id,
                ref.channel,
                ref.message_id,
                views[ref.item_id],
            )
            for ref in refs
            if ref.workspace_id in workspaces
        ]

    # -- board views -----------------------------------------------------------

    @requires(ANYONE)
    def top(self, scope: Scope, limit: int) -> list[ItemView]:
        rows = scope.repo.top(limit)
        items = [item for item, _, _ in rows]
        known = ({i.requester_id: name for i, name, _ in rows}, {i.id: t for i, _, t in rows})
        return item_views(scope, items, known)

    @requires(ANYONE)
    def list(self, scope: Scope, status: str | None, tag: str | None, page: int) -> Page:
        statuses = {None: OPEN_STATUSES, "open": OPEN_STATUSES, "all": ALL_STATUSES}.get(
            status, (status,)
        )
        items, total = scope.repo.page(statuses, tag, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        return Page(item_views(scope, items), total, page, max(1, math.ceil(total / PAGE_SIZE)))

    @requires(ANYONE)
    def search(self, scope: Scope, words: tuple[str, ...]) -> list[ItemView]:
        items = scope.repo.search(words, limit=10)
        if not items:
            found = self.finder.search(scope.repo, " ".join(words), limit=5, exclude=set())
            by_id = scope.repo.items_by_ids(item_id for item_id, _ in found)
            items = [by_id[item_id] for item_id, _ in found]
        return item_views(scope, items)

    @requires(ANYONE)
    def show(self, scope: Scope, number: int) -> ItemView:
        view = _detail(scope, scope.item(number))
        if view.status != "shipped" or not scope.is_admin:
            return view
        head = view.head or view.number
        head_id = scope.item(head).id
        states = scope.uow.outbox.counts_for(scope.board_id, dms_of(head_id))
        delivery = Delivery(
            notified=states.get("sent", 0),
            unreachable=states.get("failed", 0),
            pending=sum(states.get(s, 0) for s in ("queued", "claimed", "sending")),
        )
        return replace(view, delivery=delivery)

    @requires(ANYONE)
    def who(self, scope: Scope, number: int) -> Backers:
        item = scope.item(number)
        names = scope.uow.people.names(scope.repo.backers(item.head_id or item.id))
        return Backers(item_view(scope, item), sorted(names.values(), key=str.casefold))

    @requires(ANYONE)
    def mine(self, scope: Scope, limit: int = 10) -> tuple[list[ItemView], list[ItemView]]:
        """The caller's own requests and the items they vote on (newest first)."""
        asked, voted = scope.repo.of_person(scope.person.id, limit)
        return item_views(scope, asked), item_views(scope, voted)

    @requires(ANYONE)
    def linked_to(self, scope: Scope, metrics: list[str], limit: int = 5) -> list[ItemView]:
        return item_views(scope, scope.repo.linked(metrics, limit))

    @requires(ANYONE)
    def shipped_between(
        self, scope: Scope, since: datetime, until: datetime
    ) -> list[tuple[ItemView, datetime]]:
        rows = scope.repo.shipped_between(since, until)
        views = item_views(scope, [item for item, _ in rows])
        return [(view, at) for view, (_, at) in zip(views, rows, strict=True)]

    @requires(ANYONE)
    def activity(
        self, scope: Scope, since: datetime, until: datetime, limit: int = 3
    ) -> tuple[list[ItemView], list[tuple[ItemView, int]]]:
        """Items logged in the window, and the groups that gained most backing in it."""
        created = item_views(scope, scope.repo.created_between(since, until))
        rising = scope.repo.new_backing(since, until, limit)
        views = item_views(scope, [item for item, _ in rising])
        return created, [(v, n) for v, (_, n) in zip(views, rising, strict=True)]

    @requires(ANYONE)
    def items(self, scope: Scope) -> list[ItemView]:
        """Every item of the caller's board."""
        return item_views(scope, scope.repo.all_items())

    @requires(ADMIN, "export the board", reads=True)
    def export(self, scope: Scope) -> list[ItemView]:
        return item_views(scope, scope.repo.all_items())

    def items_of_workspace(self, workspace_id: int) -> list[ItemView]:
        """Every item of a workspace's board (the operator's export)."""
        with self.db.uow() as uow:
            workspace = uow.workspaces.by_id(workspace_id)
            reader = BoardReader(uow, uow.board(workspace.board_id))
            return item_views(reader, reader.repo.all_items())

    # -- status, ship, tags, links: they act on the group, through its head ------

    @requires(ADMIN, "change an item's status")
    def set_status(
        self, scope: Scope, number: int, status: str, note: str | None
    ) -> tuple[ItemView, str]:
        """Returns the group head's view, its previous status, and how many ship notices
        not yet sent were cancelled (taken back from shipped)."""
        head = self._head_locked(scope, number)
        previous = head.status
        if previous == status:
            raise BadInput(f"#{head.number} is already {status}.")
        now = self.clock.now()
        head.status = status
        head.updated_at = now
        scope.repo.log_status(head.id, status, note, scope.person.id, now)
        cancelled = 0
        if previous == "shipped":
            cancelled = cancel_ship_notices(scope.uow, scope.repo.board_id, head, now)
        scope.uow.session.flush()
        return item_view(scope, head), previous, cancelled

    @requires(ADMIN, "ship items")
    def ship(self, scope: Scope, number: int, note: str | None) -> ShipOutcome:
        head = self._head_locked(scope, number)
        if head.status == "shipped":
            shipped_at = next(
                (
                    c.at
                    for c in reversed(scope.repo.status_history(head.id))
                    if c.status == "shipped"
                ),
                None,
            )
            return ShipOutcome(item_view(scope, head), already=True, shipped_at=shipped_at)
        now = self.clock.now()
        head.status = "shipped"
        head.updated_at = now
        scope.repo.log_status(head.id, "shipped", note, scope.person.id, now)
        queued = queue_ship_notices(scope.uow, scope.repo, head, note, now)
        scope.uow.session.flush()
        return ShipOutcome(
            item_view(scope, head),
            already=False,
            people=queued.people,
            threads=queued.threads,
            announcements=queued.announcements,
            muted=queued.muted,
            shipped_at=now,
        )

    @requires(ADMIN, "tag items")
    def tag(
        self, scope: Scope, number: int, add: tuple[str, ...], remove: tuple[str, ...]
    ) -> ItemView:
        """Returns the view of the item asked about (showing its group's tags)."""
        item = scope.item(number)
        head = self._head_locked(scope, number)
        for tag in add:
            scope.repo.add_tag(head.id, tag)
        for tag in remove:
            scope.repo.remove_tag(head.id, tag)
        return item_view(scope, item)

    @requires(ADMIN, "link items to metrics")
    def link(
        self,
        scope: Scope,
        number: int,
        metric: str | None,
        known_metrics: set[str] | None = None,
    ) -> ItemView:
        if metric is not None and known_metrics is not None and metric not in known_metrics:
            names = ", ".join(sorted(known_metrics)) or "none are defined"
            raise BadInput(f"There is no metric “{metric}” (known: {names}).")
        item = scope.item(number)
        head = self._head_locked(scope, number)
        head.linked_metric = metric
        scope.uow.session.flush()
        return item_view(scope, item)

    @staticmethod
    def _head_locked(scope: Scope, number: int) -> Item:
        """The head of item ``number``'s group, its group locked against merges."""
        item = scope.item(number)
        return scope.repo.item_by_id(demand.lock_group(scope.groups, item))
