"""The feedback board's use cases. Adapters call these through the router.

Demand is kept exact on every change: a ledger row per (group, person) counts how
often that person stands behind the group (as requester or voter), and a root's
``demand`` is the number of its rows. Merge and unmerge move ledger weights and
change only the merge link, so unmerge restores exactly what merge changed.
"""

from __future__ import annotations

import math
import re
import secrets
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.context import Caller, ChatMessage
from bot.errors import BadInput, MergeRefused, NotAllowed, TextTooLong, UnknownItem
from bot.feedback.suggest import DuplicateFinder
from bot.feedback.views import (
    Backers,
    Captured,
    ItemView,
    Page,
    ShipOutcome,
    SourceView,
    Suggestion,
    VoteOutcome,
)
from bot.notify.ship import queue_ship_notices
from bot.text import MAX_FEEDBACK_CHARS, defang
from storage.models import Handshake, Item, ItemSource, Person, Workspace
from storage.repositories import OPEN_STATUSES, BoardRepository
from storage.uow import Database, UnitOfWork

CODE_TTL = timedelta(minutes=15)
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PAGE_SIZE = 10


@dataclass
class Scope:
    """The caller's workspace, board and person inside one unit of work."""

    uow: UnitOfWork
    workspace: Workspace
    person: Person
    repo: BoardRepository

    @property
    def board_id(self) -> int:
        return self.workspace.board_id


