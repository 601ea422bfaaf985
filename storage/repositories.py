"""Repositories: the queries the services need, and nothing that crosses boards."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from storage.models import (
    Board,
    GroupMember,
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

OPEN_STATUSES = ("new", "planned", "in-progress")


class GroupHead(NamedTuple):
    """An item's number, and the head of the merge group it belongs to."""

    number: int
    head_id: int
    head_number: int
    head_text: str
    head_status: str
    head_demand: int


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _dialect_insert(dialect: str, table: Any) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _with_facts() -> Select[tuple[Item, str, str | None]]:
    """Items with their requester's name and their tags joined by commas."""
    tags = (
        select(func.aggregate_strings(ItemTag.tag, ","))
        .where(ItemTag.item_id == Item.id)
        .scalar_subquery()
    )
    return select(Item, Person.display_name, tags).join(Person, Person.id == Item.requester_id)


def _split_tags(tags: str | None) -> tuple[str, ...]:
    return tuple(sorted(tags.split(","))) if tags else ()


@cache
def _hot(name: str, dialect: str) -> Any:
    """Statements on the vote and capture paths, built once with bound parameters:
    building a statement costs more than running it on SQLite."""
    p = bindparam
    if name == "resolve":
        return (
            select(Workspace, Identity, Person)
            .outerjoin(
                Identity,
                and_(Identity.workspace_id == Workspace.id, Identity.external_id == p("user")),
            )
            .outerjoin(Person, Person.id == Identity.person_id)
            .where(Workspace.platform == p("platform"), Workspace.external_id == p("workspace"))
        )
    if name == "item_facts":
        return _with_facts().where(Item.board_id == p("board"), Item.number == p("number"))
    if name == "top":
        return (
            _with_facts()
            .where(
                Item.board_id == p("board"),
                Item.merged_into_id.is_(None),
                Item.status.in_(p("statuses", expanding=True)),
            )
            .order_by(Item.demand.desc(), Item.number)
            .limit(p("n"))
        )
    if name in ("item", "item_locked"):
        query = select(Item).where(Item.board_id == p("board"), Item.number == p("number"))
        return query.with_for_update() if name == "item_locked" else query
    if name == "add_vote":
        return (
            _dialect_insert(dialect, Vote)
            .values(
                board_id=p("board"), item_id=p("item"), person_id=p("person"), created_at=p("at")
            )
            .on_conflict_do_nothing(index_elements=["item_id", "person_id"])
            .returning(Vote.id)
        )
    if name == "join_group":
        return (
            _dialect_insert(dialect, GroupMember)
            .values(
                root_id=p("root"), person_id=p("person"), board_id=p("board"), weight=p("delta")
            )
            .on_conflict_do_update(
                index_elements=["root_id", "person_id"],
                set_={"weight": GroupMember.weight + p("delta2")},
            )
            .returning(GroupMember.weight)
        )
    if name == "next_number":
        return select(Board.next_number).where(Board.id == p("board"))
    if name == "take_number":
        return (
            update(Board)
            .where(Board.id == p("board"))
            .values(next_number=Board.next_number + 1)
            .returning(Board.next_number)
        )
    if name == "insert_item":
        return (
            insert(Item)
            .values(
                board_id=p("board"),
                number=p("number"),
                text=p("text"),
                status="new",
                requester_id=p("requester"),
                demand=1,
                created_at=p("at"),
                updated_at=p("at"),
            )
            .returning(Item.id)
        )
    if name == "own_root":
        return (
            update(Item)
            .where(Item.id == p("item"))
            .values(root_id=Item.id)
            .execution_options(synchronize_session=False)
        )
    if name == "first_member":
        return insert(GroupMember).values(
            root_id=p("root"), person_id=p("person"), board_id=p("board"), weight=1
        )
    if name == "insert_source":
        return insert(ItemSource).values(
            board_id=p("board"),
            item_id=p("item"),
            via=p("via"),
            workspace_id=p("workspace"),
            channel=p("channel"),
            message_id=p("message"),
            permalink=p("permalink"),
            author_id=p("author"),
            captured_by_id=p("by"),
            captured_at=p("at"),
        )
    if name == "with_heads":
        head = aliased(Item)
        return (
            select(Item.id, Item.number, head.id, head.number, head.text, head.status, head.demand)
            .join(head, head.id == Item.root_id)
            .where(Item.board_id == p("board"), Item.id.in_(p("ids", expanding=True)))
        )
    if name == "remember_card":
        source = (
            select(
                Item.board_id, Item.id, Workspace.id, p("channel"), p("message"), literal("card")
            )
            .join(Workspace, Workspace.board_id == Item.board_id)
            .where(
                Workspace.platform == p("platform"),
                Workspace.external_id == p("workspace"),
                Item.number == p("number"),
            )
        )
        return (
            _dialect_insert(dialect, MessageRef)
            .from_select(
                ["board_id", "item_id", "workspace_id", "channel", "message_id", "role"], source
            )
            .on_conflict_do_nothing(index_elements=["workspace_id", "channel", "message_id"])
        )
    if name == "card_known":
        return (
            select(MessageRef.id)
            .join(Workspace, Workspace.id == MessageRef.workspace_id)
            .where(
                MessageRef.channel == p("channel"),
                MessageRef.message_id == p("message"),
                Workspace.platform == p("platform"),
                Workspace.external_id == p("workspace"),
            )
        )
    if name == "ledger_take":
        return (
            update(GroupMember)
            .where(GroupMember.root_id == p("from"), GroupMember.person_id == p("person"))
            .values(weight=GroupMember.weight - p("w"))
        )
    if name == "ledger_drop_empty":
        return delete(GroupMember).where(GroupMember.root_id == p("root"), GroupMember.weight <= 0)
    if name == "ledger_give":
        give = _dialect_insert(dialect, GroupMember).values(
            root_id=p("to"), person_id=p("person"), board_id=p("board"), weight=p("w")
        )
        return give.on_conflict_do_update(
            index_elements=["root_id", "person_id"],
            set_={"weight": GroupMember.weight + give.excluded.weight},
        )
    if name == "recount":
        count = (
            select(func.count())
            .where(GroupMember.root_id == Item.id)
            .correlate(Item)
            .scalar_subquery()
        )
        return (
            update(Item)
            .where(Item.id == p("root"))
            .values(demand=count)
            .returning(Item.demand)
            .execution_options(synchronize_session=False)
        )
    if name == "texts_since":
        return (
            select(Item.id, Item.text)
            .where(Item.board_id == p("board"), Item.id > p("after"))
            .order_by(Item.id)
        )
    if name == "add_demand":
        return (
            update(Item)
            .where(Item.id == p("root"))
            .values(demand=Item.demand + p("delta"))
            .returning(Item.demand)
            .execution_options(synchronize_session=False)
        )
    if name == "names":
        return select(Person.id, Person.display_name).where(Person.id.in_(p("ids", expanding=True)))
    if name == "count_vote":
        return (
            update(Item)
            .where(Item.id == p("item"))
            .values(votes=Item.votes + p("delta"))
            .returning(Item.votes)
            .execution_options(synchronize_session=False)
        )
    if name == "tags":
        return (
            select(ItemTag.item_id, ItemTag.tag)
            .where(ItemTag.item_id.in_(p("ids", expanding=True)))
            .order_by(ItemTag.tag)
        )
    if name == "items_by_ids":
        return select(Item).where(
            Item.board_id == p("board"), Item.id.in_(p("ids", expanding=True))
        )
    raise KeyError(name)


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

    def by_name(self, name: str) -> Workspace | None:
        return self.session.scalar(
            select(Workspace).where(or_(Workspace.name == name, Workspace.external_id == name))
        )

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
        dialect = self.session.get_bind().dialect.name
        found = self.session.connection().execute(
            _hot("remember_card", dialect),
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
                _hot("card_known", dialect),
                {
                    "channel": channel,
                    "message": message_id,
                    "platform": platform,
                    "workspace": workspace,
                },
            )
            is not None
        )

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
            GroupMember,
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
        """Undelivered ship DMs to the absorbed person go to the kept one, once."""
        pending = self.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.job == "ship_notice", OutboxMessage.state == "pending"
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
            _hot("resolve", self.session.get_bind().dialect.name),
            {"platform": platform, "workspace": workspace, "user": user},
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    def names(self, person_ids: Iterable[int]) -> dict[int, str]:
        ids = sorted(set(person_ids))
        if not ids:
            return {}
        rows = self.session.connection().execute(
            _hot("names", self.session.get_bind().dialect.name), {"ids": ids}
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

    def absorb(self, keep_id: int, gone_id: int) -> None:
        """Make person ``gone_id`` part of ``keep_id``: identities, votes, requests,
        and the demand ledger, with no person counted twice anywhere."""
        s = self.session
        # Lock every group either person stands behind, in id order as votes do.
        if s.get_bind().dialect.name != "sqlite":
            roots = s.scalars(
                select(GroupMember.root_id)
                .where(GroupMember.person_id.in_((keep_id, gone_id)))
                .distinct()
                .order_by(GroupMember.root_id)
            ).all()
            for root in roots:
                s.execute(select(Item.id).where(Item.id == root).with_for_update()).all()
        self._repoint_notices(keep_id, gone_id)
        # Ledger first: where both stand behind a group, fold weights into one row.
        for row in list(s.scalars(select(GroupMember).where(GroupMember.person_id == gone_id))):
            keep = s.get(GroupMember, (row.root_id, keep_id))
            if keep is None:
                s.add(
                    GroupMember(
                        root_id=row.root_id,
                        person_id=keep_id,
                        board_id=row.board_id,
                        weight=row.weight,
                    )
                )
            else:
                keep.weight += row.weight
                s.execute(update(Item).where(Item.id == row.root_id).values(demand=Item.demand - 1))
            s.delete(row)
        s.flush()
        # Votes cast by both on one item become one vote.
        kept_items = select(Vote.item_id).where(Vote.person_id == keep_id)
        for vote in list(
            s.scalars(select(Vote).where(Vote.person_id == gone_id, Vote.item_id.in_(kept_items)))
        ):
            root_id = s.scalar(select(Item.root_id).where(Item.id == vote.item_id))
            member = s.get_one(GroupMember, (root_id, keep_id))
            member.weight -= 1
            s.execute(update(Item).where(Item.id == vote.item_id).values(votes=Item.votes - 1))
            s.delete(vote)
        s.flush()
        s.execute(update(Vote).where(Vote.person_id == gone_id).values(person_id=keep_id))
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


class BoardRepository:
    """Every query here is filtered on one board."""

    def __init__(self, session: Session, board_id: int) -> None:
        self.session = session
        self.board_id = board_id

    # -- items ---------------------------------------------------------------

    def _items(self) -> Select[tuple[Item]]:
        return select(Item).where(Item.board_id == self.board_id)

    def items_ever(self) -> int:
        """How many items the board holds: numbers are never reused or deleted."""
        number = self._core.scalar(self._hot("next_number"), {"board": self.board_id})
        return int(number or 1) - 1

    def take_number(self) -> int:
        number = self._core.scalar(self._hot("take_number"), {"board": self.board_id})
        assert number is not None
        return number - 1

    def create_item(self, text: str, requester_id: int, now: datetime) -> tuple[int, int]:
        """A new item, its own group of one with its requester behind it (demand 1).
        Returns (id, number)."""
        number = self.take_number()
        item_id = self._core.scalar(
            self._hot("insert_item"),
            {
                "board": self.board_id,
                "number": number,
                "text": text,
                "requester": requester_id,
                "at": now,
            },
        )
        assert item_id is not None
        self._core.execute(self._hot("own_root"), {"item": item_id})
        self._core.execute(
            self._hot("first_member"),
            {"root": item_id, "person": requester_id, "board": self.board_id},
        )
        return item_id, number

    def item(self, number: int, *, lock: bool = False) -> Item | None:
        return self.session.scalar(
            self._hot("item_locked" if lock else "item"),
            {"board": self.board_id, "number": number},
        )

    def item_with_facts(self, number: int) -> tuple[Item, str, tuple[str, ...]] | None:
        """An item with its requester's name and its tags, in one query."""
        row = self.session.execute(
            self._hot("item_facts"), {"board": self.board_id, "number": number}
        ).first()
        if row is None:
            return None
        item, name, tags = row
        return item, name, _split_tags(tags)

    @property
    def _core(self) -> Any:
        """The transaction's connection: Core statements run there skip the ORM's
        bulk-write machinery, which costs more than the statement on SQLite."""
        return self.session.connection()

    def _hot(self, name: str) -> Any:
        return _hot(name, self.session.get_bind().dialect.name)

    def item_by_id(self, item_id: int, *, lock: bool = False) -> Item:
        query = self._items().where(Item.id == item_id)
        if lock:
            query = query.with_for_update()
        item = self.session.scalar(query)
        assert item is not None, f"item id {item_id} is not on board {self.board_id}"
        return item

    def lock_roots(self, *item_ids: int) -> None:
        """Serialize changes to merge groups: always lock in id order."""
        for item_id in sorted(set(item_ids)):
            self.session.execute(select(Item.id).where(Item.id == item_id).with_for_update()).all()

    def numbers(self, item_ids: Iterable[int]) -> dict[int, int]:
        ids = set(item_ids)
        if not ids:
            return {}
        rows = self.session.execute(
            select(Item.id, Item.number).where(Item.board_id == self.board_id, Item.id.in_(ids))
        )
        return dict(rows.all())

    def top(
        self, limit: int, statuses: Sequence[str] = OPEN_STATUSES
    ) -> list[tuple[Item, str, tuple[str, ...]]]:
        """Groups by demand, each with its requester's name and its tags (one query)."""
        rows = self.session.execute(
            self._hot("top"), {"board": self.board_id, "statuses": list(statuses), "n": limit}
        )
        return [
            (item, name, tuple(sorted(tags.split(","))) if tags else ())
            for item, name, tags in rows
        ]

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
        """Open or planned groups linked to these metrics, by demand."""
        return list(
            self.session.scalars(
                self._items()
                .where(Item.linked_metric.in_(list(metrics)), Item.merged_into_id.is_(None))
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
            select(Item.root_id.label("root"), func.count().label("n"))
            .join(Vote, Vote.item_id == Item.id)
            .where(
                Vote.board_id == self.board_id, Vote.created_at >= since, Vote.created_at < until
            )
            .group_by(Item.root_id)
        )
        asks = (
            select(Item.root_id.label("root"), func.count().label("n"))
            .where(
                Item.board_id == self.board_id, Item.created_at >= since, Item.created_at < until
            )
            .group_by(Item.root_id)
        )
        both = votes.union_all(asks).subquery()
        totals = (
            select(both.c.root, func.sum(both.c.n).label("n"))
            .group_by(both.c.root)
            .order_by(func.sum(both.c.n).desc(), both.c.root)
            .limit(limit)
        )
        out = []
        for root_id, n in self.session.execute(totals):
            out.append((self.item_by_id(root_id), int(n)))
        return out

    def all_items(self) -> list[Item]:
        return list(self.session.scalars(self._items().order_by(Item.number)))

    def texts_since(self, after_id: int) -> list[tuple[int, str]]:
        rows = self._core.execute(
            self._hot("texts_since"), {"board": self.board_id, "after": after_id}
        )
        return [(item_id, text) for item_id, text in rows]

    def search(self, words: Sequence[str], limit: int) -> list[Item]:
        query = self._items()
        for word in words:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Item.text.ilike(f"%{escaped}%", escape="\\"))
        return list(
            self.session.scalars(query.order_by(Item.demand.desc(), Item.number).limit(limit))
        )

    def group(self, root_id: int) -> list[Item]:
        return list(
            self.session.scalars(self._items().where(Item.root_id == root_id).order_by(Item.number))
        )

    def merged_into(self, item_id: int) -> list[Item]:
        return list(
            self.session.scalars(
                self._items().where(Item.merged_into_id == item_id).order_by(Item.number)
            )
        )

    def set_root(self, item_ids: Iterable[int], root_id: int) -> None:
        ids = list(item_ids)
        if ids:
            self.session.execute(
                update(Item)
                .where(Item.board_id == self.board_id, Item.id.in_(ids))
                .values(root_id=root_id)
            )

    def add_demand(self, root_id: int, delta: int) -> None:
        """Change a group's demand in the database and in any loaded copy of its head."""
        if not delta:
            return
        demand = self._core.scalar(self._hot("add_demand"), {"root": root_id, "delta": delta})
        self._sync_loaded(root_id, "demand", demand)

    def _sync_loaded(self, item_id: int, attribute: str, value: object) -> None:
        """A counter changed by a Core statement: bring any loaded copy of the item in
        step without marking it dirty."""
        loaded = self.session.identity_map.get(identity_key(Item, item_id))
        if loaded is not None:
            set_committed_value(loaded, attribute, value)

    @property
    def needs_row_locks(self) -> bool:
        """SQLite transactions here take the write lock up front (BEGIN IMMEDIATE),
        so row locks only matter on PostgreSQL."""
        return self.session.get_bind().dialect.name != "sqlite"

    def items_by_ids(self, item_ids: Iterable[int]) -> dict[int, Item]:
        ids = sorted(set(item_ids))
        if not ids:
            return {}
        found = self.session.scalars(
            self._hot("items_by_ids"), {"board": self.board_id, "ids": ids}
        )
        return {i.id: i for i in found}

    def _count_vote(self, item_id: int, delta: int) -> None:
        """Keep ``items.votes`` (and any loaded copy of the item) in step."""
        votes = self._core.scalar(self._hot("count_vote"), {"item": item_id, "delta": delta})
        self._sync_loaded(item_id, "votes", votes)

    # -- votes and the demand ledger -----------------------------------------

    def add_vote(self, item_id: int, person_id: int, now: datetime) -> bool:
        inserted = self._core.execute(
            self._hot("add_vote"),
            {"board": self.board_id, "item": item_id, "person": person_id, "at": now},
        ).first()
        if inserted is not None:
            self._count_vote(item_id, 1)
        return inserted is not None

    def remove_vote(self, item_id: int, person_id: int) -> bool:
        removed = self.session.execute(
            delete(Vote)
            .where(Vote.item_id == item_id, Vote.person_id == person_id)
            .returning(Vote.id)
        ).first()
        if removed is not None:
            self._count_vote(item_id, -1)
        return removed is not None

    def voters(self, item_ids: Iterable[int]) -> list[tuple[int, int]]:
        """(item_id, person_id) for every vote on these items."""
        ids = list(item_ids)
        if not ids:
            return []
        rows = self.session.execute(
            select(Vote.item_id, Vote.person_id).where(Vote.item_id.in_(ids)).order_by(Vote.id)
        )
        return [tuple(r) for r in rows]

    def contributions(self, items: Iterable[Item]) -> Counter[int]:
        """How many times each person stands behind these items (asked or voted)."""
        items = list(items)
        weights: Counter[int] = Counter(item.requester_id for item in items)
        weights.update(person for _, person in self.voters(item.id for item in items))
        return weights

    def bump_member(self, root_id: int, person_id: int, delta: int) -> int:
        """Add ``delta`` to a person's weight behind a group; returns the change in
        the group's demand (+1 when they join it, -1 when they leave it)."""
        if delta > 0:
            weight = self._core.scalar(
                self._hot("join_group"),
                {
                    "root": root_id,
                    "person": person_id,
                    "board": self.board_id,
                    "delta": delta,
                    "delta2": delta,
                },
            )
            return 1 if weight == delta else 0
        weight = self.session.scalar(
            update(GroupMember)
            .where(GroupMember.root_id == root_id, GroupMember.person_id == person_id)
            .values(weight=GroupMember.weight + delta)
            .returning(GroupMember.weight)
        )
        if weight is None or weight < 0:
            raise AssertionError(f"demand ledger out of step for group {root_id}")
        if weight == 0:
            self.session.execute(
                delete(GroupMember).where(
                    GroupMember.root_id == root_id, GroupMember.person_id == person_id
                )
            )
            return -1
        return 0

    def members(self, root_id: int) -> dict[int, int]:
        rows = self.session.execute(
            select(GroupMember.person_id, GroupMember.weight).where(GroupMember.root_id == root_id)
        )
        return dict(rows.all())

    def move_members(self, from_root: int, to_root: int, weights: Counter[int]) -> None:
        """Move ``weights`` from one group's ledger to another's, then recount both
        groups' demand from their ledgers: a handful of statements, whatever the size."""
        rows = [
            {
                "from": from_root,
                "to": to_root,
                "person": person,
                "w": weight,
                "board": self.board_id,
            }
            for person, weight in weights.items()
            if weight
        ]
        if rows:
            core = self._core
            core.execute(self._hot("ledger_take"), rows)
            core.execute(self._hot("ledger_drop_empty"), {"root": from_root})
            core.execute(self._hot("ledger_give"), rows)
        for root in (from_root, to_root):
            demand = self._core.scalar(self._hot("recount"), {"root": root})
            self._sync_loaded(root, "demand", demand)

    # -- merges, statuses, tags, sources -------------------------------------

    def log_merge(self, item_id: int, into_id: int, action: str, by_id: int, at: datetime) -> None:
        self.session.add(
            MergeEvent(
                board_id=self.board_id,
                item_id=item_id,
                into_id=into_id,
                action=action,
                by_id=by_id,
                at=at,
            )
        )

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
            rows = self._core.execute(self._hot("tags"), {"ids": ids})
            for item_id, tag in rows:
                out[item_id].append(tag)
        return out

    def add_tag(self, item_id: int, tag: str) -> None:
        self.session.execute(
            _insert(self.session, ItemTag)
            .values(board_id=self.board_id, item_id=item_id, tag=tag)
            .on_conflict_do_nothing(index_elements=["item_id", "tag"])
        )

    def remove_tag(self, item_id: int, tag: str) -> None:
        self.session.execute(delete(ItemTag).where(ItemTag.item_id == item_id, ItemTag.tag == tag))

    def add_source(self, source: ItemSource) -> None:
        self._core.execute(
            self._hot("insert_source"),
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

    def with_heads(self, item_ids: Iterable[int]) -> dict[int, GroupHead]:
        """For each item id: its number and the head of its merge group (plain rows:
        this runs on every capture, right before the ack)."""
        ids = sorted(set(item_ids))
        if not ids:
            return {}
        rows = self._core.execute(self._hot("with_heads"), {"board": self.board_id, "ids": ids})
        return {row[0]: GroupHead(*row[1:]) for row in rows}

    def sources(self, item_ids: Iterable[int]) -> list[ItemSource]:
        ids = list(item_ids)
        if not ids:
            return []
        return list(
            self.session.scalars(
                select(ItemSource).where(ItemSource.item_id.in_(ids)).order_by(ItemSource.id)
            )
        )

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
            _insert(self.session, MessageRef)
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

    def cards(self, item_id: int) -> list[MessageRef]:
        return list(
            self.session.scalars(
                select(MessageRef).where(MessageRef.item_id == item_id, MessageRef.role == "card")
            )
        )


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(
        self, board_id: int, dedupe_key: str, job: str, payload: dict[str, Any], now: datetime
    ) -> bool:
        """Queue a notice unless one with this key exists; True when queued now."""
        inserted = self.session.execute(
            _insert(self.session, OutboxMessage)
            .values(
                board_id=board_id,
                dedupe_key=dedupe_key,
                job=job,
                payload=payload,
                state="pending",
                attempts=0,
                not_before=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["board_id", "dedupe_key"])
            .returning(OutboxMessage.id)
        ).first()
        return inserted is not None

    def due(self, now: datetime, limit: int, after_id: int = 0) -> list[OutboxMessage]:
        return list(
            self.session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.state.in_(("pending", "sending")),
                    OutboxMessage.not_before <= now,
                    OutboxMessage.id > after_id,
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )

    def claim(self, message: OutboxMessage, lease_until: datetime) -> bool:
        """Take a message for delivery; False when another dispatcher has it."""
        claimed = self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.state == message.state,
                OutboxMessage.attempts == message.attempts,
            )
            .values(state="sending", not_before=lease_until, attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage.id)
        ).first()
        return claimed is not None

    def finish(self, message_id: int, state: str, now: datetime, error: str | None = None) -> None:
        self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(state=state, done_at=now, last_error=error)
        )

    def retry_later(self, message_id: int, when: datetime, error: str) -> None:
        self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(state="pending", not_before=when, last_error=error)
        )

    def counts(self) -> dict[str, int]:
        rows = self.session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        )
        return dict(rows.all())
