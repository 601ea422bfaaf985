"""Invariants of demand, checked on random histories (hypothesis).

Each example runs on a fresh board in the same database, so boards' isolation is
exercised too.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app import Lodestar
from bot.context import Caller
from bot.errors import UserError
from storage.models import Item, Vote, Workspace

PEOPLE = ["ana", "bo", "cy", "dee", "eli"]
_boards = itertools.count()

op = st.one_of(
    st.tuples(st.just("capture"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("vote"), st.sampled_from(PEOPLE), st.integers(1, 6)),
    st.tuples(st.just("unvote"), st.sampled_from(PEOPLE), st.integers(1, 6)),
    st.tuples(st.just("merge"), st.integers(1, 6), st.integers(1, 6)),
    st.tuples(st.just("unmerge"), st.integers(1, 6)),
)


def caller(workspace: str, name: str) -> Caller:
    return Caller("console", workspace, name, name, channel="general", is_platform_admin=True)


def play(app: Lodestar, workspace: str, step: tuple) -> None:
    """One step of a random history; refused steps (unknown numbers, bad merges)
    must change nothing, which the invariants then check."""
    try:
        match step:
            case ("capture", who):
                app.board.capture(caller(workspace, who), f"idea from {who}")
            case ("vote", who, n):
                app.board.vote(caller(workspace, who), n)
            case ("unvote", who, n):
                app.board.vote(caller(workspace, who), n, add=False)
            case ("merge", a, b):
                app.merges.merge(caller(workspace, "pm"), a, b)
            case ("unmerge", a):
                app.merges.unmerge(caller(workspace, "pm"), a)
    except UserError:
        pass


def group_state(app: Lodestar, workspace: str) -> dict[int, tuple[int, frozenset[str], int]]:
    """number -> (demand, voters, head number), read straight from the tables."""
    with app.db.uow() as uow:
        board = uow.session.scalar(
            select(Workspace.board_id).where(Workspace.external_id == workspace)
        )
        items = list(uow.session.scalars(select(Item).where(Item.board_id == board)))
        votes = uow.session.execute(
            select(Vote.item_id, Vote.person_id).where(Vote.board_id == board)
        ).all()
        names = uow.people.names({i.requester_id for i in items} | {p for _, p in votes})
    by_id = {i.id: i for i in items}
    voters: dict[int, set[str]] = defaultdict(set)
    for item_id, person in votes:
        voters[item_id].add(names[person])
    return {i.number: (i.demand, frozenset(voters[i.id]), by_id[i.head_id].number) for i in items}


def check_demand(app: Lodestar, workspace: str) -> None:
    """demand(head) == unique requesters and voters over the head's whole group."""
    with app.db.uow() as uow:
        board = uow.session.scalar(
            select(Workspace.board_id).where(Workspace.external_id == workspace)
        )
        items = list(uow.session.scalars(select(Item).where(Item.board_id == board)))
        votes = uow.session.execute(
            select(Vote.item_id, Vote.person_id).where(Vote.board_id == board)
        ).all()
    people: dict[int, set[int]] = defaultdict(set)
    by_id = {i.id: i for i in items}
    for item in items:
        # Follow merge links: the stored head must be where the chain ends.
        head = item
        while head.merged_into_id is not None:
            head = by_id[head.merged_into_id]
        assert item.head_id == head.id
        people[head.id].add(item.requester_id)
    for item_id, person in votes:
        people[by_id[item_id].head_id].add(person)
    cast: dict[int, int] = defaultdict(int)
    for item_id, _ in votes:
        cast[item_id] += 1
    for item in items:
        expected = len(people[item.id]) if item.merged_into_id is None else 0
        assert item.demand == expected, (item.number, item.demand, expected)
        assert item.votes == cast[item.id], (item.number, item.votes, cast[item.id])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=1, max_size=25))
def test_demand_is_always_the_unique_people_of_the_group(app: Lodestar, ops: list) -> None:
    workspace = f"prop{next(_boards)}"
    for step in ops:
        play(app, workspace, step)
        check_demand(app, workspace)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=st.lists(op, min_size=2, max_size=20),
    pair=st.tuples(st.integers(1, 6), st.integers(1, 6)),
)
def test_merge_then_unmerge_restores_every_item_exactly(
    app: Lodestar, ops: list, pair: tuple[int, int]
) -> None:
    workspace = f"undo{next(_boards)}"
    app.board.capture(caller(workspace, "ana"), "first")
    for step in ops:
        play(app, workspace, step)
    before = group_state(app, workspace)
    try:
        app.merges.merge(caller(workspace, "pm"), *pair)
    except UserError:
        assert group_state(app, workspace) == before  # a refused merge changes nothing
        return
    app.merges.unmerge(caller(workspace, "pm"), pair[0])
    assert group_state(app, workspace) == before
