"""Repositories: the queries the services need, and nothing that crosses boards.

The statements that move votes, backers, demand and merge links are not here:
they are in ``storage.groups``, called only by ``bot.feedback.demand``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import (
    Backer,
    Board,
    DispatcherBeat,
    Handshake,
    Identity,
    Item,
    ItemSource,
    ItemTag,
    MergeEvent,
    MessageRef,
    OutboxMessage,
    Person,
    Setting,
    StatusChange,
    Vote,
    Workspace,
)
from storage.statements import board_statements, dialect_insert

OPEN_STATUSES = ("new", "planned", "in-progress")


class GroupHead(NamedTuple):
    """An item's number, and the head of the group it belongs to."""

    number: int
    head_id: int
    head_number: int
    head_text: str
    head_status: str
    head_demand: int


def _split_tags(tags: str | None) -> tuple[str, ...]:
    return tuple(sorted(tags.split(","))) if tags else ()


class WorkspaceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, platform: str, external_id: str) -> Workspace | None:
        return self.session.scalar(
            select(Workspace).where(
                Workspace.platform == platform, Workspace.external_id == external_id
            )
        )

    def by_id(self, workspace_id: int) -> Workspace:
        return self.session.get_one(Workspace, workspace_id)

    def ensure(self, platform: str, external_id: str, name: str, now: datetime) -> Workspace:
        """The workspace, created with a board of its own the first time it speaks."""
        found = self.get(platform, external_id)
        if found is not None:
            return found
        try:
            with self.session.begin_nested():
                board = Board(name=name, next_number=1, created_at=now)
                self.session.add(board)
                self.session.flush()
                workspace = Workspace(
                    board_id=board.id,
                    platform=platform,
                    external_id=external_id,
                    name=name,
                    created_at=now,
                )
                self.session.add(workspace)
                self.session.flush()
                return workspace
        except IntegrityError:
            # Another request created it first: use theirs.
            return self.session.scalars(
                select(Workspace).where(
                    Workspace.platform == platform, Workspace.external_id == external_id
                )
            ).one()

    def all(self) -> list[Workspace]:
        return list(self.session.scalars(select(Workspace).order_by(Workspace.id)))

    def remember_card(
        self, platform: str, workspace: str, number: int, channel: str, message_id: str
    ) -> bool:
        """Record that a message is item ``number``'s card; False if there is no such item."""
        sql = board_statements(self.session.get_bind().dialect.name)
        found = self.session.connection().execute(
            sql.remember_card,
            {
                "platform": platform,
                "workspace": workspace,
                "number": number,
                "channel": channel,
                "message": message_id,
            },
        )
        return (
            found.rowcount != 0
            or self.session.connection().scalar(
                sql.card_known,
                {
                    "channel": channel,
                    "message": message_id,
                    "platform": platform,
                    "workspace": workspace,
                },
            )
            is not None
        )

    def items_of_message(
        self, platform: str, channel: str, message_id: str
    ) -> list[tuple[int, int]]:
        """(board id, item number) of every item a message stands for (a card or a captured
        source), on any board: a shared channel shows several workspaces' cards. One index
        lookup per workspace of the platform (the unique key leads with the workspace)."""
        rows = self.session.execute(
            select(MessageRef.board_id, Item.number)
            .join(Workspace, Workspace.id == MessageRef.workspace_id)
            .join(Item, Item.id == MessageRef.item_id)
            .where(
                Workspace.platform == platform,
                MessageRef.channel == channel,
                MessageRef.message_id == message_id,
            )
            .order_by(MessageRef.id)
        )
        return [(board_id, number) for board_id, number in rows]

    def of_board(self, board_id: int) -> list[Workspace]:
        return list(
            self.session.scalars(
                select(Workspace).where(Workspace.board_id == board_id).order_by(Workspace.id)
            )
        )

    def setting(self, workspace_id: int, key: str) -> Any:
        row = self.session.scalar(
            select(Setting).where(Setting.workspace_id == workspace_id, Setting.key == key)
        )
        return None if row is None else row.value.get("v")

    def set_setting(self, workspace_id: int, key: str, value: Any) -> None:
        row = self.session.scalar(
            select(Setting).where(Setting.workspace_id == workspace_id, Setting.key == key)
        )
        if row is None:
            self.session.add(Setting(workspace_id=workspace_id, key=key, value={"v": value}))
        else:
            row.value = {"v": value}

    def add_handshake(self, handshake: Handshake) -> None:
        self.session.add(handshake)
        self.session.flush()

    def handshake(self, code: str) -> Handshake | None:
        return self.session.get(Handshake, code, with_for_update=True)

    def move_board(self, source_id: int, target_id: int) -> tuple[int, int]:
        """Move every row of board ``source_id`` onto ``target_id``, renumbering its
        items after the target's. Returns the new numbers' range (first, last)."""
        target = self.session.get_one(Board, target_id, with_for_update=True)
        source = self.session.get_one(Board, source_id, with_for_update=True)
        offset = target.next_number - 1
        moved = source.next_number - 1
        self.session.execute(
            update(Item)
            .where(Item.board_id == source_id)
            .values(number=Item.number + offset + 1_000_000_000)
        )
        self.session.execute(
            update(Item)
            .where(Item.board_id == source_id)
            .values(number=Item.number - 1_000_000_000, board_id=target_id)
        )
        for model in (
            ItemSource,
            MessageRef,
            Vote,
            Backer,
            MergeEvent,
            StatusChange,
            ItemTag,
            OutboxMessage,
            Workspace,
        ):
            self.session.execute(
                update(model).where(model.board_id == source_id).values(board_id=target_id)
            )
        target.next_number += moved
        source.next_number = 1
        self.session.flush()
        return offset + 1, offset + moved


class PeopleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def identity(self, workspace_id: int, external_id: str) -> Identity | None:
        return self.session.scalar(
            select(Identity).where(
                Identity.workspace_id == workspace_id, Identity.external_id == external_id
            )
        )

    def ensure(self, workspace_id: int, external_id: str, name: str, now: datetime) -> Person:
        identity = self.identity(workspace_id, external_id)
        if identity is None:
            try:
                with self.session.begin_nested():
                    person = Person(display_name=name, muted=False, created_at=now)
                    self.session.add(person)
                    self.session.flush()
                    self.session.add(
                        Identity(
                            person_id=person.id,
                            workspace_id=workspace_id,
                            external_id=external_id,
                            display_name=name,
                        )
                    )
                    self.session.flush()
                    return person
            except IntegrityError:
                # The same person's first two requests raced: use the winner's row.
                identity = self.identity(workspace_id, external_id)
                assert identity is not None
        person = self.session.get_one(Person, identity.person_id)
        if name and identity.display_name != name:
            identity.display_name = name
            person.display_name = name
        return person

    def get(self, person_id: int) -> Person:
        return self.session.get_one(Person, person_id)

    def _repoint_notices(self, keep_id: int, gone_id: int) -> None:
        """Undelivered ship DMs to the absorbed person go to the kept one, once: those
        queued, and those claimed into a dispatcher's lane (not yet begun)."""
        pending = self.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.job == "ship_notice",
                OutboxMessage.state.in_(("queued", "claimed")),
            )
        ).all()
        for message in pending:
            if message.payload.get("kind") != "dm" or message.payload.get("person_id") != gone_id:
                continue
            key = message.dedupe_key.rsplit(":", 1)[0] + f":{keep_id}"
            taken = self.session.scalar(
                select(OutboxMessage.id).where(
                    OutboxMessage.board_id == message.board_id, OutboxMessage.dedupe_key == key
                )
            )
            if taken is None:
                message.dedupe_key = key
                message.payload = {**message.payload, "person_id": keep_id}
            else:  # they will hear about it through their other identity
                message.state = "skipped"
        self.session.flush()

    def resolve(
        self, platform: str, workspace: str, user: str
    ) -> tuple[Workspace, Identity | None, Person | None] | None:
        """Workspace, identity and person of a caller in one round trip."""
        row = self.session.execute(
            board_statements(self.session.get_bind().dialect.name).resolve_caller,
            {"platform": platform, "workspace": workspace, "user": user},
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    def names(self, person_ids: Iterable[int]) -> dict[int, str]:
        ids = sorted(set(person_ids))
        if not ids:
            return {}
        rows = self.session.connection().execute(
            board_statements(self.session.get_bind().dialect.name).names, {"ids": ids}
        )
        return dict(rows.all())

    def identities(self, person_id: int) -> list[tuple[Identity, Workspace]]:
        rows = self.session.execute(
            select(Identity, Workspace)
            .join(Workspace, Workspace.id == Identity.workspace_id)
            .where(Identity.person_id == person_id)
            .order_by(Identity.id)
        )
        return [(i, w) for i, w in rows]

    def hand_over(self, keep_id: int, gone_id: int) -> None:
        """Everything person ``gone_id`` asked for, captured or is known as becomes
        ``keep_id``'s, and undelivered ship DMs follow. (Their votes and backings are
        folded by ``bot.feedback.demand.fold_person`` first.)"""
        s = self.session
        self._repoint_notices(keep_id, gone_id)
        s.execute(update(Item).where(Item.requester_id == gone_id).values(requester_id=keep_id))
        s.execute(
            update(ItemSource).where(ItemSource.author_id == gone_id).values(author_id=keep_id)
        )
        s.execute(
            update(ItemSource)
            .where(ItemSource.captured_by_id == gone_id)
            .values(captured_by_id=keep_id)
        )
        s.execute(update(Identity).where(Identity.person_id == gone_id).values(person_id=keep_id))
        gone = s.get_one(Person, gone_id)
        keep = s.get_one(Person, keep_id)
        keep.muted = keep.muted or gone.muted
        s.flush()


class BoardScoped:
    """A repository of one board's rows, in one session."""

    def __init__(self, session: Session, board_id: int) -> None:
        self.session = session
        self.board_id = board_id
        self.dialect = session.get_bind().dialect.name

    @property
    def _core(self) -> Any:
        """The transaction's connection: Core statements run there skip the ORM's
        bulk-write machinery, which costs more than the statement on SQLite."""
        return self.session.connection()


class BoardRepository(BoardScoped):
    """Every query here is filtered on one board."""

    def __init__(self, session: Session, board_id: int) -> None:
        super().__init__(session, board_id)
        self._sql = board_statements(self.dialect)

    # -- items ---------------------------------------------------------------

    def _items(self) -> Select[tuple[Item]]:
        return select(Item).where(Item.board_id == self.board_id)

    def items_ever(self) -> int:
        """How many items the board holds: numbers are never reused or deleted."""
        number = self._core.scalar(self._sql.next_number, {"board": self.board_id})
        return int(number or 1) - 1

    def take_number(self) -> int:
        number = self._core.scalar(self._sql.take_number, {"board": self.board_id})
        assert number is not None
        return int(number) - 1

    def item(self, number: int, *, lock: bool = False) -> Item | None:
        return self.session.scalar(
            self._sql.item_locked if lock else self._sql.item,
            {"board": self.board_id, "number": number},
        )

    def item_with_facts(self, number: int) -> tuple[Item, str, tuple[str, ...]] | None:
        """An item with its requester's name and its tags, in one query."""
        row = self.session.execute(
            self._sql.item_with_facts, {"board": self.board_id, "number": number}
        ).first()
        if row is None:
            return None
        item, name, tags = row
        return item, name, _split_tags(tags)

    def item_by_id(self, item_id: int) -> Item:
        item = self.session.scalar(self._items().where(Item.id == item_id))
        assert item is not None, f"item id {item_id} is not on board {self.board_id}"
        return item

    def items_by_ids(self, item_ids: Iterable[int]) -> dict[int, Item]:
        ids = sorted(set(item_ids))
        if not ids:
            return {}
        found = self.session.scalars(self._sql.items_by_ids, {"board": self.board_id, "ids": ids})
        return {i.id: i for i in found}

    def numbers(self, item_ids: Iterable[int]) -> dict[int, int]:
        ids = set(item_ids)
        if not ids:
            return {}
        rows = self.session.execute(
            select(Item.id, Item.number).where(Item.board_id == self.board_id, Item.id.in_(ids))
        )
        return {item_id: number for item_id, number in rows}

    def with_heads(self, item_ids: Iterable[int]) -> dict[int, GroupHead]:
        """For each item id: its number and the head of its group (plain rows: this
        runs on every capture, right before the ack)."""
        ids = sorted(set(item_ids))
        if not ids:
            return {}
        rows = self._core.execute(self._sql.with_heads, {"board": self.board_id, "ids": ids})
        return {row[0]: GroupHead(*row[1:]) for row in rows}

    def texts_since(self, after_id: int) -> list[tuple[int, str]]:
        rows = self._core.execute(
            self._sql.texts_since, {"board": self.board_id, "after": after_id}
        )
        return [(item_id, text) for item_id, text in rows]

    # -- board views ---------------------------------------------------------------

    def top(
        self, limit: int, statuses: Sequence[str] = OPEN_STATUSES
    ) -> list[tuple[Item, str, tuple[str, ...]]]:
        """Groups by demand, each with its requester's name and its tags (one query)."""
        rows = self.session.execute(
            self._sql.top, {"board": self.board_id, "statuses": list(statuses), "n": limit}
        )
        return [(item, name, _split_tags(tags)) for item, name, tags in rows]

    def page(
        self, statuses: Sequence[str], tag: str | None, offset: int, limit: int
    ) -> tuple[list[Item], int]:
        query = self._items().where(Item.merged_into_id.is_(None), Item.status.in_(statuses))
        if tag:
            query = query.where(
                Item.id.in_(
                    select(ItemTag.item_id).where(
                        ItemTag.board_id == self.board_id, ItemTag.tag == tag
                    )
                )
            )
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = self.session.scalars(
            query.order_by(Item.demand.desc(), Item.number).offset(offset).limit(limit)
        )
        return list(rows), total

    def of_person(self, person_id: int, limit: int) -> tuple[list[Item], list[Item]]:
        asked = self.session.scalars(
            self._items()
            .where(Item.requester_id == person_id)
            .order_by(Item.id.desc())
            .limit(limit)
        )
        voted = self.session.scalars(
            self._items()
            .join(Vote, Vote.item_id == Item.id)
            .where(Vote.person_id == person_id)
            .order_by(Vote.id.desc())
            .limit(limit)
        )
        return list(asked), list(voted)

    def linked(self, metrics: Sequence[str], limit: int) -> list[Item]:
        """Open groups (new, planned, in progress) linked to these metrics, by demand."""
        return list(
            self.session.scalars(
                self._items()
                .where(
                    Item.linked_metric.in_(list(metrics)),
                    Item.merged_into_id.is_(None),
                    Item.status.in_(OPEN_STATUSES),
                )
                .order_by(Item.demand.desc(), Item.number)
                .limit(limit)
            )
        )

    def shipped_between(self, since: datetime, until: datetime) -> list[tuple[Item, datetime]]:
        rows = self.session.execute(
            select(Item, StatusChange.at)
            .join(StatusChange, StatusChange.item_id == Item.id)
            .where(
                StatusChange.board_id == self.board_id,
                StatusChange.status == "shipped",
                StatusChange.at >= since,
                StatusChange.at < until,
            )
            .order_by(StatusChange.at)
        )
        return [(item, at) for item, at in rows]

    def created_between(self, since: datetime, until: datetime) -> list[Item]:
        return list(
            self.session.scalars(
                self._items()
                .where(Item.created_at >= since, Item.created_at < until)
                .order_by(Item.number)
            )
        )

    def new_backing(self, since: datetime, until: datetime, limit: int) -> list[tuple[Item, int]]:
        """Groups by how many votes and requests they gained in the window."""
        votes = (
            select(Item.head_id.label("head"), func.count().label("n"))
            .join(Vote, Vote.item_id == Item.id)
            .where(
                Vote.board_id == self.board_id, Vote.created_at >= since, Vote.created_at < until
            )
            .group_by(Item.head_id)
        )
        asks = (
            select(Item.head_id.label("head"), func.count().label("n"))
            .where(
                Item.board_id == self.board_id, Item.created_at >= since, Item.created_at < until
            )
            .group_by(Item.head_id)
        )
        both = votes.union_all(asks).subquery()
        totals = (
            select(both.c.head, func.sum(both.c.n).label("n"))
            .group_by(both.c.head)
            .order_by(func.sum(both.c.n).desc(), both.c.head)
            .limit(limit)
        )
        rows = self.session.execute(totals).all()
        heads = self.items_by_ids(head for head, _ in rows)
        return [(heads[head], int(n)) for head, n in rows]

    def all_items(self) -> list[Item]:
        return list(self.session.scalars(self._items().order_by(Item.number)))

    def search(self, words: Sequence[str], limit: int) -> list[Item]:
        query = self._items()
        for word in words:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Item.text.ilike(f"%{escaped}%", escape="\\"))
        return list(
            self.session.scalars(query.order_by(Item.demand.desc(), Item.number).limit(limit))
        )

    def merged_into(self, item_id: int) -> list[Item]:
        return list(
            self.session.scalars(
                self._items().where(Item.merged_into_id == item_id).order_by(Item.number)
            )
        )

    def group(self, head_id: int) -> list[Item]:
        """The items of a group, head included, by number."""
        return list(
            self.session.scalars(self._items().where(Item.head_id == head_id).order_by(Item.number))
        )

    def backers(self, head_id: int) -> list[int]:
        """The people behind a group."""
        return list(self.session.scalars(select(Backer.person_id).where(Backer.head_id == head_id)))

    # -- statuses, tags, sources -----------------------------------------------------

    def log_status(
        self, item_id: int, status: str, note: str | None, by_id: int, at: datetime
    ) -> None:
        self.session.add(
            StatusChange(
                board_id=self.board_id,
                item_id=item_id,
                status=status,
                note=note,
                by_id=by_id,
                at=at,
            )
        )

    def status_history(self, item_id: int) -> list[StatusChange]:
        return list(
            self.session.scalars(
                select(StatusChange)
                .where(StatusChange.item_id == item_id)
                .order_by(StatusChange.id)
            )
        )

    def tags(self, item_ids: Iterable[int]) -> dict[int, list[str]]:
        ids = list(item_ids)
        out: dict[int, list[str]] = {i: [] for i in ids}
        if ids:
            for item_id, tag in self._core.execute(self._sql.tags, {"ids": ids}):
                out[item_id].append(tag)
        return out

    def add_tag(self, item_id: int, tag: str) -> None:
        self.session.execute(
            dialect_insert(self.session.get_bind().dialect.name, ItemTag)
            .values(board_id=self.board_id, item_id=item_id, tag=tag)
            .on_conflict_do_nothing(index_elements=["item_id", "tag"])
        )

    def remove_tag(self, item_id: int, tag: str) -> None:
        self.session.execute(delete(ItemTag).where(ItemTag.item_id == item_id, ItemTag.tag == tag))

    def add_source(self, source: ItemSource) -> None:
        self._core.execute(
            self._sql.insert_source,
            {
                "board": self.board_id,
                "item": source.item_id,
                "via": source.via,
                "workspace": source.workspace_id,
                "channel": source.channel,
                "message": source.message_id,
                "permalink": source.permalink,
                "author": source.author_id,
                "by": source.captured_by_id,
                "at": source.captured_at,
            },
        )

    def sources(self, item_ids: Iterable[int]) -> list[ItemSource]:
        ids = list(item_ids)
        if not ids:
            return []
        return list(
            self.session.scalars(
                select(ItemSource).where(ItemSource.item_id.in_(ids)).order_by(ItemSource.id)
            )
        )

    # -- chat messages that stand for items ---------------------------------------------

    def lock_message(self, workspace_id: int, channel: str, message_id: str) -> None:
        """Serialize captures of one chat message (two 💡 at once must make one item).
        SQLite transactions already hold the write lock."""
        if self.session.get_bind().dialect.name == "postgresql":
            key = f"{workspace_id}:{channel}:{message_id}"
            self.session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))

    def remember_message(
        self, item_id: int, workspace_id: int, channel: str, message_id: str, role: str
    ) -> None:
        self.session.execute(
            dialect_insert(self.session.get_bind().dialect.name, MessageRef)
            .values(
                board_id=self.board_id,
                item_id=item_id,
                workspace_id=workspace_id,
                channel=channel,
                message_id=message_id,
                role=role,
            )
            .on_conflict_do_nothing(index_elements=["workspace_id", "channel", "message_id"])
        )

    def item_for_message(self, workspace_id: int, channel: str, message_id: str) -> Item | None:
        return self.session.scalar(
            select(Item)
            .join(MessageRef, MessageRef.item_id == Item.id)
            .where(
                MessageRef.board_id == self.board_id,
                MessageRef.workspace_id == workspace_id,
                MessageRef.channel == channel,
                MessageRef.message_id == message_id,
            )
        )

    def cards(self, item_ids: Iterable[int], limit: int) -> list[MessageRef]:
        """The newest ``limit`` posted cards of each of these items, newest first."""
        ids = sorted(set(item_ids))
        if not ids:
            return []
        newest = (
            select(
                MessageRef.id,
                func.row_number()
                .over(partition_by=MessageRef.item_id, order_by=MessageRef.id.desc())
                .label("n"),
            )
            .where(
                MessageRef.board_id == self.board_id,
                MessageRef.item_id.in_(ids),
                MessageRef.role == "card",
            )
            .subquery()
        )
        return list(
            self.session.scalars(
                select(MessageRef)
                .join(newest, newest.c.id == MessageRef.id)
                .where(newest.c.n <= limit)
                .order_by(MessageRef.id.desc())
            )
        )


