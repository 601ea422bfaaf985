"""Statements on the hot paths (capture, vote, the top of the board), built once.

Building a SQLAlchemy statement costs more than running it on SQLite, so the ones
that run on every capture and vote are built once per dialect, with bound
parameters, and named here. ``for_dialect`` hands out the set.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from storage.models import (
    Backer,
    Board,
    Identity,
    Item,
    ItemSource,
    ItemTag,
    MessageRef,
    Person,
    Vote,
    Workspace,
)

p = bindparam


def dialect_insert(dialect: str, table: Any) -> Any:
    """An INSERT that can take ON CONFLICT clauses on SQLite and PostgreSQL."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def with_facts() -> Select[tuple[Item, str, str | None]]:
    """Items with their requester's name and their tags joined by commas."""
    tags = (
        select(func.aggregate_strings(ItemTag.tag, ","))
        .where(ItemTag.item_id == Item.id)
        .scalar_subquery()
    )
    return select(Item, Person.display_name, tags).join(Person, Person.id == Item.requester_id)


@dataclass(frozen=True)
class BoardStatements:
    """Reads and writes of the board that are not group rules."""

    resolve_caller: Any
    item: Any
    item_locked: Any
    item_with_facts: Any
    top: Any
    items_by_ids: Any
    with_heads: Any
    next_number: Any
    take_number: Any
    insert_source: Any
    remember_card: Any
    card_known: Any
    texts_since: Any
    names: Any
    tags: Any


@dataclass(frozen=True)
class GroupStatements:
    """The statements that move votes, backers and demand (``bot.feedback.demand``)."""

    insert_item: Any
    make_own_head: Any
    insert_vote: Any
    add_votes: Any
    join_group: Any
    add_demand: Any
    take_backing: Any
    drop_empty_backings: Any
    give_backing: Any
    demand_from_backers: Any


@cache
def board_statements(dialect: str) -> BoardStatements:
    head = aliased(Item)
    card_source = (
        select(Item.board_id, Item.id, Workspace.id, p("channel"), p("message"), literal("card"))
        .join(Workspace, Workspace.board_id == Item.board_id)
        .where(
            Workspace.platform == p("platform"),
            Workspace.external_id == p("workspace"),
            Item.number == p("number"),
        )
    )
    item = select(Item).where(Item.board_id == p("board"), Item.number == p("number"))
    return BoardStatements(
        resolve_caller=(
            select(Workspace, Identity, Person)
            .outerjoin(
                Identity,
                and_(Identity.workspace_id == Workspace.id, Identity.external_id == p("user")),
            )
            .outerjoin(Person, Person.id == Identity.person_id)
            .where(Workspace.platform == p("platform"), Workspace.external_id == p("workspace"))
        ),
        item=item,
        item_locked=item.with_for_update(),
        item_with_facts=with_facts().where(Item.board_id == p("board"), Item.number == p("number")),
        top=(
            with_facts()
            .where(
                Item.board_id == p("board"),
                Item.merged_into_id.is_(None),
                Item.status.in_(p("statuses", expanding=True)),
            )
            .order_by(Item.demand.desc(), Item.number)
            .limit(p("n"))
        ),
        items_by_ids=select(Item).where(
            Item.board_id == p("board"), Item.id.in_(p("ids", expanding=True))
        ),
        with_heads=(
            select(Item.id, Item.number, head.id, head.number, head.text, head.status, head.demand)
            .join(head, head.id == Item.head_id)
            .where(Item.board_id == p("board"), Item.id.in_(p("ids", expanding=True)))
        ),
        next_number=select(Board.next_number).where(Board.id == p("board")),
        take_number=(
            update(Board)
            .where(Board.id == p("board"))
            .values(next_number=Board.next_number + 1)
            .returning(Board.next_number)
        ),
        insert_source=insert(ItemSource).values(
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
        ),
        remember_card=(
            dialect_insert(dialect, MessageRef)
            .from_select(
                ["board_id", "item_id", "workspace_id", "channel", "message_id", "role"],
                card_source,
            )
            .on_conflict_do_nothing(index_elements=["workspace_id", "channel", "message_id"])
        ),
        card_known=(
            select(MessageRef.id)
            .join(Workspace, Workspace.id == MessageRef.workspace_id)
            .where(
                MessageRef.channel == p("channel"),
                MessageRef.message_id == p("message"),
                Workspace.platform == p("platform"),
                Workspace.external_id == p("workspace"),
            )
        ),
        texts_since=(
            select(Item.id, Item.text)
            .where(Item.board_id == p("board"), Item.id > p("after"))
            .order_by(Item.id)
        ),
        names=select(Person.id, Person.display_name).where(Person.id.in_(p("ids", expanding=True))),
        tags=(
            select(ItemTag.item_id, ItemTag.tag)
            .where(ItemTag.item_id.in_(p("ids", expanding=True)))
            .order_by(ItemTag.tag)
        ),
    )


@cache
def group_statements(dialect: str) -> GroupStatements:
    backers = (
        select(func.count()).where(Backer.head_id == Item.id).correlate(Item).scalar_subquery()
    )
    give = dialect_insert(dialect, Backer).values(
        head_id=p("to"), person_id=p("person"), board_id=p("board"), weight=p("w")
    )
    return GroupStatements(
        insert_item=(
            insert(Item)
            .values(
                board_id=p("board"),
                number=p("number"),
                text=p("text"),
                status="new",
                requester_id=p("requester"),
                demand=p("demand"),
                created_at=p("at"),
                updated_at=p("at"),
            )
            .returning(Item.id)
        ),
        make_own_head=(
            update(Item)
            .where(Item.id == p("item"))
            .values(head_id=Item.id)
            .execution_options(synchronize_session=False)
        ),
        insert_vote=(
            dialect_insert(dialect, Vote)
            .values(
                board_id=p("board"), item_id=p("item"), person_id=p("person"), created_at=p("at")
            )
            .on_conflict_do_nothing(index_elements=["item_id", "person_id"])
            .returning(Vote.id)
        ),
        add_votes=(
            update(Item)
            .where(Item.id == p("item"))
            .values(votes=Item.votes + p("delta"))
            .returning(Item.votes)
            .execution_options(synchronize_session=False)
        ),
        join_group=(
            dialect_insert(dialect, Backer)
            .values(
                head_id=p("head"), person_id=p("person"), board_id=p("board"), weight=p("delta")
            )
            .on_conflict_do_update(
                index_elements=["head_id", "person_id"],
                set_={"weight": Backer.weight + p("delta2")},
            )
            .returning(Backer.weight)
        ),
        add_demand=(
            update(Item)
            .where(Item.id == p("head"))
            .values(demand=Item.demand + p("delta"))
            .returning(Item.demand)
            .execution_options(synchronize_session=False)
        ),
        take_backing=(
            update(Backer)
            .where(Backer.head_id == p("from"), Backer.person_id == p("person"))
            .values(weight=Backer.weight - p("w"))
        ),
        drop_empty_backings=Backer.__table__.delete().where(
            Backer.head_id == p("head"), Backer.weight <= 0
        ),
        give_backing=give.on_conflict_do_update(
            index_elements=["head_id", "person_id"],
            set_={"weight": Backer.weight + give.excluded.weight},
        ),
        demand_from_backers=(
            update(Item)
            .where(Item.id == p("head"))
            .values(demand=backers)
            .returning(Item.demand)
            .execution_options(synchronize_session=False)
        ),
    )