class FeedbackService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        finder: DuplicateFinder | None = None,
        make_code: Callable[[], str] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.finder = finder or DuplicateFinder()
        self.make_code = make_code or (
            lambda: "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
        )

    # -- scope and permissions -----------------------------------------------

    def _scope(self, uow: UnitOfWork, caller: Caller) -> Scope:
        found = uow.people.resolve(caller.platform, caller.workspace, caller.user)
        if found is not None and found[1] is not None and found[2] is not None:
            workspace, identity, person = found
            if caller.name and identity.display_name != caller.name:
                identity.display_name = person.display_name = caller.name
        else:  # first words from this workspace or this person
            now = self.clock.now()
            workspace = uow.workspaces.ensure(
                caller.platform, caller.workspace, caller.workspace_name or caller.workspace, now
            )
            person = uow.people.ensure(workspace.id, caller.user, caller.name, now)
        return Scope(uow, workspace, person, uow.board(workspace.board_id))

    def is_admin(self, uow: UnitOfWork, workspace: Workspace, caller: Caller) -> bool:
        if caller.is_platform_admin:
            return True
        # Stable user ids only: a display name can be taken by anyone.
        return caller.user in (uow.workspaces.setting(workspace.id, "admins") or [])

    def _require_admin(self, scope: Scope, caller: Caller, action: str) -> None:
        if not self.is_admin(scope.uow, scope.workspace, caller):
            raise NotAllowed(action)

    def _item(self, scope: Scope, number: int, *, lock: bool = False) -> Item:
        item = scope.repo.item(number, lock=lock)
        if item is None:
            raise UnknownItem(number)
        return item

    # -- capture ---------------------------------------------------------------

    def capture(
        self,
        caller: Caller,
        text: str,
        *,
        via: str = "command",
        message: ChatMessage | None = None,
    ) -> Captured:
        """Log feedback. With ``message``, it is somebody's chat message and its
        author is the requester; capturing the same message twice gives the
        existing item."""
        text = text.strip()
        if not "".join(c for c in text if unicodedata.category(c) != "Cf").strip():
            raise BadInput("There is nothing to log: write the feedback after /feedback.")
        if len(text) > MAX_FEEDBACK_CHARS:
            raise TextTooLong(len(text), MAX_FEEDBACK_CHARS)
        now = self.clock.now()
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            repo = scope.repo
            requester = scope.person
            if message is not None:
                repo.lock_message(scope.workspace.id, message.channel, message.message_id)
                existing = repo.item_for_message(
                    scope.workspace.id, message.channel, message.message_id
                )
                if existing is not None:
                    return Captured(self._view(scope, existing), created=False)
                requester = uow.people.ensure(
                    scope.workspace.id, message.author, message.author_name, now
                )
            item_id, number = repo.create_item(text, requester.id, now)
            repo.add_source(
                ItemSource(
                    item_id=item_id,
                    via=via,
                    workspace_id=scope.workspace.id,
                    channel=message.channel if message else caller.channel,
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
            uow.commit()
        # A new item is known without asking the database again.
        view = ItemView(
            number=number,
            text=text,
            status="new",
            demand=1,
            votes=0,
            requester=requester.display_name,
            created_at=now,
        )
        return Captured(
            view,
            created=True,
            suggestions=tuple(suggestions),
            thread_of=message.message_id if message else None,
        )

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

    def remember_card(self, caller: Caller, number: int, channel: str, message_id: str) -> None:
        """The adapter posted item ``number``'s card: reactions on it now vote.

        One statement: it runs after every capture, right behind the next ack."""
        with self.db.uow() as uow:
            if not uow.workspaces.remember_card(
                caller.platform, caller.workspace, number, channel, message_id
            ):
                raise UnknownItem(number)
            uow.commit()

    def cards(self, caller: Caller, number: int, limit: int = 10) -> list[tuple[str, str]]:
        """(channel, message id) of item ``number``'s posted cards in the caller's
        workspace, newest first: any process can redraw them."""
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            item = scope.repo.item(number)
            if item is None:
                return []
            refs = [
                (r.channel, r.message_id)
                for r in scope.repo.cards(item.id)
                if r.workspace_id == scope.workspace.id
            ]
            uow.commit()
            return refs[::-1][:limit]

    def item_for_message(self, caller: Caller, channel: str, message_id: str) -> int | None:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            item = scope.repo.item_for_message(scope.workspace.id, channel, message_id)
            uow.commit()
            return None if item is None else item.number

    # -- votes -----------------------------------------------------------------

    def vote(self, caller: Caller, number: int, *, add: bool = True) -> VoteOutcome:
        now = self.clock.now()
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            repo = scope.repo
            found = repo.item_with_facts(number)
            if found is None:
                raise UnknownItem(number)
            item, requester, tags = found
            root_id = self._lock_group_of(repo, item)
            changed = (
                repo.add_vote(item.id, scope.person.id, now)
                if add
                else repo.remove_vote(item.id, scope.person.id)
            )
            if changed:
                repo.add_demand(
                    root_id, repo.bump_member(root_id, scope.person.id, 1 if add else -1)
                )
            [view] = self._views(scope, [item], ({item.requester_id: requester}, {item.id: tags}))
            uow.commit()
        return VoteOutcome(view, changed=changed, added=add)

    def vote_on_message(
        self, caller: Caller, channel: str, message_id: str, *, add: bool
    ) -> VoteOutcome | None:
        """A vote reaction on a card or a captured message; None if it is neither."""
        number = self.item_for_message(caller, channel, message_id)
        return None if number is None else self.vote(caller, number, add=add)

    @staticmethod
    def _lock_group_of(repo: BoardRepository, item: Item) -> int:
        """Lock the item's group head; retry if a merge moved it meanwhile."""
        if not repo.needs_row_locks:
            return item.root_id or item.id
        while True:
            root_id = item.root_id or item.id
            repo.lock_roots(root_id)
            repo.session.refresh(item)
            if item.root_id == root_id:
                return root_id

    # -- board views -----------------------------------------------------------

    def top(self, caller: Caller, limit: int) -> list[ItemView]:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            rows = scope.repo.top(limit)
            items = [item for item, _, _ in rows]
            known = ({i.requester_id: name for i, name, _ in rows}, {i.id: t for i, _, t in rows})
            views = self._views(scope, items, known)
            uow.commit()
            return views

    def list(self, caller: Caller, status: str | None, tag: str | None, page: int) -> Page:
        statuses = {
            None: OPEN_STATUSES,
            "open": OPEN_STATUSES,
            "all": ("new", "planned", "in-progress", "shipped", "declined"),
        }.get(status, (status,))
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            items, total = scope.repo.page(statuses, tag, (page - 1) * PAGE_SIZE, PAGE_SIZE)
            views = self._views(scope, items)
            uow.commit()
        return Page(views, total, page, max(1, math.ceil(total / PAGE_SIZE)))

    def search(self, caller: Caller, words: tuple[str, ...]) -> list[ItemView]:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            items = scope.repo.search(words, limit=10)
            if not items:
                found = self.finder.search(scope.repo, " ".join(words), limit=5, exclude=set())
                items = [scope.repo.item_by_id(item_id) for item_id, _ in found]
            views = self._views(scope, items)
            uow.commit()
            return views

    def mine(self, caller: Caller, limit: int = 10) -> tuple[list[ItemView], list[ItemView]]:
        """The caller's own requests and the items they vote on (newest first)."""
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            asked, voted = scope.repo.of_person(scope.person.id, limit)
            views = self._views(scope, asked), self._views(scope, voted)
            uow.commit()
            return views

    def linked_to(self, caller: Caller, metrics: list[str], limit: int = 5) -> list[ItemView]:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            views = self._views(scope, scope.repo.linked(metrics, limit))
            uow.commit()
            return views

    def shipped_between(
        self, caller: Caller, since: datetime, until: datetime
    ) -> list[tuple[ItemView, datetime]]:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            rows = scope.repo.shipped_between(since, until)
            views = self._views(scope, [item for item, _ in rows])
            uow.commit()
            return [(view, at) for view, (_, at) in zip(views, rows, strict=True)]

    def activity(
        self, caller: Caller, since: datetime, until: datetime, limit: int = 3
    ) -> tuple[list[ItemView], list[tuple[ItemView, int]]]:
        """Items logged in the window, and the groups that gained most backing in it."""
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            created = self._views(scope, scope.repo.created_between(since, until))
            rising = scope.repo.new_backing(since, until, limit)
            views = self._views(scope, [item for item, _ in rising])
            uow.commit()
            return created, [(v, n) for v, (_, n) in zip(views, rising, strict=True)]

    def caller_is_admin(self, caller: Caller) -> bool:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            allowed = self.is_admin(uow, scope.workspace, caller)
            uow.commit()
            return allowed

    def post_targets(self, default_channel: str | None) -> list[tuple[int, int, str]]:
        """(board id, workspace id, channel) for every workspace that takes metric posts:
        its own ``/nsm channel`` setting, else the configured default."""
        with self.db.uow() as uow:
            out = []
            for workspace in uow.workspaces.all():
                channel = uow.workspaces.setting(workspace.id, "nsm_channel") or default_channel
                if channel:
                    out.append((workspace.board_id, workspace.id, channel))
            return out

    def set_nsm_channel(self, caller: Caller, channel: str | None) -> None:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            self._require_admin(scope, caller, "set the metrics channel")
            uow.workspaces.set_setting(scope.workspace.id, "nsm_channel", channel)
            uow.commit()

    def show(self, caller: Caller, number: int) -> ItemView:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            view = self._view(scope, self._item(scope, number), detail=True)
            uow.commit()
            return view

    def who(self, caller: Caller, number: int) -> Backers:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            item = self._item(scope, number)
            members = scope.repo.members(item.root_id or item.id)
            names = uow.people.names(members)
            view = self._view(scope, item)
            uow.commit()
        return Backers(view, sorted(names.values(), key=str.casefold))

    # -- merges ----------------------------------------------------------------

    def merge(self, caller: Caller, number: int, into: int) -> tuple[ItemView, ItemView]:
        now = self.clock.now()
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            self._require_admin(scope, caller, "merge items")
            repo = scope.repo
            if number == into:
                raise MergeRefused(f"#{number} can't be merged into itself.")
            item, target = self._item(scope, number), self._item(scope, into)
            repo.lock_roots(item.root_id or item.id, target.root_id or target.id)
            uow.session.refresh(item)
            uow.session.refresh(target)
            if target.root_id == item.id:
                raise MergeRefused(
                    f"#{into} is already merged into #{number}: that merge would make a cycle."
                )
            if item.merged_into_id is not None:
                parent = repo.item_by_id(item.merged_into_id)
                raise MergeRefused(
                    f"#{number} is already merged into #{parent.number}; unmerge it first."
                )
            if target.merged_into_id is not None:
                head = repo.item_by_id(target.root_id or 0)
                raise MergeRefused(
                    f"#{into} is merged into #{head.number}; merge into #{head.number} instead."
                )
            moved = [i.id for i in repo.group(item.id)]
            repo.move_members(item.id, target.id, Counter(repo.members(item.id)))
            repo.set_root(moved, target.id)
            item.merged_into_id = target.id
            item.updated_at = now
            repo.log_merge(item.id, target.id, "merge", scope.person.id, now)
            uow.session.flush()
            uow.session.expire_all()
            views = (
                self._view(scope, repo.item_by_id(item.id)),
                self._view(scope, repo.item_by_id(target.id)),
            )
            uow.commit()
        return views

    def unmerge(self, caller: Caller, number: int) -> tuple[ItemView, ItemView]:
        now = self.clock.now()
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            self._require_admin(scope, caller, "unmerge items")
            repo = scope.repo
            item = self._item(scope, number)
            if item.merged_into_id is None:
                raise MergeRefused(f"#{number} is not merged into anything.")
            root_id = self._lock_group_of(repo, item)
            parent_id = item.merged_into_id
            group = repo.group(root_id)
            subtree = _subtree(item.id, group)
            repo.move_members(root_id, item.id, repo.contributions(subtree))
            repo.set_root([i.id for i in subtree], item.id)
            item.merged_into_id = None
            item.updated_at = now
            repo.log_merge(item.id, parent_id, "unmerge", scope.person.id, now)
            uow.session.flush()
            uow.session.expire_all()
            views = (
                self._view(scope, repo.item_by_id(item.id)),
                self._view(scope, repo.item_by_id(parent_id)),
            )
            uow.commit()
        return views

    # -- status, ship, tags, links ----------------------------------------------

    def set_status(
        self, caller: Caller, number: int, status: str, note: str | None
    ) -> tuple[ItemView, str]:
        """Returns the group head's view and its previous status."""
        now = self.clock.now()
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            self._require_admin(scope, caller, "change an item's status")
            item = self._item(scope, number)
            head = scope.repo.item_by_id(self._lock_group_of(scope.repo, item))
            previous = head.status
            if previous == status:
                raise BadInput(f"#{head.number} is already {status}.")
            head.status = status
            head.updated_at = now
            scope.repo.log_status(head.id, status, note, scope.person.id, now)
            uow.session.flush()
            view = self._view(scope, head)
            uow.commit()
        return view, previous

    def ship(self, caller: Caller, number: int, note: str | None) -> ShipOutcome:
        now = self.clock.now()
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            self._require_admin(scope, caller, "ship items")
            item = self._item(scope, number)
            head = scope.repo.item_by_id(self._lock_group_of(scope.repo, item))
            if head.status == "shipped":
                shipped_at = next(
                    (
                        c.at
                        for c in reversed(scope.repo.status_history(head.id))
                        if c.status == "shipped"
                    ),
                    None,
                )
                return ShipOutcome(self._view(scope, head), already=True, shipped_at=shipped_at)
            head.status = "shipped"
            head.updated_at = now
            scope.repo.log_status(head.id, "shipped", note, scope.person.id, now)
            queued = queue_ship_notices(uow, scope.repo, head, note, now)
            uow.session.flush()
            view = self._view(scope, head)
            uow.commit()
        return ShipOutcome(
            view,
            already=False,
            people=queued.people,
            threads=queued.threads,
            announcements=queued.announcements,
            muted=queued.muted,
            shipped_at=now,
        )

    def tag(
        self, caller: Caller, number: int, add: tuple[str, ...], remove: tuple[str, ...]
    ) -> ItemView:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            self._require_admin(scope, caller, "tag items")
            item = self._item(scope, number)
            for tag in add:
                scope.repo.add_tag(item.id, tag)
            for tag in remove:
                scope.repo.remove_tag(item.id, tag)
            view = self._view(scope, item)
            uow.commit()
            return view

    def link(
        self,
        caller: Caller,
        number: int,
        metric: str | None,
        known_metrics: set[str] | None = None,
    ) -> ItemView:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            self._require_admin(scope, caller, "link items to metrics")
            item = self._item(scope, number)
            if metric is not None and known_metrics is not None and metric not in known_metrics:
                names = ", ".join(sorted(known_metrics)) or "none are defined"
                raise BadInput(f"There is no metric “{metric}” (known: {names}).")
            item.linked_metric = metric
            uow.session.flush()
            view = self._view(scope, item)
            uow.commit()
            return view

    # -- people ------------------------------------------------------------------

    def set_muted(self, caller: Caller, muted: bool) -> bool:
        """Returns whether anything changed."""
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            changed = scope.person.muted != muted
            scope.person.muted = muted
            uow.commit()
            return changed

    def connect(self, caller: Caller, code: str | None) -> tuple[str, str | None]:
        """Without a code: a new one-time code. With one: link the two identities.
        Returns (code or "", the other identity's description)."""
        now = self.clock.now()
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            if code is None:
                return self._new_code(scope, "connect", now), None
            handshake = self._redeem(uow, code, "connect", now)
            if handshake.person_id == scope.person.id:
                raise BadInput("That code is already yours here: give it on your other account.")
            other = uow.workspaces.by_id(handshake.workspace_id)
            uow.people.absorb(keep_id=handshake.person_id, gone_id=scope.person.id)
            handshake.used_at = now
            uow.commit()
            return "", f"{other.platform} ({other.name})"

    def board_join(self, caller: Caller, code: str | None) -> tuple[str, tuple[int, int] | None]:
        """Without a code: a code that lets another workspace join this board.
        With one: this workspace's board, and everything on it, joins the code's."""
        now = self.clock.now()
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            self._require_admin(scope, caller, "join boards")
            if code is None:
                return self._new_code(scope, "board_join", now), None
            handshake = self._redeem(uow, code, "board_join", now)
            target = uow.workspaces.by_id(handshake.workspace_id)
            if target.board_id == scope.board_id:
                raise BadInput("This workspace already shares that board.")
            source_board = scope.board_id
            moved = uow.workspaces.move_board(source_board, target.board_id)
            handshake.used_at = now
            uow.commit()
        self.finder.forget(source_board)
        self.finder.forget(target.board_id)
        return target.name, moved if moved[1] >= moved[0] else None

    def _new_code(self, scope: Scope, kind: str, now: datetime) -> str:
        """A one-time code for the other side of a handshake, valid for CODE_TTL."""
        code = self.make_code()
        scope.uow.workspaces.add_handshake(
            Handshake(
                code=code,
                kind=kind,
                workspace_id=scope.workspace.id,
                person_id=scope.person.id,
                expires_at=now + CODE_TTL,
                used_at=None,
            )
        )
        scope.uow.commit()
        return code

    @staticmethod
    def _redeem(uow: UnitOfWork, code: str, kind: str, now: datetime) -> Handshake:
        handshake = uow.workspaces.handshake(code.strip().upper().replace("-", ""))
        if handshake is None or handshake.kind != kind:
            raise BadInput("That code is not valid: ask for a new one.")
        if handshake.used_at is not None:
            raise BadInput("That code was already used: ask for a new one.")
        if handshake.expires_at < now:
            raise BadInput("That code has expired (codes last 15 minutes): ask for a new one.")
        return handshake

    # -- workspace settings -------------------------------------------------------

    def set_announce_channel(self, caller: Caller, channel: str | None) -> None:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            self._require_admin(scope, caller, "set the announcement channel")
            uow.workspaces.set_setting(scope.workspace.id, "announce_channel", channel)
            uow.commit()

    def admins(
        self, caller: Caller, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> list[str]:
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            current: list[str] = list(uow.workspaces.setting(scope.workspace.id, "admins") or [])
            if add or remove:
                self._require_admin(scope, caller, "change the admin list")
                add = tuple(user_id(token, caller.platform) for token in add)
                remove = tuple(user_id(token, caller.platform) for token in remove)
                current = [a for a in current if a not in remove]
                current += [a for a in add if a not in current]
                uow.workspaces.set_setting(scope.workspace.id, "admins", current)
            uow.commit()
            return current

    def board_items(self, caller: Caller, *, admin_only: bool = False) -> list[ItemView]:
        """Every item of the caller's board, for export."""
        with self.db.uow() as uow:
            scope = self._scope(uow, caller)
            if admin_only:
                self._require_admin(scope, caller, "export the board")
            views = self._views(scope, scope.repo.all_items())
            uow.commit()
            return views

    def board_items_of(self, workspace_id: int) -> list[ItemView]:
        """Every item of a workspace's board (the command line's export)."""
        with self.db.uow() as uow:
            workspace = uow.workspaces.by_id(workspace_id)
            scope = Scope(
                uow, workspace, Person(display_name="", muted=False), uow.board(workspace.board_id)
            )
            return self._views(scope, scope.repo.all_items())

    def configure_admins(
        self, platform: str, workspace: str, add: Iterable[str], remove: Iterable[str]
    ) -> list[str]:
        """The operator's way in: edit a workspace's admin list from the command line."""
        with self.db.uow() as uow:
            ws = uow.workspaces.ensure(platform, workspace, workspace, self.clock.now())
            add = [user_id(token, platform) for token in add]
            remove = [user_id(token, platform) for token in remove]
            current = [a for a in uow.workspaces.setting(ws.id, "admins") or [] if a not in remove]
            current += [a for a in add if a not in current]
            uow.workspaces.set_setting(ws.id, "admins", current)
            uow.commit()
            return current

    # -- views -------------------------------------------------------------------

    def _views(
        self,
        scope: Scope,
        items: list[Item],
        known: tuple[dict[int, str], dict[int, tuple[str, ...]]] | None = None,
    ) -> list[ItemView]:
        """Views of ``items``; ``known`` gives requester names (by person) and tags
        (by item) when the caller already has them."""
        repo = scope.repo
        ids = [i.id for i in items]
        heads = repo.items_by_ids(
            i.root_id for i in items if i.root_id is not None and i.root_id != i.id
        )
        parents = repo.numbers(i.merged_into_id for i in items if i.merged_into_id)
        if known is None:
            names, tags = scope.uow.people.names(i.requester_id for i in items), repo.tags(ids)
        else:
            names, tags = known
        out = []
        for item in items:
            head = heads.get(item.root_id or 0, item)
            out.append(
                ItemView(
                    number=item.number,
                    text=item.text,
                    status=head.status,
                    demand=head.demand,
                    votes=item.votes,
                    requester=names.get(item.requester_id, "?"),
                    created_at=item.created_at,
                    tags=tuple(tags.get(item.id, ())),
                    merged_into=parents.get(item.merged_into_id or 0),
                    root=head.number if head is not item else None,
                    linked_metric=item.linked_metric,
                )
            )
        return out

    def _view(self, scope: Scope, item: Item, *, detail: bool = False) -> ItemView:
        view = self._views(scope, [item])[0]
        if not detail:
            return view
        repo = scope.repo
        merged = tuple(i.number for i in repo.merged_into(item.id))
        sources = repo.sources([item.id])
        names = scope.uow.people.names(
            [s.author_id for s in sources] + [s.captured_by_id for s in sources]
        )
        workspaces = {w.id: w for w in scope.uow.workspaces.of_board(scope.board_id)}
        source_views = tuple(
            SourceView(
                via=s.via,
                platform=workspaces[s.workspace_id].platform
                if s.workspace_id in workspaces
                else None,
                workspace=workspaces[s.workspace_id].name if s.workspace_id in workspaces else None,
                channel=s.channel,
                message_id=s.message_id,
                permalink=s.permalink,
                author=names.get(s.author_id, "?"),
                captured_by=names.get(s.captured_by_id, "?"),
                captured_at=s.captured_at,
            )
            for s in sources
        )
        history = tuple((c.status, c.note, c.at) for c in repo.status_history(item.id))
        return ItemView(
            **{**view.__dict__, "merged_items": merged, "sources": source_views, "history": history}
        )


_MENTION = re.compile(r"<@!?([A-Za-z0-9]+)(?:\|[^>]*)?>")
_PLATFORM_ID = re.compile(r"[A-Z0-9]{6,}|[0-9]{6,}")


def user_id(token: str, platform: str) -> str:
    """The stable user id a mention or id stands for: ``<@U123|ana>`` (Slack) and
    ``<@!123>`` (Discord) become ``U123`` and ``123``; on the console a user's id is
    their name. A bare display name elsewhere is refused: anyone can take one."""
    token = token.strip().lstrip("@")
    mention = _MENTION.fullmatch(token)
    if mention:
        return mention.group(1)
    if platform == "console":
        return token.lower()
    if _PLATFORM_ID.fullmatch(token):
        return token
    raise BadInput(
        f"Mention the person (@{defang(token)[:40]}) so I know exactly who: "
        "display names can change."
    )


def _subtree(item_id: int, group: list[Item]) -> list[Item]:
    """``item_id`` and every item merged into it, directly or transitively."""
    children: dict[int, list[Item]] = {}
    by_id = {i.id: i for i in group}
    for i in group:
        if i.merged_into_id is not None:
            children.setdefault(i.merged_into_id, []).append(i)
    out, stack = [], [by_id[item_id]]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(children.get(node.id, ()))
    return out