class OutboxRepository:
    """The outbox's rows and the dispatchers' heartbeats."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(
        self, board_id: int, dedupe_key: str, job: str, payload: dict[str, Any], now: datetime
    ) -> bool:
        """Queue a notice unless one with this key exists; True when queued now. The
        unique key is the claim: two schedulers racing for one post queue it once."""
        inserted = self.session.execute(
            dialect_insert(self.session.get_bind().dialect.name, OutboxMessage)
            .values(
                board_id=board_id,
                dedupe_key=dedupe_key,
                job=job,
                payload=payload,
                state="queued",
                attempts=0,
                not_before=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["board_id", "dedupe_key"])
            .returning(OutboxMessage.id)
        ).first()
        return inserted is not None

    #: The dedupe keys of ship DMs (``bot.notify.ship.dms_of``): the bulk of any outbox,
    #: fetched a board at a time.
    DM_KEYS = "ship:%:person:%"

    def _held_by_others(self, live: Sequence[str]) -> Any:
        return OutboxMessage.state.in_(("claimed", "sending")) & (
            OutboxMessage.owner.is_(None) | OutboxMessage.owner.not_in(list(live))
        )

    def _due_dms(self, now: datetime) -> Any:
        return (
            (OutboxMessage.state == "queued")
            & (OutboxMessage.not_before <= now)
            & OutboxMessage.dedupe_key.like(self.DM_KEYS)
        )

    def due_posts(self, now: datetime, live: Sequence[str], limit: int) -> list[OutboxMessage]:
        """Due notices other than DMs (digests, cards, announcements: few), and any
        notice held by a dispatcher that is not among the ``live`` ones."""
        queued_post = (
            (OutboxMessage.state == "queued")
            & (OutboxMessage.not_before <= now)
            & ~OutboxMessage.dedupe_key.like(self.DM_KEYS)
        )
        return list(
            self.session.scalars(
                select(OutboxMessage)
                .where(queued_post | self._held_by_others(live))
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )

    def due_dm_boards(self, now: datetime) -> list[int]:
        return list(
            self.session.scalars(
                select(OutboxMessage.board_id).where(self._due_dms(now)).distinct()
            )
        )

    def due_dms(
        self, board_id: int, now: datetime, after_id: int, limit: int
    ) -> list[OutboxMessage]:
        return list(
            self.session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.board_id == board_id,
                    self._due_dms(now),
                    OutboxMessage.id > after_id,
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )

    def take(
        self, ids: Sequence[int], owner: str, live: Sequence[str], now: datetime
    ) -> dict[int, bool]:
        """Claim notices for ``owner``'s lanes: queued ones become *claimed*; ones left by a
        dispatcher no longer alive keep their state (*sending* means in doubt). Returns
        {id: in doubt} for those taken; the rest another dispatcher took first."""
        if not ids:
            return {}
        takeable = (
            (OutboxMessage.state == "queued") & (OutboxMessage.not_before <= now)
        ) | self._held_by_others(live)
        rows = self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(ids)), takeable)
            .values(
                owner=owner,
                state=case((OutboxMessage.state == "sending", "sending"), else_="claimed"),
            )
            .returning(OutboxMessage.id, OutboxMessage.state, OutboxMessage.attempts)
        )
        return {i: state == "sending" or attempts > 0 for i, state, attempts in rows}

    def start(self, message_id: int, owner: str) -> bool:
        """``owner`` begins sending a notice it holds: one more attempt."""
        started = self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.owner == owner,
                OutboxMessage.state.in_(("claimed", "sending")),
            )
            .values(state="sending", attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage.id)
        ).first()
        return started is not None

    def _held(self, message_id: int, owner: str | None) -> Any:
        """The message, if ``owner`` (when given) still holds it."""
        where = OutboxMessage.id == message_id
        return where if owner is None else where & (OutboxMessage.owner == owner)

    def holds(self, message_id: int, owner: str) -> bool:
        """Whether ``owner`` still holds the message (no other dispatcher took it back)."""
        found = self.session.scalar(select(OutboxMessage.id).where(self._held(message_id, owner)))
        return found is not None

    def release(self, owner: str) -> None:
        """A dispatcher stopping: what it claimed and never began goes back to the queue."""
        self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.owner == owner, OutboxMessage.state == "claimed")
            .values(state="queued", owner=None)
        )

    def finish(
        self,
        message_id: int,
        state: str,
        now: datetime,
        error: str | None = None,
        owner: str | None = None,
    ) -> None:
        self.session.execute(
            update(OutboxMessage)
            .where(self._held(message_id, owner))
            .values(state=state, done_at=now, last_error=error, owner=None)
        )

    def retry_later(
        self,
        message_id: int,
        when: datetime,
        error: str,
        *,
        failed_attempt: bool = True,
        owner: str | None = None,
    ) -> None:
        """Back to the queue until ``when``; a wait the platform asked for is not a
        failed attempt."""
        attempts = OutboxMessage.attempts if failed_attempt else OutboxMessage.attempts - 1
        self.session.execute(
            update(OutboxMessage)
            .where(self._held(message_id, owner))
            .values(
                state="queued", not_before=when, last_error=error, owner=None, attempts=attempts
            )
        )

    def _of_cause(self, board_id: int, key_prefix: str) -> Any:
        escaped = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return (OutboxMessage.board_id == board_id) & OutboxMessage.dedupe_key.like(
            escaped + "%", escape="\\"
        )

    def cancel_queued(self, board_id: int, key_prefix: str, reason: str, now: datetime) -> int:
        """Skip a cause's notices not yet sent (nor being sent), saying why; how many."""
        done = self.session.execute(
            update(OutboxMessage)
            .where(
                self._of_cause(board_id, key_prefix),
                OutboxMessage.state.in_(("queued", "claimed")),
            )
            .values(state="skipped", last_error=reason, done_at=now, owner=None)
        )
        return int(done.rowcount or 0)

    def requeue_cancelled(
        self, board_id: int, key_prefix: str, reason: str, now: datetime
    ) -> list[str]:
        """Queue again a cause's notices skipped for ``reason``; their keys."""
        keys = list(
            self.session.scalars(
                update(OutboxMessage)
                .where(
                    self._of_cause(board_id, key_prefix),
                    OutboxMessage.state == "skipped",
                    OutboxMessage.last_error == reason,
                )
                .values(state="queued", last_error=None, done_at=None, not_before=now)
                .returning(OutboxMessage.dedupe_key)
            )
        )
        return keys

    def counts(self) -> dict[str, int]:
        rows = self.session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        )
        return {state: n for state, n in rows}

    def counts_for(self, board_id: int, key_prefix: str) -> dict[str, int]:
        """States of one cause's notices (``ship:12:person:``), for admins to see."""
        rows = self.session.execute(
            select(OutboxMessage.state, func.count())
            .where(self._of_cause(board_id, key_prefix))
            .group_by(OutboxMessage.state)
        )
        return {state: n for state, n in rows}

    # -- dispatchers' heartbeats ------------------------------------------------------

    def beat(self, owner: str, host: str, pid: int, now: datetime) -> None:
        dialect = self.session.get_bind().dialect.name
        insert_row = dialect_insert(dialect, DispatcherBeat).values(
            owner=owner, host=host, pid=pid, started_at=now, beat_at=now
        )
        self.session.execute(
            insert_row.on_conflict_do_update(index_elements=["owner"], set_={"beat_at": now})
        )

    def dispatchers(self) -> list[DispatcherBeat]:
        return list(self.session.scalars(select(DispatcherBeat)))

    def forget_dispatchers(self, owners: Sequence[str]) -> None:
        if owners:
            self.session.execute(delete(DispatcherBeat).where(DispatcherBeat.owner.in_(owners)))
