"""The statements behind groups: votes, backers, demand and merge links.

Only ``bot.feedback.demand`` calls this repository: it holds the rules and says
when each statement runs; this module only knows how to run it. Queries that
read items are filtered on one board, like ``BoardRepository``'s; the ones under
"one person absorbing another" are person-wide, since a person's backings may
span boards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from storage.models import Backer, Item, MergeEvent, Vote
from storage.repositories import BoardScoped
from storage.statements import group_statements


class GroupRepository(BoardScoped):
    def __init__(self, session: Session, board_id: int) -> None:
        super().__init__(session, board_id)
        self._sql = group_statements(self.dialect)

    @property
    def needs_row_locks(self) -> bool:
        """SQLite transactions here take the write lock up front (BEGIN IMMEDIATE),
        so row locks only matter on PostgreSQL."""
        return self.session.get_bind().dialect.name != "sqlite"

    def _sync_loaded(self, item_id: int, attribute: str, value: object) -> None:
        """A counter changed by a Core statement: bring any loaded copy of the item in
        step without marking it dirty."""
        loaded = self.session.identity_map.get(identity_key(Item, item_id))
        if loaded is not None:
            set_committed_value(loaded, attribute, value)

    # -- locks ------------------------------------------------------------------

    def lock_heads(self, *head_ids: int) -> None:
        """Row-lock group heads, always in id order. ``FOR NO KEY UPDATE``: it does not
        conflict with the ``KEY SHARE`` locks that inserting votes and backers takes on
        the item rows they point at, so foreign keys add no waits of their own."""
        for head_id in sorted(set(head_ids)):
            self.session.execute(
                select(Item.id).where(Item.id == head_id).with_for_update(key_share=True)
            ).all()

    def lock_stable(self, heads: Callable[[], set[int]]) -> set[int]:
        """Lock the heads ``heads()`` names and return them, once what it names holds
        still with them locked. Between reading heads and locking them a merge or an
        unmerge may move an item: then the locks just taken are let go at once (the
        savepoint's rollback frees them) and it starts again, so a change never holds
        a lock out of order or works under a stale one."""
        wanted = heads()
        while True:
            savepoint = self.session.begin_nested()
            self.lock_heads(*wanted)
            current = heads()
            if current <= wanted:
                savepoint.commit()
                return current
            savepoint.rollback()
            wanted = current

    def number_of(self, item_id: int) -> int:
        return int(self.session.scalar(select(Item.number).where(Item.id == item_id)) or 0)

    def head_of(self, item_id: int) -> int:
        """The item's head as committed now (after a lock, the newest)."""
        head = self.session.scalar(
            select(Item.head_id).where(Item.id == item_id).execution_options(populate_existing=True)
        )
        return head or item_id

    def refresh(self, *items: Item) -> None:
        for item in items:
            self.session.refresh(item)

    # -- items --------------------------------------------------------------------

    def insert_item(
        self, number: int, text: str, requester_id: int, now: datetime, demand: int
    ) -> int:
        """A new item heading its own group."""
        item_id = self._core.scalar(
            self._sql.insert_item,
            {
                "board": self.board_id,
                "number": number,
                "text": text,
                "requester": requester_id,
                "demand": demand,
                "at": now,
            },
        )
        assert item_id is not None
        self._core.execute(self._sql.make_own_head, {"item": item_id})
        return int(item_id)

    def group(self, head_id: int) -> list[Item]:
        return list(
            self.session.scalars(
                select(Item)
                .where(Item.board_id == self.board_id, Item.head_id == head_id)
                .order_by(Item.number)
            )
        )

    def set_head(self, item_ids: Iterable[int], head_id: int) -> None:
        ids = list(item_ids)
        if ids:
            self.session.execute(
                update(Item)
                .where(Item.board_id == self.board_id, Item.id.in_(ids))
                .values(head_id=head_id)
            )

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

    # -- votes --------------------------------------------------------------------

    def insert_vote(self, item_id: int, person_id: int, now: datetime) -> bool:
        """True when the vote is new (one person, one vote per item)."""
        row = self._core.execute(
            self._sql.insert_vote,
            {"board": self.board_id, "item": item_id, "person": person_id, "at": now},
        ).first()
        return row is not None

    def delete_vote(self, item_id: int, person_id: int) -> bool:
        removed = self.session.execute(
            delete(Vote)
            .where(Vote.item_id == item_id, Vote.person_id == person_id)
            .returning(Vote.id)
        ).first()
        return removed is not None

    def add_votes(self, item_id: int, delta: int) -> None:
        votes = self._core.scalar(self._sql.add_votes, {"item": item_id, "delta": delta})
        self._sync_loaded(item_id, "votes", votes)

    def voters(self, item_ids: Iterable[int]) -> list[tuple[int, int]]:
        """(item_id, person_id) for every vote on these items."""
        ids = list(item_ids)
        if not ids:
            return []
        rows = self.session.execute(
            select(Vote.item_id, Vote.person_id).where(Vote.item_id.in_(ids)).order_by(Vote.id)
        )
        return [(item_id, person_id) for item_id, person_id in rows]

    # -- backers and demand -------------------------------------------------------------

    def backers(self, head_id: int) -> dict[int, int]:
        """person id -> weight, for everyone behind the group."""
        rows = self.session.execute(
            select(Backer.person_id, Backer.weight).where(Backer.head_id == head_id)
        )
        return {person: weight for person, weight in rows}

    def add_backing(self, head_id: int, person_id: int, delta: int) -> int:
        """Add ``delta`` to a person's weight behind a group; returns the new weight
        (0: the backing row is gone)."""
        if delta > 0:
            return int(
                self._core.scalar(
                    self._sql.join_group,
                    {
                        "head": head_id,
                        "person": person_id,
                        "board": self.board_id,
                        "delta": delta,
                        "delta2": delta,
                    },
                )
            )
        weight = self.session.scalar(
            update(Backer)
            .where(Backer.head_id == head_id, Backer.person_id == person_id)
            .values(weight=Backer.weight + delta)
            .returning(Backer.weight)
        )
        if weight is None or weight < 0:
            raise AssertionError(f"backers of group {head_id} out of step")
        if weight == 0:
            self.session.execute(
                delete(Backer).where(Backer.head_id == head_id, Backer.person_id == person_id)
            )
        return int(weight)

    def add_demand(self, head_id: int, delta: int) -> None:
        if delta:
            demand = self._core.scalar(self._sql.add_demand, {"head": head_id, "delta": delta})
            self._sync_loaded(head_id, "demand", demand)

    def move_backing(self, from_head: int, to_head: int, weights: Counter[int]) -> None:
        """Move ``weights`` from one group's backers to another's: three statements,
        whatever the group's size."""
        rows = [
            {"from": from_head, "to": to_head, "person": person, "w": w, "board": self.board_id}
            for person, w in weights.items()
            if w
        ]
        if rows:
            self._core.execute(self._sql.take_backing, rows)
            self._core.execute(self._sql.drop_empty_backings, {"head": from_head})
            self._core.execute(self._sql.give_backing, rows)

    def demand_from_backers(self, head_id: int) -> int:
        """Set a group's demand to its number of backers (an indexed count)."""
        demand = self._core.scalar(self._sql.demand_from_backers, {"head": head_id})
        self._sync_loaded(head_id, "demand", demand)
        return int(demand)

    # -- one person absorbing another (connect) -----------------------------------------

    def backings_of(self, person_id: int) -> list[Backer]:
        return list(self.session.scalars(select(Backer).where(Backer.person_id == person_id)))

    def groups_backed_by(self, *person_ids: int) -> list[int]:
        return list(
            self.session.scalars(
                select(Backer.head_id)
                .where(Backer.person_id.in_(person_ids))
                .distinct()
                .order_by(Backer.head_id)
            )
        )

    def backing(self, head_id: int, person_id: int) -> Backer | None:
        return self.session.get(Backer, (head_id, person_id))

    def transfer_backing(self, row: Backer, to_person: int) -> None:
        """Give a backing row to another person (who does not back that group)."""
        self.session.add(
            Backer(
                head_id=row.head_id, person_id=to_person, board_id=row.board_id, weight=row.weight
            )
        )
        self.session.delete(row)

    def drop_backing(self, row: Backer) -> None:
        self.session.delete(row)

    def shared_votes(self, keep_id: int, gone_id: int) -> list[Vote]:
        """Votes ``gone_id`` cast on items ``keep_id`` also voted on."""
        kept = select(Vote.item_id).where(Vote.person_id == keep_id)
        return list(
            self.session.scalars(
                select(Vote).where(Vote.person_id == gone_id, Vote.item_id.in_(kept))
            )
        )

    def drop_vote(self, vote: Vote) -> None:
        self.session.delete(vote)

    def hand_over_votes(self, gone_id: int, keep_id: int) -> None:
        self.session.execute(
            update(Vote).where(Vote.person_id == gone_id).values(person_id=keep_id)
        )

    def flush(self) -> None:
        self.session.flush()
